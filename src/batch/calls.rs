//! The `calls` columns: every field of the Call resource, typed (`docs/twilio-api.md` §4.2),
//! from its declaration in [`crate::decode::calls`].

use super::columns::columns_of;
use crate::decode::calls::{call_columns, Call};

/// The columns that carry a phone number or a name: pseudonyms under `--pseudonymize`. Their
/// kind (`Personal` in `decode::calls`) marks them; this list is what a test checks it against.
pub const PSEUDONYMIZED: &[&str] = &[
    "to",
    "from",
    "to_formatted",
    "from_formatted",
    "forwarded_from",
    "caller_name",
];

call_columns!(columns_of);
