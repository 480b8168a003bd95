//! Warehouse DDL over the hive layout, derived from the column lists (the same declarations
//! `schemas/*.json` is checked against): one generator per engine.
//!
//! The files live at `{location}/{table}/account_sid={AC…}/date={YYYY-MM-DD}/part-0.parquet`.
//! Engines that read them in place (DuckDB, BigQuery, Snowflake, Spark) get the two hive
//! partition columns, `account_sid` (string) and `date` (date), from the path. The files also
//! carry an `account_sid` column with the same value; the path's wins (DuckDB does so by
//! itself, the others declare `account_sid` only as a partition column, as BigQuery requires).
//! Postgres cannot read Parquet: it gets a table to load into, with `date` as a last column.
//!
//! Identifiers are always quoted (`from`, `to` and `date` are reserved words somewhere); in
//! Snowflake they are quoted in upper case, the name an unquoted identifier resolves to.

use std::fmt::Write as _;
use std::str::FromStr;

use super::schema::{Column, Kind};
use crate::decode::value::{DECIMAL_PRECISION, DECIMAL_SCALE};
use crate::domain::Resource;

/// A warehouse the DDL is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    DuckDb,
    BigQuery,
    Snowflake,
    Postgres,
    Spark,
}

impl Engine {
    pub const ALL: [Engine; 5] = [
        Engine::DuckDb,
        Engine::BigQuery,
        Engine::Snowflake,
        Engine::Postgres,
        Engine::Spark,
    ];

    /// The `--format` value.
    pub fn name(self) -> &'static str {
        match self {
            Engine::DuckDb => "duckdb",
            Engine::BigQuery => "bigquery",
            Engine::Snowflake => "snowflake",
            Engine::Postgres => "postgres",
            Engine::Spark => "spark",
        }
    }
}

/// Not one of [`Engine::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a warehouse (duckdb, bigquery, snowflake, postgres or spark)")]
pub struct UnknownEngine(String);

impl FromStr for Engine {
    type Err = UnknownEngine;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Engine::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| UnknownEngine(s.to_owned()))
    }
}

/// Where the export's root is, as the engine names it (`s3://bucket/prefix`, `gs://…`, a
/// directory, or for Snowflake a stage, `@stage/prefix`); no trailing slash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location(String);

/// A location that cannot be put into a SQL string literal as is.
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    #[error("the location is empty")]
    Empty,
    #[error("the location contains a quote, a backslash or a control character")]
    Unquotable,
}

impl Location {
    pub fn parse(value: &str) -> Result<Self, LocationError> {
        let trimmed = value.trim_end_matches('/');
        if trimmed.is_empty() {
            return Err(LocationError::Empty);
        }
        if trimmed
            .chars()
            .any(|c| c == '\'' || c == '\\' || c.is_control())
        {
            return Err(LocationError::Unquotable);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The DDL for one resource on one engine, ending in a newline.
pub fn ddl(engine: Engine, resource: Resource, location: &Location) -> String {
    let table = resource.table_name();
    let columns = super::columns(resource);
    let ddl = match engine {
        Engine::DuckDb => duckdb(table, columns, location),
        Engine::BigQuery => bigquery(table, columns, location),
        Engine::Snowflake => snowflake(table, columns, location),
        Engine::Postgres => postgres(table, columns, location),
        Engine::Spark => spark(table, columns, location),
    };
    pii_comment(table, columns) + &ddl
}

/// A comment naming the columns that may hold pseudonyms, or nothing.
fn pii_comment(table: &str, columns: &[Column]) -> String {
    let marked: Vec<&str> = columns
        .iter()
        .filter(|c| c.pseudonymized)
        .map(|c| c.name)
        .collect();
    if marked.is_empty() {
        return String::new();
    }
    format!(
        "-- {table}: {}: {}.\n",
        marked.join(", "),
        super::schema::PII_MARK
    )
}

/// The name of the hive partition column that the files also carry.
const ACCOUNT_SID: &str = "account_sid";
/// The name of the partition day column.
const DATE: &str = "date";

/// The file columns that are not hive partition columns.
fn data_columns(columns: &[Column]) -> impl Iterator<Item = &Column> {
    columns.iter().filter(|c| c.name != ACCOUNT_SID)
}

/// `decimal(P,S)` with the exported precision and scale.
fn decimal() -> String {
    format!("({DECIMAL_PRECISION}, {DECIMAL_SCALE})")
}

fn duckdb_type(kind: Kind) -> String {
    match kind {
        Kind::Text => "VARCHAR".into(),
        Kind::Json => "JSON".into(),
        Kind::Int64 => "BIGINT".into(),
        Kind::Decimal => format!("DECIMAL{}", decimal()),
        Kind::Timestamp => "TIMESTAMP WITH TIME ZONE".into(),
        Kind::Date => "DATE".into(),
    }
}

/// A view over `read_parquet` with hive partitioning; every column cast to its declared type.
fn duckdb(table: &str, columns: &[Column], location: &Location) -> String {
    let mut select: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "  CAST(\"{0}\" AS {1}) AS \"{0}\"",
                c.name,
                duckdb_type(c.kind)
            )
        })
        .collect();
    select.push(format!("  \"{DATE}\""));
    format!(
        "-- {table}: every file under {loc}/{table}/, read in place.\n\
         CREATE OR REPLACE VIEW {table} AS\nSELECT\n{}\nFROM read_parquet(\n  \
         '{loc}/{table}/*/*/*.parquet',\n  hive_partitioning = true,\n  \
         hive_types = {{'{ACCOUNT_SID}': VARCHAR, '{DATE}': DATE}}\n);\n",
        select.join(",\n"),
        loc = location.as_str(),
    )
}

fn bigquery_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Text | Kind::Json => "STRING",
        Kind::Int64 => "INT64",
        // NUMERIC holds at most 9 digits after the point and 29 before it.
        Kind::Decimal if DECIMAL_SCALE <= 9 && DECIMAL_PRECISION as i8 - DECIMAL_SCALE <= 29 => {
            "NUMERIC"
        }
        Kind::Decimal => "BIGNUMERIC",
        Kind::Timestamp => "TIMESTAMP",
        Kind::Date => "DATE",
    }
}

/// An external table with hive partitioning options.
fn bigquery(table: &str, columns: &[Column], location: &Location) -> String {
    let cols: Vec<String> = data_columns(columns)
        .map(|c| format!("  `{}` {}", c.name, bigquery_type(c.kind)))
        .collect();
    format!(
        "-- {table}: needs a dataset named twilio_export; JSON columns are STRING (PARSE_JSON reads them).\n\
         CREATE OR REPLACE EXTERNAL TABLE twilio_export.{table} (\n{}\n)\n\
         WITH PARTITION COLUMNS (\n  `{ACCOUNT_SID}` STRING,\n  `{DATE}` DATE\n)\n\
         OPTIONS (\n  format = 'PARQUET',\n  uris = ['{loc}/{table}/*'],\n  \
         hive_partition_uri_prefix = '{loc}/{table}'\n);\n",
        cols.join(",\n"),
        loc = location.as_str(),
    )
}

fn snowflake_type(kind: Kind) -> String {
    match kind {
        Kind::Text => "VARCHAR".into(),
        Kind::Json => "VARIANT".into(),
        Kind::Int64 => "NUMBER(38, 0)".into(),
        Kind::Decimal => format!("NUMBER{}", decimal()),
        Kind::Timestamp => "TIMESTAMP_TZ".into(),
        Kind::Date => "DATE".into(),
    }
}

/// The expression that reads a file column out of the row's `VALUE`.
fn snowflake_value(c: &Column) -> String {
    match c.kind {
        Kind::Json => format!("PARSE_JSON(VALUE:\"{}\"::VARCHAR)", c.name),
        kind => format!("VALUE:\"{}\"::{}", c.name, snowflake_type(kind)),
    }
}

/// An external table over a stage; the partition columns are parsed out of the file name.
fn snowflake(table: &str, columns: &[Column], location: &Location) -> String {
    let (stage, setup) = match location.as_str() {
        s if s.starts_with('@') => (s.to_owned(), String::new()),
        url => (
            "@twilio_export".to_owned(),
            format!(
                "-- Needs an external stage twilio_export at {url}/, e.g.\n\
                 -- CREATE STAGE twilio_export URL = '{url}/' STORAGE_INTEGRATION = <your integration>;\n"
            ),
        ),
    };
    let mut cols = String::new();
    for c in data_columns(columns) {
        let name = c.name.to_uppercase();
        let ty = snowflake_type(c.kind);
        let _ = writeln!(cols, "  \"{name}\" {ty} AS ({}),", snowflake_value(c));
    }
    let part = |key: &str| format!("SPLIT_PART(SPLIT_PART(METADATA$FILENAME, '{key}', 2), '/', 1)");
    format!(
        "{setup}CREATE OR REPLACE EXTERNAL TABLE {table} (\n{cols}  \
         \"ACCOUNT_SID\" VARCHAR AS ({}),\n  \
         \"DATE\" DATE AS (TO_DATE({}, 'YYYY-MM-DD'))\n)\n\
         PARTITION BY (\"ACCOUNT_SID\", \"DATE\")\n\
         LOCATION = {stage}/{table}/\n\
         AUTO_REFRESH = FALSE\n\
         FILE_FORMAT = (TYPE = PARQUET);\n",
        part("account_sid="),
        part("/date="),
    )
}

fn postgres_type(kind: Kind) -> String {
    match kind {
        Kind::Text => "text".into(),
        Kind::Json => "jsonb".into(),
        Kind::Int64 => "bigint".into(),
        Kind::Decimal => format!("numeric{}", decimal()),
        Kind::Timestamp => "timestamp with time zone".into(),
        Kind::Date => "date".into(),
    }
}

/// A table to load the files into; `date` is the partition day from the path.
fn postgres(table: &str, columns: &[Column], location: &Location) -> String {
    let mut cols: Vec<String> = columns
        .iter()
        .map(|c| {
            let not_null = if c.nullable { "" } else { " NOT NULL" };
            format!("  \"{}\" {}{not_null}", c.name, postgres_type(c.kind))
        })
        .collect();
    cols.push(format!("  \"{DATE}\" date NOT NULL"));
    format!(
        "-- {table}: load the rows of {loc}/{table}/account_sid=*/date=*/part-0.parquet, with\n\
         -- \"{DATE}\" taken from the path (e.g. DuckDB: schema --format duckdb, then COPY to CSV).\n\
         CREATE TABLE {table} (\n{}\n);\n",
        cols.join(",\n"),
        loc = location.as_str(),
    )
}

fn spark_type(kind: Kind) -> String {
    match kind {
        Kind::Text | Kind::Json => "STRING".into(),
        Kind::Int64 => "BIGINT".into(),
        Kind::Decimal => format!("DECIMAL{}", decimal()),
        Kind::Timestamp => "TIMESTAMP".into(),
        Kind::Date => "DATE".into(),
    }
}

/// A Parquet table partitioned like the files, whose partitions are then discovered.
fn spark(table: &str, columns: &[Column], location: &Location) -> String {
    let mut cols: Vec<String> = data_columns(columns)
        .map(|c| format!("  `{}` {}", c.name, spark_type(c.kind)))
        .collect();
    cols.push(format!("  `{ACCOUNT_SID}` STRING"));
    cols.push(format!("  `{DATE}` DATE"));
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (\n{}\n)\n\
         USING parquet\n\
         PARTITIONED BY (`{ACCOUNT_SID}`, `{DATE}`)\n\
         LOCATION '{loc}/{table}';\n\
         -- Registers the partitions present now; run it again after each export.\n\
         MSCK REPAIR TABLE {table};\n",
        cols.join(",\n"),
        loc = location.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_parse_by_name_and_others_are_refused() {
        for e in Engine::ALL {
            assert_eq!(e.name().parse::<Engine>().unwrap(), e);
        }
        let err = "oracle".parse::<Engine>().unwrap_err().to_string();
        assert!(
            err.contains("duckdb, bigquery, snowflake, postgres or spark"),
            "{err}"
        );
    }

    #[test]
    fn locations_lose_trailing_slashes_and_refuse_quotes() {
        assert_eq!(Location::parse("s3://b/p/").unwrap().as_str(), "s3://b/p");
        assert!(matches!(Location::parse("/"), Err(LocationError::Empty)));
        assert!(matches!(
            Location::parse("s3://b/it's"),
            Err(LocationError::Unquotable)
        ));
    }
}
