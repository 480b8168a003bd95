//! Where `now` comes from.

use chrono::{DateTime, TimeDelta, Utc};

/// Where `now` comes from: the system clock, optionally shifted to start at a chosen instant
/// (tests and demos against the simulator). Time still flows at the normal rate.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    offset: TimeDelta,
}

impl Clock {
    pub fn system() -> Self {
        Self {
            offset: TimeDelta::zero(),
        }
    }

    /// A clock that reads `start` now and moves on from there.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self {
            offset: start - Utc::now(),
        }
    }

    /// Whether this is the system clock, unshifted.
    pub fn is_system(&self) -> bool {
        self.offset.is_zero()
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }
}
