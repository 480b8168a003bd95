//! `schema`: print the exported schemas as the `schemas/` contract (JSON), Arrow, or the DDL of
//! a warehouse (`batch::ddl`).

use std::str::FromStr;

use anyhow::Context;

use super::Exit;
use crate::batch::ddl::{self, Engine, Location};
use crate::batch::schema::{arrow_schema, contract_json};
use crate::cli::SchemaArgs;
use crate::config::Config;
use crate::domain::Resource;

/// What `--format` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaFormat {
    Json,
    Arrow,
    Ddl(Engine),
}

/// A `--format` that is none of the formats (clap's message quotes the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected json, arrow, sql, duckdb, bigquery, snowflake, postgres or spark")]
pub struct UnknownFormat;

impl FromStr for SchemaFormat {
    type Err = UnknownFormat;
    fn from_str(value: &str) -> Result<Self, UnknownFormat> {
        Ok(match value {
            "json" => Self::Json,
            "arrow" => Self::Arrow,
            // `sql` predates the warehouse formats: the plain table is Postgres's.
            "sql" => Self::Ddl(Engine::Postgres),
            other => match other.parse() {
                Ok(engine) => Self::Ddl(engine),
                Err(_) => return Err(UnknownFormat),
            },
        })
    }
}

pub fn run(config: &Config, args: SchemaArgs) -> anyhow::Result<Exit> {
    let format = args.format;
    let resources: Vec<Resource> = match args.resource {
        Some(r) => vec![r],
        None => Resource::ALL.to_vec(),
    };
    let location = match &args.location {
        Some(l) => Location::parse(l).with_context(|| format!("--location: {l:?}"))?,
        None => Location::parse(&config.output.to_string())
            .with_context(|| format!("--output: {} as a location", config.output))?,
    };
    for (i, r) in resources.into_iter().enumerate() {
        match format {
            SchemaFormat::Json => println!("{}", serde_json::to_string_pretty(&contract_json(r))?),
            SchemaFormat::Arrow => print_arrow(r),
            SchemaFormat::Ddl(engine) => {
                if i > 0 {
                    println!();
                }
                print!("{}", ddl::ddl(engine, r, &location));
            }
        }
    }
    Ok(Exit::Success)
}

fn print_arrow(r: Resource) {
    println!("{}:", r.table_name());
    for f in arrow_schema(r).fields() {
        let pii = f
            .metadata()
            .contains_key("pii")
            .then_some("  # pii: pseudonymized with --pseudonymize");
        println!(
            "  {}: {}{}{}",
            f.name(),
            f.data_type(),
            if f.is_nullable() { "" } else { " not null" },
            pii.unwrap_or_default()
        );
    }
}
