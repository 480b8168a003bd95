-- calls: to, from, to_formatted, from_formatted, forwarded_from, caller_name: phone number or name; exported with --pseudonymize, the lowercase hex HMAC-SHA256 of the value under the operator's key (null and empty kept).
-- Needs an external stage twilio_export at s3://example-bucket/twilio/, e.g.
-- CREATE STAGE twilio_export URL = 's3://example-bucket/twilio/' STORAGE_INTEGRATION = <your integration>;
CREATE OR REPLACE EXTERNAL TABLE calls (
  "SID" VARCHAR AS (VALUE:"sid"::VARCHAR),
  "PARENT_CALL_SID" VARCHAR AS (VALUE:"parent_call_sid"::VARCHAR),
  "DATE_CREATED" TIMESTAMP_TZ AS (VALUE:"date_created"::TIMESTAMP_TZ),
  "DATE_UPDATED" TIMESTAMP_TZ AS (VALUE:"date_updated"::TIMESTAMP_TZ),
  "START_TIME" TIMESTAMP_TZ AS (VALUE:"start_time"::TIMESTAMP_TZ),
  "END_TIME" TIMESTAMP_TZ AS (VALUE:"end_time"::TIMESTAMP_TZ),
  "DURATION" NUMBER(38, 0) AS (VALUE:"duration"::NUMBER(38, 0)),
  "PRICE" NUMBER(PRECISION, SCALE) AS (VALUE:"price"::NUMBER(PRECISION, SCALE)),
  "PRICE_UNIT" VARCHAR AS (VALUE:"price_unit"::VARCHAR),
  "STATUS" VARCHAR AS (VALUE:"status"::VARCHAR),
  "DIRECTION" VARCHAR AS (VALUE:"direction"::VARCHAR),
  "ANSWERED_BY" VARCHAR AS (VALUE:"answered_by"::VARCHAR),
  "TO" VARCHAR AS (VALUE:"to"::VARCHAR),
  "FROM" VARCHAR AS (VALUE:"from"::VARCHAR),
  "TO_FORMATTED" VARCHAR AS (VALUE:"to_formatted"::VARCHAR),
  "FROM_FORMATTED" VARCHAR AS (VALUE:"from_formatted"::VARCHAR),
  "PHONE_NUMBER_SID" VARCHAR AS (VALUE:"phone_number_sid"::VARCHAR),
  "GROUP_SID" VARCHAR AS (VALUE:"group_sid"::VARCHAR),
  "TRUNK_SID" VARCHAR AS (VALUE:"trunk_sid"::VARCHAR),
  "FORWARDED_FROM" VARCHAR AS (VALUE:"forwarded_from"::VARCHAR),
  "CALLER_NAME" VARCHAR AS (VALUE:"caller_name"::VARCHAR),
  "QUEUE_TIME" NUMBER(38, 0) AS (VALUE:"queue_time"::NUMBER(38, 0)),
  "API_VERSION" VARCHAR AS (VALUE:"api_version"::VARCHAR),
  "URI" VARCHAR AS (VALUE:"uri"::VARCHAR),
  "SUBRESOURCE_URIS" VARIANT AS (PARSE_JSON(VALUE:"subresource_uris"::VARCHAR)),
  "EXTRA" VARIANT AS (PARSE_JSON(VALUE:"extra"::VARCHAR)),
  "ACCOUNT_SID" VARCHAR AS (SPLIT_PART(SPLIT_PART(METADATA$FILENAME, 'account_sid=', 2), '/', 1)),
  "DATE" DATE AS (TO_DATE(SPLIT_PART(SPLIT_PART(METADATA$FILENAME, '/date=', 2), '/', 1), 'YYYY-MM-DD'))
)
PARTITION BY ("ACCOUNT_SID", "DATE")
LOCATION = @twilio_export/calls/
AUTO_REFRESH = FALSE
FILE_FORMAT = (TYPE = PARQUET);
