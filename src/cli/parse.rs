//! Clap's parsers for typed arguments. Clap's message already quotes the value and names the
//! option ("invalid value 'AC1' for '--account <AC…>': …"), so these say only what was expected.

use chrono::NaiveDate;

use crate::domain::{parse_day, AccountSid, Resource};
use crate::scheduler::plan::Shard;

/// What a typed argument expected, for a value that is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(super) enum Expected {
    #[error(
        "not a valid account sid: expected {} followed by 32 hex digits",
        AccountSid::PREFIX
    )]
    AccountSid,
    #[error("not a date: expected YYYY-MM-DD")]
    Day,
    #[error("unknown resource: expected calls or usage-records")]
    Resource,
    #[error("not a shard: expected I/N with 0 <= I < N, e.g. 0/4")]
    Shard,
}

/// An account sid, around which spaces are forgiven.
pub(super) fn account_sid(text: &str) -> Result<AccountSid, Expected> {
    AccountSid::parse(text.trim()).map_err(|_| Expected::AccountSid)
}

/// A UTC day.
pub(super) fn day(text: &str) -> Result<NaiveDate, Expected> {
    parse_day(text).map_err(|_| Expected::Day)
}

pub(super) fn resource(text: &str) -> Result<Resource, Expected> {
    text.parse().map_err(|_| Expected::Resource)
}

pub(super) fn shard(text: &str) -> Result<Shard, Expected> {
    Shard::parse(text).map_err(|_| Expected::Shard)
}

/// A count from `min` to `max` (clap's message on a bad value gives the range).
pub(super) fn count(min: u64, max: u64) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(min..=max)
}
