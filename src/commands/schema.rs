//! `schema`: print the exported schemas as the `schemas/` contract (JSON), Arrow, or the DDL of
//! a warehouse (`batch::ddl`).

use anyhow::{bail, Context};

use super::Exit;
use crate::batch::ddl::{self, Engine, Location};
use crate::batch::schema::{arrow_schema, contract_json};
use crate::cli::SchemaArgs;
use crate::config::Config;
use crate::domain::Resource;

/// What `--format` asks for.
enum Format {
    Json,
    Arrow,
    Ddl(Engine),
}

fn parse_format(value: &str) -> anyhow::Result<Format> {
    Ok(match value {
        "json" => Format::Json,
        "arrow" => Format::Arrow,
        // `sql` predates the warehouse formats: the plain table is Postgres's.
        "sql" => Format::Ddl(Engine::Postgres),
        other => match other.parse() {
            Ok(engine) => Format::Ddl(engine),
            Err(_) => bail!(
                "--format: {other:?} is not json, arrow, sql, duckdb, bigquery, snowflake, postgres or spark"
            ),
        },
    })
}

pub fn run(config: &Config, args: SchemaArgs) -> anyhow::Result<Exit> {
    let format = parse_format(&args.format)?;
    let resources: Vec<Resource> = match &args.resource {
        Some(r) => vec![r
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--resource: {e}"))?],
        None => Resource::ALL.to_vec(),
    };
    let location = match &args.location {
        Some(l) => Location::parse(l).with_context(|| format!("--location: {l:?}"))?,
        None => Location::parse(&config.output.to_string())
            .with_context(|| format!("--output: {} as a location", config.output))?,
    };
    for (i, r) in resources.into_iter().enumerate() {
        match format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&contract_json(r))?),
            Format::Arrow => print_arrow(r),
            Format::Ddl(engine) => {
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
        println!(
            "  {}: {}{}",
            f.name(),
            f.data_type(),
            if f.is_nullable() { "" } else { " not null" }
        );
    }
}
