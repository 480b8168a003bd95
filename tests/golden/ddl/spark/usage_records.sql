CREATE TABLE IF NOT EXISTS usage_records (
  `api_version` STRING,
  `category` STRING,
  `description` STRING,
  `start_date` DATE,
  `end_date` DATE,
  `as_of` TIMESTAMP,
  `count` DECIMAL(PRECISION, SCALE),
  `count_unit` STRING,
  `usage` DECIMAL(PRECISION, SCALE),
  `usage_unit` STRING,
  `price` DECIMAL(PRECISION, SCALE),
  `price_unit` STRING,
  `uri` STRING,
  `subresource_uris` STRING,
  `extra` STRING,
  `account_sid` STRING,
  `date` DATE
)
USING parquet
PARTITIONED BY (`account_sid`, `date`)
LOCATION 's3://example-bucket/twilio/usage_records';
-- Registers the partitions present now; run it again after each export.
MSCK REPAIR TABLE usage_records;
