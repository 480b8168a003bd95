//! Arrow column builders driven by a column list, filled one row at a time.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};

use super::schema::{Column, Kind};
use crate::decode::value::{DECIMAL_PRECISION, DECIMAL_SCALE};

enum Builder {
    Text(StringBuilder),
    Int64(Int64Builder),
    Decimal(Decimal128Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Date(Date32Builder),
}

/// One builder per column, in schema order.
pub struct ColumnBuilders {
    builders: Vec<Builder>,
    rows: usize,
}

impl ColumnBuilders {
    pub fn new(columns: &[Column]) -> Self {
        let builders = columns
            .iter()
            .map(|c| match c.kind {
                Kind::Text | Kind::Json => Builder::Text(StringBuilder::new()),
                Kind::Int64 => Builder::Int64(Int64Builder::new()),
                Kind::Decimal => Builder::Decimal(
                    Decimal128Builder::new()
                        .with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)
                        .expect("valid decimal type"),
                ),
                Kind::Timestamp => {
                    Builder::Timestamp(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
                }
                Kind::Date => Builder::Date(Date32Builder::new()),
            })
            .collect();
        Self { builders, rows: 0 }
    }

    /// A cursor that appends one row, column by column, in schema order.
    pub fn row(&mut self) -> RowCursor<'_> {
        RowCursor {
            builders: &mut self.builders,
            rows: &mut self.rows,
            next: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn finish(&mut self) -> Vec<ArrayRef> {
        self.rows = 0;
        self.builders
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    Builder::Text(b) => Arc::new(b.finish()),
                    Builder::Int64(b) => Arc::new(b.finish()),
                    Builder::Decimal(b) => Arc::new(b.finish()),
                    Builder::Timestamp(b) => Arc::new(b.finish()),
                    Builder::Date(b) => Arc::new(b.finish()),
                }
            })
            .collect()
    }
}

/// Appends the values of one row. Calling a method whose kind does not match the next column
/// is a bug in the resource's `append`, caught by its tests.
pub struct RowCursor<'b> {
    builders: &'b mut [Builder],
    rows: &'b mut usize,
    next: usize,
}

impl RowCursor<'_> {
    fn take(&mut self) -> &mut Builder {
        let i = self.next;
        self.next += 1;
        &mut self.builders[i]
    }

    pub fn text(&mut self, v: Option<&str>) {
        match self.take() {
            Builder::Text(b) => b.append_option(v),
            _ => panic!("column {} is not text", self.next - 1),
        }
    }

    pub fn int64(&mut self, v: Option<i64>) {
        match self.take() {
            Builder::Int64(b) => b.append_option(v),
            _ => panic!("column {} is not int64", self.next - 1),
        }
    }

    pub fn decimal(&mut self, v: Option<i128>) {
        match self.take() {
            Builder::Decimal(b) => b.append_option(v),
            _ => panic!("column {} is not decimal", self.next - 1),
        }
    }

    pub fn timestamp(&mut self, v: Option<i64>) {
        match self.take() {
            Builder::Timestamp(b) => b.append_option(v),
            _ => panic!("column {} is not a timestamp", self.next - 1),
        }
    }

    pub fn date(&mut self, v: Option<i32>) {
        match self.take() {
            Builder::Date(b) => b.append_option(v),
            _ => panic!("column {} is not a date", self.next - 1),
        }
    }

    /// Ends the row; every column must have had a value.
    pub fn finish(self) {
        assert_eq!(
            self.next,
            self.builders.len(),
            "a row left columns unfilled"
        );
        *self.rows += 1;
    }
}
