-- calls: to, from, to_formatted, from_formatted, forwarded_from, caller_name: phone number or name; exported with --pseudonymize, the lowercase hex HMAC-SHA256 of the value under the operator's key (null and empty kept).
-- calls: every file under s3://example-bucket/twilio/calls/, read in place.
CREATE OR REPLACE VIEW calls AS
SELECT
  CAST("sid" AS VARCHAR) AS "sid",
  CAST("account_sid" AS VARCHAR) AS "account_sid",
  CAST("parent_call_sid" AS VARCHAR) AS "parent_call_sid",
  CAST("date_created" AS TIMESTAMP WITH TIME ZONE) AS "date_created",
  CAST("date_updated" AS TIMESTAMP WITH TIME ZONE) AS "date_updated",
  CAST("start_time" AS TIMESTAMP WITH TIME ZONE) AS "start_time",
  CAST("end_time" AS TIMESTAMP WITH TIME ZONE) AS "end_time",
  CAST("duration" AS BIGINT) AS "duration",
  CAST("price" AS DECIMAL(PRECISION, SCALE)) AS "price",
  CAST("price_unit" AS VARCHAR) AS "price_unit",
  CAST("status" AS VARCHAR) AS "status",
  CAST("direction" AS VARCHAR) AS "direction",
  CAST("answered_by" AS VARCHAR) AS "answered_by",
  CAST("to" AS VARCHAR) AS "to",
  CAST("from" AS VARCHAR) AS "from",
  CAST("to_formatted" AS VARCHAR) AS "to_formatted",
  CAST("from_formatted" AS VARCHAR) AS "from_formatted",
  CAST("phone_number_sid" AS VARCHAR) AS "phone_number_sid",
  CAST("group_sid" AS VARCHAR) AS "group_sid",
  CAST("trunk_sid" AS VARCHAR) AS "trunk_sid",
  CAST("forwarded_from" AS VARCHAR) AS "forwarded_from",
  CAST("caller_name" AS VARCHAR) AS "caller_name",
  CAST("queue_time" AS BIGINT) AS "queue_time",
  CAST("api_version" AS VARCHAR) AS "api_version",
  CAST("uri" AS VARCHAR) AS "uri",
  CAST("subresource_uris" AS JSON) AS "subresource_uris",
  CAST("extra" AS JSON) AS "extra",
  "date"
FROM read_parquet(
  's3://example-bucket/twilio/calls/*/*/*.parquet',
  hive_partitioning = true,
  hive_types = {'account_sid': VARCHAR, 'date': DATE}
);
