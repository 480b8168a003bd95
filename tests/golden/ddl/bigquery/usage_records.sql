-- usage_records: needs a dataset named twilio_export; JSON columns are STRING (PARSE_JSON reads them).
CREATE OR REPLACE EXTERNAL TABLE twilio_export.usage_records (
  `api_version` STRING,
  `category` STRING,
  `description` STRING,
  `start_date` DATE,
  `end_date` DATE,
  `as_of` TIMESTAMP,
  `count` BIGNUMERIC,
  `count_unit` STRING,
  `usage` BIGNUMERIC,
  `usage_unit` STRING,
  `price` BIGNUMERIC,
  `price_unit` STRING,
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
  uris = ['gs://example-bucket/twilio/usage_records/*'],
  hive_partition_uri_prefix = 'gs://example-bucket/twilio/usage_records'
);
