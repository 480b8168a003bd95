//! The `usage_records` columns: every field of a Usage Record, typed
//! (`docs/twilio-api.md` §5), from its declaration in [`crate::decode::usage_records`].

use super::columns::columns_of;
use crate::decode::usage_records::{usage_record_columns, UsageRecord};

/// No usage record field carries a phone number or a name.
pub const PSEUDONYMIZED: &[&str] = &[];

usage_record_columns!(columns_of);
