-- calls: to, from, to_formatted, from_formatted, forwarded_from, caller_name: phone number or name; exported with --pseudonymize, the lowercase hex HMAC-SHA256 of the value under the operator's key (null and empty kept).
-- calls: needs a dataset named twilio_export; JSON columns are STRING (PARSE_JSON reads them).
CREATE OR REPLACE EXTERNAL TABLE twilio_export.calls (
  `sid` STRING,
  `parent_call_sid` STRING,
  `date_created` TIMESTAMP,
  `date_updated` TIMESTAMP,
  `start_time` TIMESTAMP,
  `end_time` TIMESTAMP,
  `duration` INT64,
  `price` BIGNUMERIC,
  `price_unit` STRING,
  `status` STRING,
  `direction` STRING,
  `answered_by` STRING,
  `to` STRING,
  `from` STRING,
  `to_formatted` STRING,
  `from_formatted` STRING,
  `phone_number_sid` STRING,
  `group_sid` STRING,
  `trunk_sid` STRING,
  `forwarded_from` STRING,
  `caller_name` STRING,
  `queue_time` INT64,
  `api_version` STRING,
  `uri` STRING,
  `subresource_uris` STRING,
  `extra` STRING
)
WITH PARTITION COLUMNS (
  `account_sid` STRING,
  `date` DATE
)
OPTIONS (
  format = 'PARQUET',
  uris = ['gs://example-bucket/twilio/calls/*'],
  hive_partition_uri_prefix = 'gs://example-bucket/twilio/calls'
);
