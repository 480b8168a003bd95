//! Commands that show what there is: `status` and `schema`.

use super::parse::resource;
use super::{DatabaseOptions, JobsOptions, JsonFlag, OutputOptions};
use crate::commands::schema::SchemaFormat;
use crate::domain::Resource;

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub flag: JsonFlag,
    #[command(flatten)]
    pub database: DatabaseOptions,
    #[command(flatten)]
    pub jobs_dir: JobsOptions,
}

#[derive(clap::Args, Debug)]
pub struct SchemaArgs {
    /// calls or usage-records (default: both)
    #[arg(long, value_parser = resource)]
    pub resource: Option<Resource>,
    /// json (the schemas/ contract), arrow, or the DDL that lets a warehouse read the export:
    /// duckdb, bigquery, snowflake, spark (in place, hive-partitioned) or postgres (a table to
    /// load into; sql is the same)
    #[arg(long, default_value = "json")]
    pub format: SchemaFormat,
    /// Where the DDL finds the export's root: s3://bucket/prefix, gs://…, a directory, or for
    /// snowflake a stage (@stage/prefix) [default: --output]
    #[arg(long, value_name = "URL")]
    pub location: Option<String>,
    #[command(flatten)]
    pub output: OutputOptions,
}
