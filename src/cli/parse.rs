//! Clap's parsers for typed arguments. Clap's message already quotes the value and names the
//! option ("invalid value 'AC1' for '--account <AC…>': …"), so these say only what was expected.

use chrono::NaiveDate;

use crate::domain::{parse_day, AccountSid, Resource};
use crate::scheduler::plan::Shard;

/// An account sid, around which spaces are forgiven.
pub(super) fn account_sid(text: &str) -> Result<AccountSid, String> {
    AccountSid::parse(text.trim()).map_err(|_| {
        format!(
            "not a valid account sid: expected {} followed by 32 hex digits",
            AccountSid::PREFIX
        )
    })
}

/// A UTC day.
pub(super) fn day(text: &str) -> Result<NaiveDate, &'static str> {
    parse_day(text).map_err(|_| "not a date: expected YYYY-MM-DD")
}

pub(super) fn resource(text: &str) -> Result<Resource, &'static str> {
    text.parse()
        .map_err(|_| "unknown resource: expected calls or usage-records")
}

pub(super) fn shard(text: &str) -> Result<Shard, &'static str> {
    Shard::parse(text).map_err(|_| "not a shard: expected I/N with 0 <= I < N, e.g. 0/4")
}

/// A count from `min` to `max` (clap's message on a bad value gives the range).
pub(super) fn count(min: u64, max: u64) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(min..=max)
}
