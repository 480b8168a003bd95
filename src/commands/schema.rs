//! `schema`: print the exported schemas as the `schemas/` contract (JSON), Arrow, or SQL DDL.

use anyhow::bail;

use super::Exit;
use crate::batch::schema::{arrow_schema, contract_json, sql_ddl};
use crate::cli::SchemaArgs;
use crate::domain::Resource;

pub fn run(args: SchemaArgs) -> anyhow::Result<Exit> {
    let resources: Vec<Resource> = match &args.resource {
        Some(r) => vec![r
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--resource: {e}"))?],
        None => Resource::ALL.to_vec(),
    };
    for r in resources {
        match args.format.as_str() {
            "json" => println!("{}", serde_json::to_string_pretty(&contract_json(r))?),
            "arrow" => {
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
            "sql" => print!("{}", sql_ddl(r)),
            other => bail!("--format: {other:?} is not json, arrow or sql"),
        }
    }
    Ok(Exit::Success)
}
