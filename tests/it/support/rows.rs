//! Parquet read back into comparable cells, and the API's JSON typed the way the test expects
//! (written independently of the decoder on purpose).

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Decimal128Type, Int64Type, TimestampMicrosecondType};
use chrono::{DateTime, NaiveDate};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

/// Reads a Parquet file back.
pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// A value as comparable across JSON and Arrow.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Int(i64),
    /// Scaled by 10^scale of the column.
    Decimal(i128),
    /// Microseconds since the epoch, UTC.
    Micros(i64),
    Date(NaiveDate),
    Json(Value),
}

/// Rows of a Parquet partition as `column → cell` maps.
pub fn rows_of(batches: &[RecordBatch]) -> Vec<BTreeMap<String, Cell>> {
    let mut rows = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let mut row = BTreeMap::new();
            for (f, col) in b.schema().fields().iter().zip(b.columns()) {
                let cell = if col.is_null(i) {
                    Cell::Null
                } else {
                    match f.data_type() {
                        DataType::Utf8 => {
                            let s = col.as_string::<i32>().value(i).to_owned();
                            if f.name() == "subresource_uris" || f.name() == "extra" {
                                Cell::Json(serde_json::from_str(&s).unwrap())
                            } else {
                                Cell::Text(s)
                            }
                        }
                        DataType::Int64 => Cell::Int(col.as_primitive::<Int64Type>().value(i)),
                        DataType::Decimal128(_, _) => {
                            Cell::Decimal(col.as_primitive::<Decimal128Type>().value(i))
                        }
                        DataType::Timestamp(_, tz) => {
                            assert_eq!(tz.as_deref(), Some("UTC"));
                            Cell::Micros(col.as_primitive::<TimestampMicrosecondType>().value(i))
                        }
                        DataType::Date32 => Cell::Date(
                            DateTime::from_timestamp(
                                col.as_primitive::<Date32Type>().value(i) as i64 * 86_400,
                                0,
                            )
                            .unwrap()
                            .date_naive(),
                        ),
                        other => panic!("unexpected column type {other}"),
                    }
                };
                row.insert(f.name().clone(), cell);
            }
            rows.push(row);
        }
    }
    rows
}

/// How the test expects each column to be typed from the API's JSON (written independently
/// of the decoder on purpose).
#[derive(Clone, Copy)]
pub enum Expect {
    Text,
    Int,
    Decimal,
    Rfc2822,
    Rfc3339,
    Date,
    Json,
}

/// The scale of the exported decimal columns, `decimal(38,18)`.
pub const DECIMAL_SCALE: u32 = 18;

/// A decimal literal scaled by 10^[`DECIMAL_SCALE`]. A string must fit exactly; a JSON number
/// (a double's shortest form) is rounded half to even at the scale, as the README documents.
fn scaled(s: &str, json_number: bool) -> i128 {
    assert!(
        !s.contains(['e', 'E']),
        "the simulator writes no exponents: {s}"
    );
    let (neg, s) = s.strip_prefix('-').map(|r| (true, r)).unwrap_or((false, s));
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    let width = DECIMAL_SCALE as usize;
    let (kept, dropped) = if f.len() > width {
        assert!(json_number, "a string with more than {width} places: {s}");
        f.split_at(width)
    } else {
        (f, "")
    };
    let mut v: i128 = format!("{i}{kept:0<width$}").parse().unwrap();
    let first = dropped.bytes().next().map_or(0, |b| b - b'0');
    let rest_nonzero = dropped.bytes().skip(1).any(|b| b != b'0');
    if first > 5 || (first == 5 && (rest_nonzero || v % 2 == 1)) {
        v += 1;
    }
    if neg {
        -v
    } else {
        v
    }
}

/// The cell a JSON field should become.
pub fn expected_cell(expect: Expect, v: Option<&Value>) -> Cell {
    let v = match v {
        None | Some(Value::Null) => return Cell::Null,
        Some(v) => v,
    };
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    match expect {
        Expect::Text => Cell::Text(text),
        Expect::Json => Cell::Json(v.clone()),
        _ if text.is_empty() => Cell::Null,
        Expect::Int => Cell::Int(text.parse().unwrap()),
        Expect::Decimal => Cell::Decimal(scaled(&text, v.is_number())),
        Expect::Rfc2822 => Cell::Micros(
            DateTime::parse_from_rfc2822(&text)
                .unwrap()
                .timestamp_micros(),
        ),
        Expect::Rfc3339 => Cell::Micros(
            DateTime::parse_from_rfc3339(&text)
                .unwrap()
                .timestamp_micros(),
        ),
        Expect::Date => Cell::Date(text.parse().unwrap()),
    }
}

pub const CALL_COLUMNS: &[(&str, Expect)] = &[
    ("sid", Expect::Text),
    ("account_sid", Expect::Text),
    ("parent_call_sid", Expect::Text),
    ("date_created", Expect::Rfc2822),
    ("date_updated", Expect::Rfc2822),
    ("start_time", Expect::Rfc2822),
    ("end_time", Expect::Rfc2822),
    ("duration", Expect::Int),
    ("price", Expect::Decimal),
    ("price_unit", Expect::Text),
    ("status", Expect::Text),
    ("direction", Expect::Text),
    ("answered_by", Expect::Text),
    ("to", Expect::Text),
    ("from", Expect::Text),
    ("to_formatted", Expect::Text),
    ("from_formatted", Expect::Text),
    ("phone_number_sid", Expect::Text),
    ("group_sid", Expect::Text),
    ("trunk_sid", Expect::Text),
    ("forwarded_from", Expect::Text),
    ("caller_name", Expect::Text),
    ("queue_time", Expect::Int),
    ("api_version", Expect::Text),
    ("uri", Expect::Text),
    ("subresource_uris", Expect::Json),
];

pub const USAGE_COLUMNS: &[(&str, Expect)] = &[
    ("account_sid", Expect::Text),
    ("api_version", Expect::Text),
    ("category", Expect::Text),
    ("description", Expect::Text),
    ("start_date", Expect::Date),
    ("end_date", Expect::Date),
    ("as_of", Expect::Rfc3339),
    ("count", Expect::Decimal),
    ("count_unit", Expect::Text),
    ("usage", Expect::Decimal),
    ("usage_unit", Expect::Text),
    ("price", Expect::Decimal),
    ("price_unit", Expect::Text),
    ("uri", Expect::Text),
    ("subresource_uris", Expect::Json),
];

/// Compares exported rows with the API's records, keyed by `key`, field by field; every
/// field of the JSON must be accounted for (known columns, or the `extra` column).
pub fn assert_rows_match(
    rows: &[BTreeMap<String, Cell>],
    truth: &[Value],
    columns: &[(&str, Expect)],
    key: &str,
) {
    assert_eq!(rows.len(), truth.len(), "row count");
    let by_key: BTreeMap<String, &BTreeMap<String, Cell>> = rows
        .iter()
        .map(|r| match &r[key] {
            Cell::Text(s) => (s.clone(), r),
            other => panic!("key {other:?}"),
        })
        .collect();
    assert_eq!(by_key.len(), rows.len(), "duplicate {key} in the output");
    for t in truth {
        let id = t[key].as_str().unwrap();
        let row = by_key
            .get(id)
            .unwrap_or_else(|| panic!("{id} missing from the output"));
        for (name, expect) in columns {
            assert_eq!(
                row[*name],
                expected_cell(*expect, t.get(*name)),
                "{id}: column {name}"
            );
        }
        let known: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        let extra: serde_json::Map<String, Value> = t
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let want = if extra.is_empty() {
            Cell::Null
        } else {
            Cell::Json(Value::Object(extra))
        };
        assert_eq!(row["extra"], want, "{id}: column extra");
    }
}
