-- usage_records: every file under s3://example-bucket/twilio/usage_records/, read in place.
CREATE OR REPLACE VIEW usage_records AS
SELECT
  CAST("account_sid" AS VARCHAR) AS "account_sid",
  CAST("api_version" AS VARCHAR) AS "api_version",
  CAST("category" AS VARCHAR) AS "category",
  CAST("description" AS VARCHAR) AS "description",
  CAST("start_date" AS DATE) AS "start_date",
  CAST("end_date" AS DATE) AS "end_date",
  CAST("as_of" AS TIMESTAMP WITH TIME ZONE) AS "as_of",
  CAST("count" AS DECIMAL(PRECISION, SCALE)) AS "count",
  CAST("count_unit" AS VARCHAR) AS "count_unit",
  CAST("usage" AS DECIMAL(PRECISION, SCALE)) AS "usage",
  CAST("usage_unit" AS VARCHAR) AS "usage_unit",
  CAST("price" AS DECIMAL(PRECISION, SCALE)) AS "price",
  CAST("price_unit" AS VARCHAR) AS "price_unit",
  CAST("uri" AS VARCHAR) AS "uri",
  CAST("subresource_uris" AS JSON) AS "subresource_uris",
  CAST("extra" AS JSON) AS "extra",
  "date"
FROM read_parquet(
  's3://example-bucket/twilio/usage_records/*/*/*.parquet',
  hive_partitioning = true,
  hive_types = {'account_sid': VARCHAR, 'date': DATE}
);
