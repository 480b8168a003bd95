//! When a job is due for an account: once its schedule fired after the last time it exported
//! that account, or at once if it never did. Pure: the caller reads when the job last exported
//! each account (`Registry::job_account_runs`) and passes `now`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::domain::AccountSid;
use crate::registry::Account;
use crate::scheduler::jobs::{CronSpec, Job};

/// When the job last exported each account, by account sid.
pub type LastRuns = HashMap<AccountSid, DateTime<Utc>>;

/// When a job with `schedule` is due for an account it last exported for `last`: the first
/// fire time after that, `now` if it never did, far in the future if the schedule never fires
/// again.
pub fn due_at(
    schedule: &CronSpec,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    match last {
        None => now,
        Some(last) => schedule
            .next_after(last)
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    }
}

fn account_due_at(job: &Job, a: &Account, last: &LastRuns, now: DateTime<Utc>) -> DateTime<Utc> {
    due_at(&job.schedule, last.get(&a.sid).copied(), now)
}

/// The accounts of `accounts` for which `job` is due at `now`.
pub fn due_now(
    job: &Job,
    mut accounts: Vec<Account>,
    last: &LastRuns,
    now: DateTime<Utc>,
) -> Vec<Account> {
    accounts.retain(|a| account_due_at(job, a, last, now) <= now);
    accounts
}

/// When `job` is next due for one of `accounts` (`now` if it is due already): `None` if there
/// are none, or its schedule never fires again for them.
pub fn next_due(
    job: &Job,
    accounts: &[Account],
    last: &LastRuns,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    accounts
        .iter()
        .map(|a| account_due_at(job, a, last, now))
        .min()
        .filter(|t| *t < DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::registry::AccountStatus;
    use crate::scheduler::jobs;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn account(i: u32) -> Account {
        super::super::accounts::tests::account(i, AccountStatus::Active, None)
    }

    fn hourly() -> Job {
        let text =
            "name = \"j\"\nresource = \"calls\"\nschedule = \"0 0 * * * *\"\nlookback_days = 1\n";
        jobs::parse(Path::new("j.toml"), text).unwrap()
    }

    #[test]
    fn an_account_is_due_once_the_schedule_fired_after_its_last_export() {
        let job = hourly();
        let now = at("2026-03-08T09:30:00Z");
        let (fresh, stale, never) = (account(1), account(2), account(3));
        let last: LastRuns = [
            (fresh.sid.clone(), at("2026-03-08T09:00:00Z")),
            (stale.sid.clone(), at("2026-03-08T08:00:00Z")),
        ]
        .into();
        let due = due_now(
            &job,
            vec![fresh.clone(), stale.clone(), never.clone()],
            &last,
            now,
        );
        let due: Vec<_> = due.iter().map(|a| a.sid.clone()).collect();
        assert_eq!(due, vec![stale.sid.clone(), never.sid.clone()]);
        assert_eq!(
            next_due(&job, std::slice::from_ref(&fresh), &last, now),
            Some(at("2026-03-08T10:00:00Z"))
        );
        assert_eq!(next_due(&job, &[fresh, never], &last, now), Some(now));
        assert_eq!(next_due(&job, &[], &last, now), None);
    }
}
