//! The `calls` columns: every field of the Call resource, typed (`docs/twilio-api.md` §4.2),
//! from its declaration in [`crate::decode::calls`].

use super::columns::columns_of;
use crate::decode::calls::{call_columns, Call};

call_columns!(columns_of);
