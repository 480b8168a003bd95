//! Newtypes that can only hold valid values: sids, days, day ranges, resources and the
//! partition keys built from them.
//!
//! Everything past the program's edges (CLI, HTTP, database, API pages) takes these types
//! instead of raw strings. This module does no I/O.

mod day;
mod resource;
mod sid;

pub use day::{parse_day, DayRange};
pub use resource::{PartitionKey, Resource};
pub use sid::{AccountSid, ConnectAppSid, SidError};
