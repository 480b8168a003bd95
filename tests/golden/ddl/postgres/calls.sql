-- calls: to, from, to_formatted, from_formatted, forwarded_from, caller_name: phone number or name; exported with --pseudonymize, the lowercase hex HMAC-SHA256 of the value under the operator's key (null and empty kept).
-- calls: load the rows of s3://example-bucket/twilio/calls/account_sid=*/date=*/part-0.parquet, with
-- "date" taken from the path (e.g. DuckDB: schema --format duckdb, then COPY to CSV).
CREATE TABLE calls (
  "sid" text NOT NULL,
  "account_sid" text,
  "parent_call_sid" text,
  "date_created" timestamp with time zone,
  "date_updated" timestamp with time zone,
  "start_time" timestamp with time zone,
  "end_time" timestamp with time zone,
  "duration" bigint,
  "price" numeric(PRECISION, SCALE),
  "price_unit" text,
  "status" text,
  "direction" text,
  "answered_by" text,
  "to" text,
  "from" text,
  "to_formatted" text,
  "from_formatted" text,
  "phone_number_sid" text,
  "group_sid" text,
  "trunk_sid" text,
  "forwarded_from" text,
  "caller_name" text,
  "queue_time" bigint,
  "api_version" text,
  "uri" text,
  "subresource_uris" jsonb,
  "extra" jsonb,
  "date" date NOT NULL
);
