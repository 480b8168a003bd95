//! Pseudonym modes are never mixed within an (account, resource): before any window is
//! exported (`run`, `schedule`, `backfill`, `demo`), the partitions the registry recorded for
//! the accounts about to be exported must have been written in the mode this export writes
//! (in clear, or pseudonymized under the same key), except those the export replaces (a
//! `backfill`'s range). Otherwise nothing is exported and [`MixedModes`] says which accounts,
//! which days and how to export them again.
//!
//! Only resources with columns that carry phone numbers or names are checked: the partitions
//! of the others (usage records) are the same in either mode, so their mode is recorded but
//! never stands in the way.

use std::fmt;

use crate::batch;
use crate::domain::{AccountSid, DayRange, Resource};
use crate::pseudonym::PseudonymMode;
use crate::registry::{ModeSpan, Registry, RegistryError};

/// An export that would mix modes within an account's partitions; nothing was exported.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.describe())]
pub struct MixedModes {
    pub resource: Resource,
    /// The mode this export writes.
    pub writing: PseudonymMode,
    /// The partitions written in another mode, per account and mode.
    pub found: Vec<ModeSpan>,
    /// The days the export replaces (a backfill's range), if any.
    pub replaced: Option<DayRange>,
}

/// The partitions of `accounts` and `resource` that were written in another mode than
/// `writing`, on days outside `replaced`: `None` when there are none.
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
    let found: Vec<ModeSpan> = registry
        .partitions_not_in_mode(resource, writing, replaced)
        .await?
        .into_iter()
        .filter(|s| accounts.contains(&s.account))
        .collect();
    Ok((!found.is_empty()).then(|| MixedModes {
        resource,
        writing: writing.clone(),
        found,
        replaced,
    }))
}

impl MixedModes {
    /// The days to export again: those found, and those the export was to replace.
    pub fn days_to_redo(&self) -> DayRange {
        let first = self.found.iter().map(|s| s.first_day).min();
        let last = self.found.iter().map(|s| s.last_day).max();
        let (mut first, mut last) = (
            first.expect("found is never empty"),
            last.expect("found is never empty"),
        );
        if let Some(r) = self.replaced {
            (first, last) = (first.min(r.first()), last.max(r.last()));
        }
        DayRange::new(first, last).expect("first is at most last")
    }

    fn describe(&self) -> String {
        let mut accounts: Vec<&AccountSid> = self.found.iter().map(|s| &s.account).collect();
        accounts.dedup();
        let redo = self.days_to_redo();
        let flags: String = accounts.iter().map(|a| format!(" --account {a}")).collect();
        let how = match self.writing {
            PseudonymMode::Clear => "without --pseudonymize",
            PseudonymMode::Pseudonymized(_) => "with --pseudonymize and this key",
        };
        format!(
            "{resource}: this export writes phone numbers and names {writing}, but {found}; \
             one account's partitions must not mix modes or keys, so nothing was exported. \
             Export those days again in this mode: twilio-export backfill --resource {cli} \
             --from {from} --to {to}{flags} ({how}); or export with the settings they were \
             written with",
            resource = self.resource.table_name(),
            writing = Mode(&self.writing),
            found = Found(&self.found),
            cli = self.resource.cli_name(),
            from = redo.first(),
            to = redo.last(),
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
        for (i, s) in self.0.iter().enumerate() {
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::parse_day;
    use crate::pseudonym::PseudonymKey;

    #[test]
    fn the_message_names_accounts_days_and_the_backfill_that_fixes_it() {
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
            replaced: Some(DayRange::new(day("2026-03-04"), day("2026-03-10")).unwrap()),
        };
        let text = m.to_string();
        for part in [
            "calls: this export writes phone numbers and names pseudonymized with key ",
            key.fingerprint().as_str(),
            &format!("{sid} has 3 partitions from 2026-03-01 to 2026-03-05 written in clear"),
            &format!("backfill --resource calls --from 2026-03-01 --to 2026-03-10 --account {sid} (with --pseudonymize"),
        ] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
    }
}
