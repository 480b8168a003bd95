//! Arrow column builders driven by a column list, filled one row at a time.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, Date32Builder, Decimal128Builder, Int64Builder,
    PrimitiveArray, PrimitiveBuilder, StringArray, StringBuilder, TimestampMicrosecondBuilder,
};

use super::schema::{Column, Kind};
use crate::decode::field::{self, Field};
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
    /// Rows the first batch is expected to reach; text columns get room for as many rows of
    /// the first row's size once it is in (see [`ColumnBuilders::size_from_first_row`]).
    room: Option<usize>,
}

/// The most bytes a text column is given room for from its first row: a server's long
/// first value does not make a batch reserve more (past it, buffers grow as they fill).
const MAX_TEXT_ROOM: usize = 16 << 20;

impl ColumnBuilders {
    pub fn new(columns: &[Column]) -> Self {
        Self::with_capacity(columns, 1024)
    }

    /// Builders with room for `rows` rows before their buffers grow; text columns are sized
    /// once the first row is in.
    pub fn with_capacity(columns: &[Column], rows: usize) -> Self {
        let builders = columns
            .iter()
            .map(|c| match c.kind {
                Kind::Text | Kind::Json => Builder::Text(StringBuilder::with_capacity(rows, 0)),
                Kind::Int64 => Builder::Int64(Int64Builder::with_capacity(rows)),
                Kind::Decimal => Builder::Decimal(decimal_builder(rows)),
                Kind::Timestamp => Builder::Timestamp(
                    TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
                ),
                Kind::Date => Builder::Date(Date32Builder::with_capacity(rows)),
            })
            .collect();
        Self {
            builders,
            rows: 0,
            room: Some(rows),
        }
    }

    /// After the first row: gives each text column room for the expected rows at an eighth
    /// more than that row's bytes (copying the one value over), so that the first batch is not
    /// built by doubling its buffers (each growth a copy into fresh memory). Later batches
    /// start in the buffers, or at the size, of earlier ones ([`ColumnBuilders::finish`]).
    pub fn size_from_first_row(&mut self) {
        if self.rows != 1 {
            return;
        }
        let Some(rows) = self.room.take() else {
            return;
        };
        for b in &mut self.builders {
            if let Builder::Text(b) = b {
                let first = b.finish();
                let bytes = (rows.saturating_mul(first.value_data().len()) / 8 * 9)
                    .clamp(64, MAX_TEXT_ROOM);
                *b = StringBuilder::with_capacity(rows, bytes);
                b.append_option(first.is_valid(0).then(|| first.value(0)));
            }
        }
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

    /// The rows so far as arrays, leaving each builder without buffers.
    pub fn finish_last(&mut self) -> Vec<ArrayRef> {
        self.rows = 0;
        (self.builders.iter_mut())
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

    /// Starts again, empty, in the buffers of `spent` ([`ColumnBuilders::finish`]), which then
    /// set the room: a builder given buffers is not sized from its first row.
    pub fn restart_in(&mut self, spent: Vec<ArrayRef>) {
        self.finish(Some(spent));
        self.room = None;
    }

    /// The rows so far as arrays. Each builder starts again in the buffers of `spent` (the
    /// arrays of an earlier batch of these columns, no longer used elsewhere), emptied, so
    /// that memory already in use is used again instead of fresh memory faulted in page by
    /// page; a column whose buffers cannot be taken (or without `spent`) starts with room for
    /// as many rows and bytes as the array it gave, so the next batch is not built by growing
    /// buffers from empty (each growth a copy of everything so far).
    pub fn finish(&mut self, spent: Option<Vec<ArrayRef>>) -> Vec<ArrayRef> {
        self.rows = 0;
        let mut spent = spent.map(Vec::into_iter);
        (self.builders.iter_mut())
            .map(|b| b.finish(spent.as_mut().and_then(Iterator::next)))
            .collect()
    }
}

impl Builder {
    fn finish(&mut self, spent: Option<ArrayRef>) -> ArrayRef {
        match self {
            Builder::Text(b) => {
                let a = b.finish();
                *b = spent
                    .and_then(emptied_text)
                    .unwrap_or_else(|| StringBuilder::with_capacity(a.len(), a.value_data().len()));
                Arc::new(a)
            }
            Builder::Int64(b) => restart(b, spent, Int64Builder::with_capacity),
            Builder::Decimal(b) => restart(b, spent, decimal_builder),
            Builder::Timestamp(b) => restart(b, spent, |rows| {
                TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC")
            }),
            Builder::Date(b) => restart(b, spent, Date32Builder::with_capacity),
        }
    }
}

/// A primitive column's array; its builder starts again in `spent`'s buffer, emptied, or
/// with `fresh(rows)`.
fn restart<T: ArrowPrimitiveType>(
    b: &mut PrimitiveBuilder<T>,
    spent: Option<ArrayRef>,
    fresh: impl FnOnce(usize) -> PrimitiveBuilder<T>,
) -> ArrayRef {
    let a = b.finish();
    *b = spent
        .and_then(emptied_primitive::<T>)
        .unwrap_or_else(|| fresh(a.len()));
    Arc::new(a)
}

/// An empty builder in the buffers of `spent` when nothing else holds them.
fn emptied_text(spent: ArrayRef) -> Option<StringBuilder> {
    // `into_data` drops the `Arc`, so the data's buffers are the only references left.
    let (offsets, values, _) = StringArray::from(spent.into_data()).into_parts();
    let mut offsets = offsets.into_inner().into_inner().into_mutable().ok()?;
    let values = values.into_mutable().ok()?;
    offsets.truncate(0);
    offsets.push(0i32);
    // SAFETY: a single offset of 0 is a valid empty string array; `new_from_buffer` cuts the
    // values buffer at the last offset, to nothing, and without a null buffer starts one.
    Some(unsafe { StringBuilder::new_from_buffer(offsets, values, None) })
}

/// [`emptied_text`] for a primitive column, keeping its type (time zone, precision).
fn emptied_primitive<T: ArrowPrimitiveType>(spent: ArrayRef) -> Option<PrimitiveBuilder<T>> {
    let (data_type, values, _) = PrimitiveArray::<T>::from(spent.into_data()).into_parts();
    let mut values = values.into_inner().into_mutable().ok()?;
    values.truncate(0);
    Some(PrimitiveBuilder::new_from_buffer(values, None).with_data_type(data_type))
}

fn decimal_builder(capacity: usize) -> Decimal128Builder {
    Decimal128Builder::with_capacity(capacity)
        .with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)
        .expect("valid decimal type")
}

/// Appends the values of one row. Calling a method whose kind does not match the next column
/// is a bug; [`columns_of!`] calls them in the order and of the kinds it declared.
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

/// The column a field kind of `decode` fills, and how it appends a value.
pub trait Cell<'a>: Field<'a> {
    const KIND: Kind;
    /// Every kind may be null (Twilio may send `null` for any field) except a key.
    const NULLABLE: bool = true;
    /// A phone number or a name: pseudonymized under `--pseudonymize`.
    const PERSONAL: bool = false;
    fn append(v: &Self::Value, r: &mut RowCursor<'_>);
}

impl<'a> Cell<'a> for field::Key {
    const KIND: Kind = Kind::Text;
    const NULLABLE: bool = false;
    #[inline]
    fn append(v: &Cow<'a, str>, r: &mut RowCursor<'_>) {
        r.text(Some(v));
    }
}

impl<'a> Cell<'a> for field::Text {
    const KIND: Kind = Kind::Text;
    #[inline]
    fn append(v: &Option<Cow<'a, str>>, r: &mut RowCursor<'_>) {
        r.text(v.as_deref());
    }
}

impl<'a> Cell<'a> for field::Personal {
    const KIND: Kind = Kind::Text;
    const PERSONAL: bool = true;
    #[inline]
    fn append(v: &Option<Cow<'a, str>>, r: &mut RowCursor<'_>) {
        r.text(v.as_deref());
    }
}

impl Cell<'_> for field::Int64 {
    const KIND: Kind = Kind::Int64;
    #[inline]
    fn append(v: &Option<i64>, r: &mut RowCursor<'_>) {
        r.int64(*v);
    }
}

impl Cell<'_> for field::Decimal {
    const KIND: Kind = Kind::Decimal;
    #[inline]
    fn append(v: &Option<i128>, r: &mut RowCursor<'_>) {
        r.decimal(*v);
    }
}

impl Cell<'_> for field::Timestamp {
    const KIND: Kind = Kind::Timestamp;
    #[inline]
    fn append(v: &Option<i64>, r: &mut RowCursor<'_>) {
        r.timestamp(*v);
    }
}

impl Cell<'_> for field::Date {
    const KIND: Kind = Kind::Date;
    #[inline]
    fn append(v: &Option<i32>, r: &mut RowCursor<'_>) {
        r.date(*v);
    }
}

impl<'a> Cell<'a> for field::Json {
    const KIND: Kind = Kind::Json;
    #[inline]
    fn append(v: &Option<&'a str>, r: &mut RowCursor<'_>) {
        r.text(*v);
    }
}

/// From a resource's table (`decode::calls::call_columns!`): `COLUMNS`, the declared fields
/// then [`super::schema::EXTRA`] (those of kind `Personal` marked pseudonymized), and
/// `AppendRow` for its typed row, in the same order.
macro_rules! columns_of {
    (
        $(#[$meta:meta])*
        $row:ident / $wire:ident in $envelope:literal {
            $($field:ident: $kind:ident $doc:literal),+ $(,)?
        }
    ) => {
        /// The exported columns, in file order.
        pub const COLUMNS: &[$crate::batch::Column] = &[
            $(
                $crate::batch::Column {
                    name: stringify!($field),
                    kind: <$crate::decode::field::$kind as $crate::batch::Cell<'static>>::KIND,
                    nullable: <$crate::decode::field::$kind as $crate::batch::Cell<'static>>::NULLABLE,
                    doc: $doc,
                    pseudonymized: <$crate::decode::field::$kind as $crate::batch::Cell<'static>>::PERSONAL,
                },
            )+
            $crate::batch::schema::EXTRA,
        ];

        impl $crate::batch::AppendRow for $row<'_> {
            fn append(&self, r: &mut $crate::batch::RowCursor<'_>) {
                $(<$crate::decode::field::$kind as $crate::batch::Cell<'_>>::append(&self.$field, r);)+
                r.text($crate::batch::extra_json(&self.extra).as_deref());
            }
        }
    };
}

pub(crate) use columns_of;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::columns as columns_of;
    use crate::domain::Resource;

    /// The bytes each text column has room for.
    fn text_capacities(b: &ColumnBuilders) -> Vec<usize> {
        (b.builders.iter())
            .filter_map(|b| match b {
                Builder::Text(t) => Some(t.values_capacity()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_first_batch_fills_the_room_made_from_its_first_row_without_growing() {
        let columns = columns_of(Resource::UsageRecords);
        let mut b = ColumnBuilders::with_capacity(columns, 500);
        let row = |b: &mut ColumnBuilders| {
            let mut cursor = b.row();
            for c in columns {
                match c.kind {
                    Kind::Text | Kind::Json => cursor.text(Some("twenty bytes of text")),
                    Kind::Int64 => cursor.int64(Some(1)),
                    Kind::Decimal => cursor.decimal(Some(1)),
                    Kind::Timestamp => cursor.timestamp(Some(1)),
                    Kind::Date => cursor.date(Some(1)),
                }
            }
            cursor.finish();
            b.size_from_first_row();
        };
        row(&mut b);
        let sized = text_capacities(&b);
        assert!(sized.iter().all(|c| *c >= 500 * 20), "{sized:?}");
        for _ in 1..500 {
            row(&mut b);
        }
        assert_eq!(text_capacities(&b), sized, "a text buffer grew");
        let arrays = b.finish(None);
        assert!(arrays.iter().all(|a| a.len() == 500));
    }

    #[test]
    fn a_long_first_value_does_not_make_a_batch_reserve_more_than_the_cap() {
        let columns = columns_of(Resource::UsageRecords);
        let mut b = ColumnBuilders::with_capacity(columns, 5000);
        let long = "x".repeat(1 << 20);
        let mut cursor = b.row();
        for c in columns {
            match c.kind {
                Kind::Text | Kind::Json => cursor.text(Some(&long)),
                Kind::Int64 => cursor.int64(None),
                Kind::Decimal => cursor.decimal(None),
                Kind::Timestamp => cursor.timestamp(None),
                Kind::Date => cursor.date(None),
            }
        }
        cursor.finish();
        b.size_from_first_row();
        let room = text_capacities(&b);
        assert!(
            room.iter().all(|c| *c <= MAX_TEXT_ROOM + (1 << 20)),
            "{room:?}"
        );
        assert_eq!(b.finish(None)[0].len(), 1);
    }
}
