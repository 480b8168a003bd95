//! Newtypes that can only hold valid values: sids, days, day ranges, resources, the
//! partition keys built from them, and the Auth Token.
//!
//! Everything past the program's edges (CLI, HTTP, database, API pages) takes these types
//! instead of raw strings. This module does no I/O.

mod day;
mod resource;
mod sid;
mod token;

pub use day::{
    from_twilios_time, parse_day, BeforeTwilio, DayRange, NotADay, ReversedRange, EARLIEST_DAY,
};
pub use resource::{PartitionKey, Resource, UnknownResource};
pub use sid::{AccountSid, ConnectAppSid, SidError};
pub use token::{AuthToken, BadToken};
