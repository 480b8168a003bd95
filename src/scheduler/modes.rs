//! Pseudonym modes are export-wide: the same number must give the same pseudonym in every
//! account, so the partitions of a resource with phone numbers or names (calls), of every
//! account in the registry, are all written in one mode (in clear, or pseudonymized under one
//! key). Before any window is exported (`run`, `schedule`, `backfill`, `demo`), [`mixed`]
//! checks that every recorded partition was written in the mode this export writes, except
//! those the export replaces: a `backfill` may change the mode (or rotate the key) only if it
//! covers every partition of another mode, of every account, within its range and accounts.
//! Otherwise nothing is exported and [`MixedModes`] says which partitions and the one backfill
//! that changes the mode. The registry checks again as it records each day
//! (`registry::ModeRule`), so two exports of different modes started together cannot both
//! succeed.
//!
//! Usage records carry no phone numbers or names: their mode is recorded but never checked.

use std::collections::HashSet;
use std::fmt;

use crate::batch;
use crate::domain::{AccountSid, DayRange, Resource};
use crate::pseudonym::PseudonymMode;
use crate::registry::{ModeSpan, Registry, RegistryError};

/// How many accounts' partitions a message lists before it counts the rest.
const LISTED: usize = 5;

/// An export that would mix modes within the export's partitions; nothing was exported.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.describe())]
pub struct MixedModes {
    pub resource: Resource,
    /// The mode this export writes.
    pub writing: PseudonymMode,
    /// The partitions written in another mode that this export does not replace, per account
    /// and mode.
    pub found: Vec<ModeSpan>,
    /// Every day of another mode, with the days the export replaces (a backfill's range).
    pub redo: DayRange,
}

/// The partitions of `resource`, of every account, written in another mode than `writing`
/// that the export does not replace (those of `accounts` on days within `replaced`): `None`
/// when there are none. One aggregate query, whatever the number of accounts.
pub async fn mixed(
    registry: &Registry,
    resource: Resource,
    accounts: &[AccountSid],
    writing: &PseudonymMode,
    replaced: Option<DayRange>,
) -> Result<Option<MixedModes>, RegistryError> {
    if !batch::columns(resource).iter().any(|c| c.pseudonymized) {
        return Ok(None);
    }
    let all = registry
        .partitions_not_in_mode(resource, writing, None)
        .await?;
    let ours: HashSet<&AccountSid> = accounts.iter().collect();
    let covered = |s: &ModeSpan| {
        replaced.is_some_and(|r| {
            ours.contains(&s.account) && s.first_day >= r.first() && s.last_day <= r.last()
        })
    };
    let found: Vec<ModeSpan> = all.iter().filter(|s| !covered(s)).cloned().collect();
    let (Some(first), Some(last)) = (
        found.iter().map(|s| s.first_day).min(),
        found.iter().map(|s| s.last_day).max(),
    ) else {
        return Ok(None);
    };
    let (first, last) = match replaced {
        Some(r) => (first.min(r.first()), last.max(r.last())),
        None => (first, last),
    };
    let first = all.iter().map(|s| s.first_day).fold(first, Ord::min);
    let last = all.iter().map(|s| s.last_day).fold(last, Ord::max);
    Ok(Some(MixedModes {
        resource,
        writing: writing.clone(),
        found,
        redo: DayRange::new(first, last).expect("first is at most last"),
    }))
}

impl MixedModes {
    /// The days to export again: every day of another mode, and those the export was to
    /// replace.
    pub fn days_to_redo(&self) -> DayRange {
        self.redo
    }

    fn describe(&self) -> String {
        let how = match self.writing {
            PseudonymMode::Clear => "without --pseudonymize",
            PseudonymMode::Pseudonymized(_) => "with --pseudonymize and this key",
        };
        format!(
            "{resource}: this export writes phone numbers and names {writing}, but {found}; \
             an export's partitions must not mix modes or keys (a number has one pseudonym in \
             every account), so nothing was exported. To change the mode or the key, export \
             every exported day of every account again in one backfill, without --account: \
             twilio-export backfill --resource {cli} --from {from} --to {to} ({how}); \
             accounts that cannot be exported (deauthorized, suspended or closed, or removed \
             from the registry) must be purged first (twilio-export accounts purge). Or export \
             with the settings they were written with",
            resource = self.resource.table_name(),
            writing = Mode(&self.writing),
            found = Found(&self.found),
            cli = self.resource.cli_name(),
            from = self.redo.first(),
            to = self.redo.last(),
        )
    }
}

/// A mode as the message names it.
struct Mode<'a>(&'a PseudonymMode);

impl fmt::Display for Mode<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            PseudonymMode::Clear => f.write_str("in clear"),
            PseudonymMode::Pseudonymized(k) => write!(f, "pseudonymized with key {k}"),
        }
    }
}

/// The partitions found, as the message lists them.
struct Found<'a>(&'a [ModeSpan]);

impl fmt::Display for Found<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let accounts: HashSet<&AccountSid> = self.0.iter().map(|s| &s.account).collect();
        let listed: HashSet<&AccountSid> = {
            let mut all: Vec<&AccountSid> = accounts.iter().copied().collect();
            all.sort();
            all.into_iter().take(LISTED).collect()
        };
        for (i, s) in self
            .0
            .iter()
            .filter(|s| listed.contains(&s.account))
            .enumerate()
        {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "{} has {} partition{} from {} to {} written {}",
                s.account,
                s.partitions,
                if s.partitions == 1 { "" } else { "s" },
                s.first_day,
                s.last_day,
                Mode(&s.mode)
            )?;
        }
        if accounts.len() > listed.len() {
            write!(f, "; and {} more accounts", accounts.len() - listed.len())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::parse_day;
    use crate::pseudonym::PseudonymKey;

    #[test]
    fn the_message_names_accounts_days_and_the_one_backfill_that_fixes_it() {
        let key = PseudonymKey::new(b"sixteen byte key!").unwrap();
        let sid = AccountSid::parse("AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80").unwrap();
        let day = |s| parse_day(s).unwrap();
        let m = MixedModes {
            resource: Resource::Calls,
            writing: PseudonymMode::Pseudonymized(key.fingerprint().clone()),
            found: vec![ModeSpan {
                account: sid.clone(),
                mode: PseudonymMode::Clear,
                partitions: 3,
                first_day: day("2026-03-01"),
                last_day: day("2026-03-05"),
            }],
            redo: DayRange::new(day("2026-03-01"), day("2026-03-10")).unwrap(),
        };
        let text = m.to_string();
        for part in [
            "calls: this export writes phone numbers and names pseudonymized with key ",
            key.fingerprint().as_str(),
            &format!("{sid} has 3 partitions from 2026-03-01 to 2026-03-05 written in clear"),
            "without --account: twilio-export backfill --resource calls --from 2026-03-01 --to 2026-03-10 (with --pseudonymize",
        ] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
    }
}
