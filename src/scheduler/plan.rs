//! Planning, as pure functions, for every command that exports (`backfill`, `demo`, `run`,
//! `schedule`) and for `status`: which accounts an export is for ([`select`]: named or all,
//! in the shard, deauthorized and suspended or closed ones left out), which days each account
//! needs ([`days_to_export`], [`AccountPlan`]), the windows with their page size in the order
//! they are exported ([`windows`]), how far a checkpoint may advance afterwards ([`advance`]),
//! and when a job is due ([`due_now`], [`next_due`]). No I/O and no clock: the caller reads the
//! registry and passes what it read, and "now" is always an argument.
//!
//! The rules of scheduled runs (README "Scheduled runs"):
//! - A run exports from `checkpoint − lookback_days` through today; an account without a
//!   checkpoint starts at the job's `start_date`, or `lookback_days` before today. Nothing
//!   before `start_date` is exported.
//! - Today is always exported and is never the checkpoint: it is still partial.
//! - The checkpoint advances to the newest day `D < today` such that every day from the first
//!   planned one through `D` was exported in this run or is remembered as a failed window, and
//!   never moves backwards.
//! - Failed windows are remembered (the registry's window failures) and their days are added
//!   to every run until they succeed: a run exports its range ∪ the outstanding failed days.
//! - A job is due for an account once its schedule fired after the last time it exported that
//!   account, or at once if it never did.

mod accounts;
mod due;

use std::collections::BTreeSet;

use chrono::{Days, NaiveDate};

pub use self::accounts::{select, NotAShard, Selected, Shard};
pub use self::due::{due_at, due_now, next_due, LastRuns};
use super::jobs::Job;
use crate::domain::{DayRange, PartitionKey, Resource};
use crate::export::{Window, PAGE_SIZE};
use crate::registry::Account;

/// The days to export for one account, or `None` when the job's `start_date` is after today.
pub fn days_to_export(
    job: &Job,
    checkpoint: Option<NaiveDate>,
    today: NaiveDate,
) -> Option<DayRange> {
    if job.start_date.is_some_and(|s| s > today) {
        return None;
    }
    let back = |d: NaiveDate| {
        d.checked_sub_days(Days::new(u64::from(job.lookback_days)))
            .unwrap_or(NaiveDate::MIN)
    };
    let mut first = match (checkpoint, job.start_date) {
        (Some(c), _) => back(c),
        (None, Some(s)) => s,
        (None, None) => back(today),
    };
    if let Some(s) = job.start_date {
        first = first.max(s);
    }
    // A checkpoint ahead of today (a clock set back) still re-exports today.
    DayRange::new(first.min(today), today).ok()
}

/// The newest day the checkpoint may move to after `range` was planned and the days in
/// `exported` succeeded (or are remembered as failed windows, to be retried): the end of the unbroken run of exported days from the range's first
/// day, never today or later. `None` when the first day did not succeed (or was today).
pub fn advance(
    range: DayRange,
    exported: &BTreeSet<NaiveDate>,
    today: NaiveDate,
) -> Option<NaiveDate> {
    range
        .days()
        .take_while(|d| *d < today && exported.contains(d))
        .last()
}

/// One account's share of a run: where to reach it and which days to export.
#[derive(Clone, Debug)]
pub struct AccountPlan {
    pub account: Account,
    /// From the checkpoint's lookback through today.
    pub days: DayRange,
    /// Days outside `days` whose windows failed before and are retried, oldest first.
    pub retry: Vec<NaiveDate>,
}

impl AccountPlan {
    /// `days` ∪ the days of `failed` before them (those in `days` are planned anyway).
    pub fn new(account: Account, days: DayRange, failed: &[NaiveDate]) -> Self {
        let retry = failed
            .iter()
            .copied()
            .filter(|d| *d < days.first())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Self {
            account,
            days,
            retry,
        }
    }

    /// Every day of `days` and nothing else (`backfill`, `demo`).
    pub fn range(account: Account, days: DayRange) -> Self {
        Self::new(account, days, &[])
    }

    pub fn includes(&self, day: NaiveDate) -> bool {
        (self.days.first() <= day && day <= self.days.last()) || self.retry.contains(&day)
    }

    /// The oldest day planned.
    pub fn first(&self) -> NaiveDate {
        self.retry.first().copied().unwrap_or(self.days.first())
    }

    /// How many windows are planned.
    pub fn window_count(&self) -> usize {
        self.days.len() + self.retry.len()
    }
}

/// Every day planned for any account of `plans`: a run that retries failed days has gaps
/// between them and the range, which it does not export.
pub fn planned_days(plans: &[AccountPlan]) -> BTreeSet<NaiveDate> {
    plans
        .iter()
        .flat_map(|p| p.days.days().chain(p.retry.iter().copied()))
        .collect()
}

/// The windows of `plans`, oldest day first and across accounts within a day, so that every
/// account's quota is used at once and an interrupted run has exported the oldest days, which
/// are what its checkpoint can advance over. Each asks pages of `page_size` records, or
/// [`PAGE_SIZE`] (the API's most) when `None`.
pub fn windows(resource: Resource, plans: &[AccountPlan], page_size: Option<u32>) -> Vec<Window> {
    let page_size = page_size.unwrap_or(PAGE_SIZE);
    let mut out = Vec::new();
    for day in planned_days(plans) {
        for p in plans {
            if p.includes(day) {
                out.push(Window {
                    key: PartitionKey {
                        resource,
                        account: p.account.sid.clone(),
                        day,
                    },
                    credential: p.account.credential_sid.clone(),
                    page_size,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use proptest::prelude::*;

    use super::*;
    use crate::domain::parse_day;
    use crate::scheduler::jobs;

    fn day(s: &str) -> NaiveDate {
        parse_day(s).unwrap()
    }

    fn job(lookback: u32, start: Option<&str>) -> Job {
        let mut text = format!(
            "name = \"j\"\nresource = \"calls\"\nschedule = \"0 0 * * * *\"\nlookback_days = {lookback}\n"
        );
        if let Some(s) = start {
            text.push_str(&format!("start_date = \"{s}\"\n"));
        }
        jobs::parse(Path::new("j.toml"), &text).unwrap()
    }

    fn range(a: &str, b: &str) -> Option<DayRange> {
        Some(DayRange::new(day(a), day(b)).unwrap())
    }

    #[test]
    fn days_follow_checkpoint_lookback_and_start_date() {
        let today = day("2026-03-10");
        // check(job, checkpoint, expected)
        let cases = [
            (
                job(3, None),
                Some("2026-03-09"),
                range("2026-03-06", "2026-03-10"),
            ),
            (
                job(0, None),
                Some("2026-03-09"),
                range("2026-03-09", "2026-03-10"),
            ),
            (job(3, None), None, range("2026-03-07", "2026-03-10")),
            (
                job(3, Some("2026-03-01")),
                None,
                range("2026-03-01", "2026-03-10"),
            ),
            (
                job(7, Some("2026-03-05")),
                Some("2026-03-09"),
                range("2026-03-05", "2026-03-10"),
            ),
            (job(3, Some("2026-03-11")), None, None),
            // Catch-up: a checkpoint a week old brings the whole missed week.
            (
                job(2, None),
                Some("2026-03-02"),
                range("2026-02-28", "2026-03-10"),
            ),
            (
                job(2, None),
                Some("2026-03-20"),
                range("2026-03-10", "2026-03-10"),
            ),
        ];
        for (job, checkpoint, expected) in cases {
            assert_eq!(
                days_to_export(&job, checkpoint.map(day), today),
                expected,
                "lookback {} start {:?} checkpoint {checkpoint:?}",
                job.lookback_days,
                job.start_date
            );
        }
    }

    #[test]
    fn advance_stops_at_the_first_gap_and_before_today() {
        let r = DayRange::new(day("2026-03-06"), day("2026-03-10")).unwrap();
        let today = day("2026-03-10");
        let set = |days: &[&str]| days.iter().map(|d| day(d)).collect::<BTreeSet<_>>();
        let all = set(&[
            "2026-03-06",
            "2026-03-07",
            "2026-03-08",
            "2026-03-09",
            "2026-03-10",
        ]);
        assert_eq!(advance(r, &all, today), Some(day("2026-03-09")));
        let gap = set(&["2026-03-06", "2026-03-07", "2026-03-09", "2026-03-10"]);
        assert_eq!(advance(r, &gap, today), Some(day("2026-03-07")));
        assert_eq!(advance(r, &set(&["2026-03-07"]), today), None);
        let only_today = DayRange::new(today, today).unwrap();
        assert_eq!(advance(only_today, &set(&["2026-03-10"]), today), None);
    }

    #[test]
    fn windows_go_day_by_day_across_accounts_with_their_page_size() {
        use crate::registry::AccountStatus;
        let a = accounts::tests::account(1, AccountStatus::Active, None);
        let b = accounts::tests::account(2, AccountStatus::Active, None);
        let range = DayRange::new(day("2026-03-01"), day("2026-03-02")).unwrap();
        let plans = [
            AccountPlan::range(a.clone(), range),
            AccountPlan::new(b.clone(), range, &[day("2026-02-20"), day("2026-03-02")]),
        ];
        let order: Vec<(String, String)> = windows(Resource::Calls, &plans, None)
            .iter()
            .map(|w| (w.key.account.to_string(), w.key.day.to_string()))
            .collect();
        let (a, b) = (a.sid.to_string(), b.sid.to_string());
        let expected = [
            (&b, "2026-02-20"),
            (&a, "2026-03-01"),
            (&b, "2026-03-01"),
            (&a, "2026-03-02"),
            (&b, "2026-03-02"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(s, d)| (s.to_string(), d.to_string()))
            .collect();
        assert_eq!(order, expected);
        assert!(windows(Resource::Calls, &plans, None)
            .iter()
            .all(|w| w.page_size == PAGE_SIZE));
        assert!(windows(Resource::Calls, &plans, Some(50))
            .iter()
            .all(|w| w.page_size == 50));
    }

    proptest! {
        /// Whatever succeeded, the checkpoint lands on an exported day before today, and every
        /// planned day up to it was exported.
        #[test]
        fn advance_never_skips_a_missing_day(
            len in 1u64..20,
            ok in proptest::collection::vec(any::<bool>(), 20),
        ) {
            let first = day("2026-03-01");
            let today = first + Days::new(len - 1);
            let r = DayRange::new(first, today).unwrap();
            let exported: BTreeSet<NaiveDate> =
                r.days().zip(&ok).filter(|(_, k)| **k).map(|(d, _)| d).collect();
            if let Some(d) = advance(r, &exported, today) {
                prop_assert!(d < today);
                prop_assert!(first.iter_days().take_while(|x| *x <= d).all(|x| exported.contains(&x)));
            } else {
                prop_assert!(!exported.contains(&first) || first == today);
            }
        }
    }
}
