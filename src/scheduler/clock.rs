//! Where `now` comes from.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

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

/// How far the machine's clock may read ahead of the API's `Date` before checkpoints are held
/// at the API's day: more than an answer's latency and the `Date`'s whole seconds.
pub const CLOCK_SLACK: TimeDelta = TimeDelta::minutes(5);

/// The API's day when `now` is the machine's clock (`machine_clock`) and it reads ahead of
/// the API's by more than [`CLOCK_SLACK`] (`skew`, measured as the latest answer arrived) on a
/// later day; `None` otherwise. Checkpoints stop before that day and retention counts from
/// it: a clock set ahead would otherwise move them past days that are not over.
pub fn api_day(
    now: DateTime<Utc>,
    skew: Option<TimeDelta>,
    machine_clock: bool,
) -> Option<NaiveDate> {
    let skew = skew.filter(|s| machine_clock && *s > CLOCK_SLACK)?;
    let day = (now - skew).date_naive();
    (day < now.date_naive()).then_some(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_apis_day_counts_only_for_the_machines_clock_ahead_by_more_than_the_slack() {
        let now = at("2026-03-10T00:03:00Z");
        let ahead = |m| Some(TimeDelta::minutes(m));
        assert_eq!(
            api_day(now, ahead(10), true),
            Some("2026-03-09".parse().unwrap())
        );
        assert_eq!(
            api_day(now, ahead(10), false),
            None,
            "a clock the caller set"
        );
        assert_eq!(api_day(now, ahead(4), true), None, "within the slack");
        assert_eq!(api_day(now, ahead(-600), true), None, "behind");
        assert_eq!(api_day(now, None, true), None, "no answer yet");
        // Ahead, but the API's day is the same.
        assert_eq!(api_day(at("2026-03-10T12:00:00Z"), ahead(60), true), None);
    }
}
