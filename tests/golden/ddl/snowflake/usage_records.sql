-- Needs an external stage twilio_export at s3://example-bucket/twilio/, e.g.
-- CREATE STAGE twilio_export URL = 's3://example-bucket/twilio/' STORAGE_INTEGRATION = <your integration>;
CREATE OR REPLACE EXTERNAL TABLE usage_records (
  "API_VERSION" VARCHAR AS (VALUE:"api_version"::VARCHAR),
  "CATEGORY" VARCHAR AS (VALUE:"category"::VARCHAR),
  "DESCRIPTION" VARCHAR AS (VALUE:"description"::VARCHAR),
  "START_DATE" DATE AS (VALUE:"start_date"::DATE),
  "END_DATE" DATE AS (VALUE:"end_date"::DATE),
  "AS_OF" TIMESTAMP_TZ AS (VALUE:"as_of"::TIMESTAMP_TZ),
  "COUNT" NUMBER(38, 12) AS (VALUE:"count"::NUMBER(38, 12)),
  "COUNT_UNIT" VARCHAR AS (VALUE:"count_unit"::VARCHAR),
  "USAGE" NUMBER(38, 12) AS (VALUE:"usage"::NUMBER(38, 12)),
  "USAGE_UNIT" VARCHAR AS (VALUE:"usage_unit"::VARCHAR),
  "PRICE" NUMBER(38, 12) AS (VALUE:"price"::NUMBER(38, 12)),
  "PRICE_UNIT" VARCHAR AS (VALUE:"price_unit"::VARCHAR),
  "URI" VARCHAR AS (VALUE:"uri"::VARCHAR),
  "SUBRESOURCE_URIS" VARIANT AS (PARSE_JSON(VALUE:"subresource_uris"::VARCHAR)),
  "EXTRA" VARIANT AS (PARSE_JSON(VALUE:"extra"::VARCHAR)),
  "ACCOUNT_SID" VARCHAR AS (SPLIT_PART(SPLIT_PART(METADATA$FILENAME, 'account_sid=', 2), '/', 1)),
  "DATE" DATE AS (TO_DATE(SPLIT_PART(SPLIT_PART(METADATA$FILENAME, '/date=', 2), '/', 1), 'YYYY-MM-DD'))
)
PARTITION BY ("ACCOUNT_SID", "DATE")
LOCATION = @twilio_export/usage_records/
AUTO_REFRESH = FALSE
FILE_FORMAT = (TYPE = PARQUET);
