-- usage_records: load the rows of s3://example-bucket/twilio/usage_records/account_sid=*/date=*/part-0.parquet, with
-- "date" taken from the path (e.g. DuckDB: schema --format duckdb, then COPY to CSV).
CREATE TABLE usage_records (
  "account_sid" text,
  "api_version" text,
  "category" text NOT NULL,
  "description" text,
  "start_date" date,
  "end_date" date,
  "as_of" timestamp with time zone,
  "count" numeric(PRECISION, SCALE),
  "count_unit" text,
  "usage" numeric(PRECISION, SCALE),
  "usage_unit" text,
  "price" numeric(PRECISION, SCALE),
  "price_unit" text,
  "uri" text,
  "subresource_uris" jsonb,
  "extra" jsonb,
  "date" date NOT NULL
);
