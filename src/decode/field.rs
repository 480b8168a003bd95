//! The kinds of field a record declares (see [`super::record`]): what each is typed into and
//! how. A kind is a marker type; `batch` knows which Arrow column each one fills.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::value::{self, ValueError};

/// How a field of one kind is typed from its raw JSON.
pub trait Field<'a> {
    /// The typed value, borrowing from the page where it can.
    type Value;
    fn read(raw: Option<&'a RawValue>) -> Result<Self::Value, ValueError>;
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $kind:ident: $value:ty = $read:path;)+) => {
        $(
            $(#[$doc])*
            #[derive(Debug)]
            pub enum $kind {}

            impl<'a> Field<'a> for $kind {
                type Value = $value;
                #[inline]
                fn read(raw: Option<&'a RawValue>) -> Result<Self::Value, ValueError> {
                    $read(raw)
                }
            }
        )+
    };
}

kinds! {
    /// Text that identifies the record (a call's `sid`, a usage record's `category`): present
    /// and non-empty, or the record fails.
    Key: Cow<'a, str> = value::required_text;
    /// Text; numbers and booleans are kept as their literal text.
    Text: Option<Cow<'a, str>> = value::text;
    /// Text that carries a phone number or a name (pseudonymized under `--pseudonymize`): as
    /// `Text`, but an error never quotes the value, since errors are logged and recorded.
    Personal: Option<Cow<'a, str>> = value::personal_text;
    /// A whole number, from a string or a number.
    Int64: Option<i64> = value::integer;
    /// An exact decimal scaled by 10^18.
    Decimal: Option<i128> = value::decimal;
    /// A UTC instant in microseconds.
    Timestamp: Option<i64> = value::timestamp;
    /// A day, as days since 1970-01-01.
    Date: Option<i32> = value::date;
    /// A JSON document (an object such as `subresource_uris`), kept as its raw text.
    Json: Option<&'a str> = json;
}

fn json(raw: Option<&RawValue>) -> Result<Option<&str>, ValueError> {
    Ok(value::json(raw))
}
