//! Which registered accounts an export is for: the ones named (or all), in the shard, and
//! neither deauthorized nor suspended or closed on Twilio. Pure: the caller reads the
//! registry and passes its accounts.

use std::fmt;

use crate::domain::AccountSid;
use crate::registry::{Account, Skip, TwilioStatus};

/// The accounts of one export, by what can be done with them.
#[derive(Clone, Debug, Default)]
pub struct Selected {
    /// Exported.
    pub active: Vec<Account>,
    /// Named but not registered.
    pub unregistered: Vec<AccountSid>,
    /// Registered, but an export leaves them out, and why (in the order they came).
    pub skipped: Vec<(AccountSid, Skip)>,
}

impl Selected {
    /// The skipped accounts whose grant is gone.
    pub fn deauthorized(&self) -> Vec<AccountSid> {
        self.skipped
            .iter()
            .filter(|(_, why)| *why == Skip::Deauthorized)
            .map(|(sid, _)| sid.clone())
            .collect()
    }

    /// The skipped accounts Twilio reports suspended or closed, with that status.
    pub fn inactive(&self) -> Vec<(AccountSid, TwilioStatus)> {
        self.skipped
            .iter()
            .filter_map(|(sid, why)| match why {
                Skip::Twilio(status) => Some((sid.clone(), status.clone())),
                Skip::Deauthorized | Skip::Purged => None,
            })
            .collect()
    }
}

/// Chooses among `registered` the accounts `named` (every one when `named` is empty, in the
/// registry's order; otherwise in `named`'s order, each once however often it is named) that
/// fall in `shard`. A named account that is not registered is listed as such whatever the
/// shard, so that every shard reports it.
pub fn select(registered: &[Account], named: &[AccountSid], shard: Shard) -> Selected {
    let mut selected = Selected::default();
    let candidates: Vec<&Account> = if named.is_empty() {
        registered.iter().collect()
    } else {
        let mut seen = std::collections::HashSet::new();
        named
            .iter()
            .filter(|sid| seen.insert(*sid))
            .filter_map(|sid| {
                let found = registered.iter().find(|a| &a.sid == sid);
                if found.is_none() {
                    selected.unregistered.push(sid.clone());
                }
                found
            })
            .collect()
    };
    for a in candidates.into_iter().filter(|a| shard.contains(&a.sid)) {
        match a.skip() {
            None => selected.active.push(a.clone()),
            Some(why) => selected.skipped.push((a.sid.clone(), why)),
        }
    }
    selected
}

/// Shard `index` of `count` (`--shard I/N`): the accounts whose sid hashes to `index`.
/// The hash is of the sid alone, so an account stays in its shard as others come and go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// A text that is not a shard `I/N` with `0 <= I < N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a shard: expected I/N with 0 <= I < N, e.g. 0/4")]
pub struct NotAShard {
    text: String,
}

impl Shard {
    /// Parses `I/N` with `0 <= I < N`.
    pub fn parse(text: &str) -> Result<Self, NotAShard> {
        let bad = || NotAShard {
            text: text.chars().take(40).collect(),
        };
        let (i, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<u32>().map_err(|_| bad())?,
            n.trim().parse::<u32>().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }

    /// Every account (shard 0 of 1).
    pub fn all() -> Self {
        Self { index: 0, count: 1 }
    }

    pub fn contains(&self, sid: &AccountSid) -> bool {
        // FNV-1a: stable across versions and platforms, unlike std's hasher.
        let h = sid
            .as_str()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        h % u64::from(self.count) == u64::from(self.index)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::registry::AccountStatus;

    pub(crate) fn sid(i: u32) -> AccountSid {
        AccountSid::parse(&format!("AC{i:032x}")).unwrap()
    }

    /// A registered account with sid number `i`.
    pub(crate) fn account(i: u32, status: AccountStatus, twilio: Option<&str>) -> Account {
        Account {
            sid: sid(i),
            credential_sid: sid(i),
            status,
            status_reason: None,
            twilio_status: twilio.map(TwilioStatus::parse),
            friendly_name: None,
            owner_account_sid: None,
            connected_at: "2026-03-01T00:00:00Z".to_owned(),
            verified_at: None,
            deauthorized_at: None,
        }
    }

    fn registered() -> Vec<Account> {
        vec![
            account(1, AccountStatus::Active, Some("active")),
            account(2, AccountStatus::Deauthorized, None),
            account(3, AccountStatus::Active, Some("suspended")),
            account(4, AccountStatus::Active, None),
            account(5, AccountStatus::Active, Some("closed")),
        ]
    }

    fn sids(accounts: &[Account]) -> Vec<AccountSid> {
        accounts.iter().map(|a| a.sid.clone()).collect()
    }

    #[test]
    fn all_accounts_but_the_deauthorized_suspended_and_closed() {
        let s = select(&registered(), &[], Shard::all());
        assert_eq!(sids(&s.active), vec![sid(1), sid(4)]);
        assert!(s.unregistered.is_empty());
        assert_eq!(s.deauthorized(), vec![sid(2)]);
        assert_eq!(
            s.inactive(),
            vec![
                (sid(3), TwilioStatus::Suspended),
                (sid(5), TwilioStatus::Closed)
            ]
        );
    }

    #[test]
    fn named_accounts_in_their_order_and_the_unregistered_listed() {
        let named = [sid(4), sid(9), sid(2), sid(1)];
        let s = select(&registered(), &named, Shard::all());
        assert_eq!(sids(&s.active), vec![sid(4), sid(1)]);
        assert_eq!(s.unregistered, vec![sid(9)]);
        assert_eq!(s.skipped, vec![(sid(2), Skip::Deauthorized)]);
    }

    #[test]
    fn an_account_named_twice_is_selected_once() {
        let named = [
            sid(4),
            sid(1),
            sid(4),
            sid(9),
            sid(9),
            sid(2),
            sid(2),
            sid(1),
        ];
        let s = select(&registered(), &named, Shard::all());
        assert_eq!(sids(&s.active), vec![sid(4), sid(1)]);
        assert_eq!(s.unregistered, vec![sid(9)]);
        assert_eq!(s.skipped, vec![(sid(2), Skip::Deauthorized)]);
    }

    #[test]
    fn shards_split_the_selection_and_each_reports_the_unregistered() {
        let all: Vec<Account> = (0..40)
            .map(|i| account(i, AccountStatus::Active, None))
            .collect();
        let shards = [Shard::parse("0/2").unwrap(), Shard::parse("1/2").unwrap()];
        let parts: Vec<Selected> = shards.iter().map(|s| select(&all, &[], *s)).collect();
        let mut union: Vec<AccountSid> = parts.iter().flat_map(|p| sids(&p.active)).collect();
        union.sort();
        assert_eq!(union, sids(&all));
        assert!(parts.iter().all(|p| !p.active.is_empty()));
        for shard in shards {
            assert_eq!(select(&all, &[sid(99)], shard).unregistered, vec![sid(99)]);
        }
    }

    #[test]
    fn shards_split_accounts_and_parse_strictly() {
        let sids: Vec<AccountSid> = (0..200)
            .map(|i| AccountSid::parse(&format!("AC{i:032x}")).unwrap())
            .collect();
        let shards: Vec<Shard> = (0..4)
            .map(|i| Shard::parse(&format!("{i}/4")).unwrap())
            .collect();
        for sid in &sids {
            assert_eq!(shards.iter().filter(|s| s.contains(sid)).count(), 1);
            assert!(Shard::all().contains(sid));
        }
        assert!(shards
            .iter()
            .all(|s| sids.iter().filter(|a| s.contains(a)).count() > 20));
        for bad in ["4/4", "1/0", "1", "a/b", "-1/3", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }
}
