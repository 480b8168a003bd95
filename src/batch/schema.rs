//! Column declarations and what is derived from them: the Arrow schema, the `schemas/*.json`
//! contract (the warehouse DDL is in `super::ddl`).

use std::collections::HashMap;

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use serde_json::json;

use crate::decode::value::{DECIMAL_PRECISION, DECIMAL_SCALE};
use crate::domain::Resource;

/// The kinds of exported column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 text.
    Text,
    /// A whole number.
    Int64,
    /// An exact decimal, `decimal(38,18)`.
    Decimal,
    /// A UTC instant in microseconds.
    Timestamp,
    /// A calendar date.
    Date,
    /// A JSON document kept as text.
    Json,
}

impl Kind {
    pub fn data_type(self) -> DataType {
        match self {
            Kind::Text | Kind::Json => DataType::Utf8,
            Kind::Int64 => DataType::Int64,
            Kind::Decimal => DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::Date => DataType::Date32,
        }
    }

    /// The name in `schemas/*.json`.
    pub fn contract_name(self) -> String {
        match self {
            Kind::Text => "string".into(),
            Kind::Json => "json".into(),
            Kind::Int64 => "int64".into(),
            Kind::Decimal => format!("decimal({DECIMAL_PRECISION},{DECIMAL_SCALE})"),
            Kind::Timestamp => "timestamp[us, UTC]".into(),
            Kind::Date => "date".into(),
        }
    }
}

/// One exported column.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
    pub doc: &'static str,
    /// Carries a phone number or a name: written as a pseudonym under `--pseudonymize`
    /// (`crate::pseudonym`).
    pub pseudonymized: bool,
}

/// How `schemas/*.json`, the Arrow field metadata (key `pii`) and the DDL mark a column that
/// [`Column::pseudonymized`].
pub const PII_MARK: &str = "phone number or name; exported with --pseudonymize, the lowercase hex HMAC-SHA256 of the value under the operator's key (null and empty kept)";

/// The last column of every resource: what the API sent beyond the declared fields.
pub const EXTRA: Column = Column {
    name: "extra",
    kind: Kind::Json,
    nullable: true,
    pseudonymized: false,
    doc: "Fields the API sent that this version does not know, as a JSON object; null when there were none.",
};

/// The Arrow schema written to Parquet; each field carries its doc as `description` metadata,
/// and those that may be pseudonymized [`PII_MARK`] as `pii`.
pub fn arrow_schema(resource: Resource) -> Schema {
    let fields: Vec<Field> = super::columns(resource)
        .iter()
        .map(|c| {
            let mut metadata = HashMap::from([("description".to_owned(), c.doc.to_owned())]);
            if c.pseudonymized {
                metadata.insert("pii".to_owned(), PII_MARK.to_owned());
            }
            Field::new(c.name, c.kind.data_type(), c.nullable).with_metadata(metadata)
        })
        .collect();
    Schema::new(fields)
}

/// The `schemas/{resource}.json` contract, as the code sees it.
pub fn contract_json(resource: Resource) -> serde_json::Value {
    let columns: Vec<_> = super::columns(resource)
        .iter()
        .map(|c| {
            let mut column = json!({
                "name": c.name,
                "type": c.kind.contract_name(),
                "nullable": c.nullable,
                "doc": c.doc,
            });
            if c.pseudonymized {
                column["pii"] = json!(PII_MARK);
            }
            column
        })
        .collect();
    let partitioned_by = match resource {
        Resource::Calls => "the UTC day of start_time",
        Resource::UsageRecords => "start_date",
    };
    json!({
        "resource": resource.table_name(),
        "layout": format!("{}/account_sid={{AccountSid}}/date={{YYYY-MM-DD}}/part-0.parquet", resource.table_name()),
        "partitions": [
            {"name": "account_sid", "type": "string", "doc": "The account the rows were read from (hive partition)."},
            {"name": "date", "type": "date", "doc": format!("The partition day: {partitioned_by} (hive partition).")},
        ],
        "columns": columns,
    })
}
