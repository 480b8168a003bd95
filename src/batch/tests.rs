//! Every column of each resource, end to end: one record whose every field holds a value of
//! its own is decoded, appended, written to Parquet and read back by column name. The values
//! come from the column list and are checked against what they should be, computed here
//! without `decode`; so a column added to a resource's table is covered by this test as is.

use std::collections::BTreeSet;

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{Date32Type, Decimal128Type, Int64Type, TimestampMicrosecondType};
use chrono::{NaiveDate, TimeDelta};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

use super::{columns, BatchBuilder, Column, Kind};
use crate::decode::calls::Call;
use crate::decode::decode_page;
use crate::decode::usage_records::UsageRecord;
use crate::domain::Resource;

/// What a column should read back as.
#[derive(Debug, PartialEq)]
enum Expected {
    Text(String),
    Int(i64),
    Decimal(i128),
    Micros(i64),
    Day(i32),
}

/// The `i`-th column's JSON value in the record, and what it should read back as. Every value
/// differs from every other column's, so a column filled from the wrong field shows.
fn value_for(i: usize, c: &Column) -> (String, Expected) {
    let n = i as i64 + 1;
    match c.kind {
        // An escaped character too, so that text is unescaped, not only borrowed.
        Kind::Text => (
            format!(r#""{} #{n} \u00e9""#, c.name),
            Expected::Text(format!("{} #{n} é", c.name)),
        ),
        // Alternately a JSON string and a JSON number, as Twilio sends either.
        Kind::Int64 if i.is_multiple_of(2) => (format!(r#""{}""#, 100 + n), Expected::Int(100 + n)),
        Kind::Int64 => (format!("{}", 100 + n), Expected::Int(100 + n)),
        // All 18 decimal places in use.
        Kind::Decimal => (
            format!(r#""-{n}.{n:018}""#),
            Expected::Decimal(-(i128::from(n) * 10i128.pow(18) + i128::from(n))),
        ),
        Kind::Timestamp => {
            let at = NaiveDate::from_ymd_opt(2026, 3, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc()
                + TimeDelta::minutes(n);
            (
                format!(r#""{}""#, at.format("%a, %d %b %Y %H:%M:%S +0000")),
                Expected::Micros(at.timestamp_micros()),
            )
        }
        Kind::Date => {
            let day = NaiveDate::from_ymd_opt(2026, 3, n as u32).unwrap();
            let since = day - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
            (
                format!(r#""{day}""#),
                Expected::Day(since.num_days() as i32),
            )
        }
        Kind::Json => {
            let json = format!(r#"{{"{}":[{n},"x"]}}"#, c.name);
            (json.clone(), Expected::Text(json))
        }
    }
}

/// One record with every declared field and one the code does not know; the `extra` column
/// (last) holds that one.
fn record(resource: Resource) -> (String, Vec<(&'static str, Expected)>) {
    let cols = columns(resource);
    let (extra, declared) = cols.split_last().unwrap();
    assert_eq!(extra.name, "extra");
    let mut fields = Vec::new();
    let mut expected = Vec::new();
    for (i, c) in declared.iter().enumerate() {
        let (json, want) = value_for(i, c);
        fields.push(format!("{:?}:{json}", c.name));
        expected.push((c.name, want));
    }
    fields.push(r#""a_field_added_later":{"n":[1,2]}"#.to_owned());
    expected.push((
        "extra",
        Expected::Text(r#"{"a_field_added_later":{"n":[1,2]}}"#.to_owned()),
    ));
    let body = format!(
        r#"{{"{}":[{{{}}}],"next_page_uri":null}}"#,
        resource.table_name(),
        fields.join(",")
    );
    (body, expected)
}

fn batch_of(resource: Resource, body: &[u8]) -> RecordBatch {
    let mut builder = BatchBuilder::new(resource);
    match resource {
        Resource::Calls => {
            for r in decode_page::<Call>(body).unwrap().records {
                builder.push(&r);
            }
        }
        Resource::UsageRecords => {
            for r in decode_page::<UsageRecord>(body).unwrap().records {
                builder.push(&r);
            }
        }
    }
    builder.finish()
}

fn through_parquet(batch: &RecordBatch) -> RecordBatch {
    let mut file = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut file, batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
    let mut batches = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file))
        .unwrap()
        .build()
        .unwrap();
    let read = batches.next().unwrap().unwrap();
    assert!(batches.next().is_none());
    read
}

fn read_back(batch: &RecordBatch, name: &str, want: &Expected) -> Expected {
    let col = batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"));
    assert_eq!(col.len(), 1);
    assert!(!col.is_null(0), "{name} is null");
    match want {
        Expected::Text(_) => Expected::Text(
            col.as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .value(0)
                .to_owned(),
        ),
        Expected::Int(_) => Expected::Int(col.as_primitive::<Int64Type>().value(0)),
        Expected::Decimal(_) => Expected::Decimal(col.as_primitive::<Decimal128Type>().value(0)),
        Expected::Micros(_) => {
            Expected::Micros(col.as_primitive::<TimestampMicrosecondType>().value(0))
        }
        Expected::Day(_) => Expected::Day(col.as_primitive::<Date32Type>().value(0)),
    }
}

#[test]
fn every_column_of_every_resource_reads_back_by_name() {
    for resource in Resource::ALL {
        let (body, expected) = record(resource);
        let batch = through_parquet(&batch_of(resource, body.as_bytes()));
        assert_eq!(batch.num_rows(), 1, "{resource}");
        let names: BTreeSet<&str> = expected.iter().map(|(n, _)| *n).collect();
        assert_eq!(names.len(), expected.len(), "{resource}: names repeat");
        assert_eq!(batch.num_columns(), expected.len(), "{resource}");
        for (name, want) in &expected {
            let got = read_back(&batch, name, want);
            assert_eq!(&got, want, "{resource}.{name}");
        }
    }
}

#[test]
fn only_keys_are_required() {
    let keys = |r| -> Vec<&str> {
        columns(r)
            .iter()
            .filter(|c| !c.nullable)
            .map(|c| c.name)
            .collect()
    };
    assert_eq!(keys(Resource::Calls), ["sid"]);
    assert_eq!(keys(Resource::UsageRecords), ["category"]);
}

/// The address of each column's values buffer (for text, the bytes; otherwise the values).
fn value_buffers(batch: &RecordBatch) -> Vec<usize> {
    (batch.columns().iter())
        .map(|c| c.to_data().buffers().last().unwrap().as_ptr() as usize)
        .collect()
}

#[test]
fn a_batch_is_built_again_in_the_buffers_of_a_written_one() {
    for resource in Resource::ALL {
        let (body, expected) = record(resource);
        let mut builder = BatchBuilder::new(resource);
        let push = |builder: &mut BatchBuilder| match resource {
            Resource::Calls => {
                builder.push(&decode_page::<Call>(body.as_bytes()).unwrap().records[0])
            }
            Resource::UsageRecords => {
                builder.push(&decode_page::<UsageRecord>(body.as_bytes()).unwrap().records[0])
            }
        };
        push(&mut builder);
        let first = builder.finish();
        let first_buffers = value_buffers(&first);
        push(&mut builder);
        let second = builder.finish_reusing(Some(first));
        push(&mut builder);
        let third = builder.finish();
        assert_eq!(
            value_buffers(&third),
            first_buffers,
            "{resource}: not reused"
        );
        // Another builder, of another day, started in a batch written before.
        let third_buffers = value_buffers(&third);
        let mut other = BatchBuilder::new(resource);
        other.restart_in(third);
        push(&mut other);
        let fourth = other.finish();
        assert_eq!(
            value_buffers(&fourth),
            third_buffers,
            "{resource}: not restarted in"
        );
        for batch in [second, fourth] {
            let batch = through_parquet(&batch);
            for (name, want) in &expected {
                assert_eq!(&read_back(&batch, name, want), want, "{resource}.{name}");
            }
        }
    }
}
