//! Typed rows into Arrow record batches of bounded size, and the exported schemas.
//!
//! Each resource declares its columns once, in a table in `decode` (`call_columns!`,
//! `usage_record_columns!`): the wire and typed records come from it there, and here
//! [`calls::COLUMNS`], [`usage_records::COLUMNS`] and the append of each row. The Arrow
//! schema, `schemas/*.json`, the warehouse DDL ([`ddl`]) and the column builders all come
//! from those lists, and a test checks `schemas/` against them. No I/O here.

pub mod calls;
mod columns;
pub mod ddl;
mod pseudonyms;
pub mod schema;
mod spent;
pub mod usage_records;

pub use columns::{Cell, ColumnBuilders, RowCursor};
pub use schema::{arrow_schema, Column, Kind};
pub use spent::SpentBatches;

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;

use crate::domain::Resource;
use crate::pseudonym::PseudonymKey;
use pseudonyms::Pseudonyms;

/// The schema metadata key of a file written with `--pseudonymize`: the fingerprint of the
/// key its pseudonyms were made with (absent from a file written in clear).
pub const PSEUDONYM_KEY_METADATA: &str = "twilio_export.pseudonym_key_fingerprint";

/// The column list of a resource.
pub fn columns(resource: Resource) -> &'static [Column] {
    match resource {
        Resource::Calls => calls::COLUMNS,
        Resource::UsageRecords => usage_records::COLUMNS,
    }
}

/// A row type that can be appended to the column builders of its resource.
pub trait AppendRow {
    fn append(&self, row: &mut RowCursor<'_>);
}

/// Accumulates rows of one resource and hands out record batches.
pub struct BatchBuilder {
    schema: SchemaRef,
    builders: ColumnBuilders,
    /// Under `--pseudonymize`: the key and the columns it applies to.
    pseudonyms: Option<Pseudonyms>,
}

impl BatchBuilder {
    pub fn new(resource: Resource) -> Self {
        Self::with_capacity(resource, 1024)
    }

    /// A builder with room for `rows` rows before its buffers grow.
    pub fn with_capacity(resource: Resource, rows: usize) -> Self {
        Self {
            schema: Arc::new(arrow_schema(resource)),
            builders: ColumnBuilders::with_capacity(columns(resource), rows),
            pseudonyms: None,
        }
    }

    /// Batches whose phone numbers and names ([`Column::pseudonymized`]) are pseudonyms
    /// under `key` (none: as the API sent them); their schema then names the key's
    /// fingerprint in its metadata ([`PSEUDONYM_KEY_METADATA`]), and so do the files.
    pub fn pseudonymized(resource: Resource, key: Option<&PseudonymKey>) -> Self {
        Self::pseudonymized_with_capacity(resource, key, 1024)
    }

    /// [`BatchBuilder::pseudonymized`] with room for `rows` rows before its buffers grow.
    pub fn pseudonymized_with_capacity(
        resource: Resource,
        key: Option<&PseudonymKey>,
        rows: usize,
    ) -> Self {
        let Some(key) = key else {
            return Self::with_capacity(resource, rows);
        };
        let metadata = std::collections::HashMap::from([(
            PSEUDONYM_KEY_METADATA.to_owned(),
            key.fingerprint().to_string(),
        )]);
        let schema = arrow_schema(resource).with_metadata(metadata);
        Self {
            schema: Arc::new(schema),
            pseudonyms: Some(Pseudonyms::new(key.clone(), columns(resource))),
            ..Self::with_capacity(resource, rows)
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn push<R: AppendRow>(&mut self, row: &R) {
        let mut cursor = self.builders.row();
        row.append(&mut cursor);
        cursor.finish();
        self.builders.size_from_first_row();
    }

    pub fn len(&self) -> usize {
        self.builders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows so far as one batch; the builder starts empty again.
    pub fn finish(&mut self) -> RecordBatch {
        self.finish_reusing(None)
    }

    /// Starts again in the buffers of `spent`, an earlier batch of this resource that is no
    /// longer used (kept in [`SpentBatches`]); the rows so far are dropped.
    pub fn restart_in(&mut self, spent: RecordBatch) {
        self.builders.restart_in(spent.into_parts().1);
    }

    /// [`BatchBuilder::finish`], starting again in the buffers of `spent`, an earlier batch
    /// of this builder that is no longer used (see [`ColumnBuilders::finish`]).
    pub fn finish_reusing(&mut self, spent: Option<RecordBatch>) -> RecordBatch {
        // The batch's own references go, so that each array's buffers are held only once.
        let spent = spent.map(|b| b.into_parts().1);
        let arrays = self.builders.finish(spent);
        self.batch(arrays)
    }

    /// The rows so far as the last batch: the builder is left without buffers (it takes new
    /// ones only if rows come after all).
    pub fn finish_last(&mut self) -> RecordBatch {
        let arrays = self.builders.finish_last();
        self.batch(arrays)
    }

    fn batch(&self, mut arrays: Vec<ArrayRef>) -> RecordBatch {
        if let Some(p) = &self.pseudonyms {
            p.apply(&mut arrays);
        }
        RecordBatch::try_new(self.schema.clone(), arrays)
            .expect("column builders follow the schema they were made from")
    }
}

/// Writes unknown fields as one JSON object, or nothing when there are none.
pub fn extra_json(
    extra: &[(std::borrow::Cow<'_, str>, &serde_json::value::RawValue)],
) -> Option<String> {
    if extra.is_empty() {
        return None;
    }
    let mut s = String::from("{");
    for (i, (k, v)) in extra.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&serde_json::to_string(k.as_ref()).expect("a string serializes"));
        s.push(':');
        s.push_str(v.get());
    }
    s.push('}');
    Some(s)
}

#[cfg(test)]
mod tests;
