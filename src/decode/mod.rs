//! Page JSON into typed rows, in one pass and without copying strings that need no unescaping.
//!
//! A page is parsed once with serde_json: each record's known fields are captured as borrowed
//! raw JSON slices, unknown fields are kept (they end up in the `extra` column, README
//! "Output"), and every value is then typed by the helpers in [`value`]. A record that cannot
//! be typed fails the whole page with an error naming the record and the field; a page is
//! decoded all or nothing. This module does no I/O and knows nothing of Arrow.

pub mod calls;
pub mod field;
mod page;
pub mod usage_records;
pub mod value;
mod wire;

pub use page::{decode_page, decode_page_at_most, DecodedPage};

/// Why a page could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body is not the JSON page we expect (cut off, HTML, wrong shape).
    #[error("the page is not valid JSON of the expected shape: {0}")]
    Malformed(serde_json::Error),
    /// The page holds more than the `max` records allowed; decoding stopped there.
    #[error("the page holds more than {max} records")]
    TooManyRecords { max: usize },
    /// One record holds a value that cannot be typed exactly.
    #[error("record {record}: field {field}: {reason}")]
    Field {
        record: String,
        field: &'static str,
        reason: value::ValueError,
    },
}

// The message shows the cause, so it is not also returned as `source()`.
impl From<serde_json::Error> for DecodeError {
    fn from(e: serde_json::Error) -> Self {
        Self::Malformed(e)
    }
}

/// A record type that a page can hold.
pub trait Record<'a>: Sized {
    /// The envelope key of the records array (`calls`, `usage_records`).
    const ENVELOPE_KEY: &'static str;
    /// The wire form serde parses.
    type Wire: serde::Deserialize<'a>;
    /// Types one record.
    fn from_wire(wire: Self::Wire) -> Result<Self, DecodeError>;
}
