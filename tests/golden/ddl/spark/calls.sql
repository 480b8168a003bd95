-- calls: to, from, to_formatted, from_formatted, forwarded_from, caller_name: phone number or name; exported with --pseudonymize, the lowercase hex HMAC-SHA256 of the value under the operator's key (null and empty kept).
CREATE TABLE IF NOT EXISTS calls (
  `sid` STRING,
  `parent_call_sid` STRING,
  `date_created` TIMESTAMP,
  `date_updated` TIMESTAMP,
  `start_time` TIMESTAMP,
  `end_time` TIMESTAMP,
  `duration` BIGINT,
  `price` DECIMAL(PRECISION, SCALE),
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
  `queue_time` BIGINT,
  `api_version` STRING,
  `uri` STRING,
  `subresource_uris` STRING,
  `extra` STRING,
  `account_sid` STRING,
  `date` DATE
)
USING parquet
PARTITIONED BY (`account_sid`, `date`)
LOCATION 's3://example-bucket/twilio/calls';
-- Registers the partitions present now; run it again after each export.
MSCK REPAIR TABLE calls;
