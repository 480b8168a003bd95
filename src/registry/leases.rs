//! Leases: at most one process exports an (account, resource) at a time.
//!
//! A lease is a row per pair with its holder, the holder's process (host, pid, instance) and
//! an expiry. It is taken in one statement (insert, or take over a row whose expiry has
//! passed, and count the rows that changed), so two processes racing for it cannot both win,
//! on SQLite or Postgres. The holder renews it while it works and deletes it when done. A
//! holder that crashed keeps it until it expires, unless its process is provably dead
//! ([`ProcessId::provably_dead`]: same host, pid gone or reused); then the lease is taken over
//! at once, by an update conditional on the dead holder, which again only one process wins.
//! Expiry uses the wall clock of the processes that share the database, which is why this
//! module, unlike the scheduler's planning, reads a clock itself: the registry's
//! [`LeaseClock`](super::LeaseClock), the system clock unless a test moves it ahead.

use std::fmt;
use std::time::Duration;

use super::{instant_text, parsed, AccountStatus, Registry, RegistryError};
use crate::domain::{AccountSid, Resource};
use crate::process::ProcessId;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Who holds a lease: an id unique per [`LeaseHolder::new`] and, for a real holder, its
/// process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseHolder {
    id: String,
    process: Option<ProcessId>,
}

impl LeaseHolder {
    /// A holder in this process.
    pub fn new() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            id: format!("pid {} {}", std::process::id(), &id[..8]),
            process: Some(ProcessId::current().clone()),
        }
    }

    /// A holder with a given name and no process: never provably dead (tests that stand in
    /// for another, live process).
    pub fn named(name: &str) -> Self {
        Self {
            id: name.to_owned(),
            process: None,
        }
    }

    /// A holder with a given name in the process `process` (tests that stand in for a
    /// process that has died).
    pub fn in_process(name: &str, process: ProcessId) -> Self {
        Self {
            id: name.to_owned(),
            process: Some(process),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.id
    }

    pub(super) fn host(&self) -> Option<&str> {
        self.process.as_ref().map(|p| p.host.as_str())
    }

    pub(super) fn pid(&self) -> Option<i64> {
        self.process.as_ref().map(|p| i64::from(p.pid))
    }

    pub(super) fn instance(&self) -> Option<&str> {
        self.process.as_ref().and_then(|p| p.instance.as_deref())
    }
}

impl Default for LeaseHolder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for LeaseHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host() {
            Some(host) => write!(f, "{} on {host}", self.id),
            None => f.write_str(&self.id),
        }
    }
}

/// What [`Registry::try_lease`] got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseGrant {
    /// The lease was free, expired, or already ours.
    Granted,
    /// Its holder's process was provably dead; the lease is ours now.
    TookOver { from: String },
    /// Another holder, alive or not provably dead, has it.
    Busy { holder: String },
}

impl LeaseGrant {
    pub fn is_granted(&self) -> bool {
        !matches!(self, LeaseGrant::Busy { .. })
    }
}

/// What [`Registry::standing`] found: whether a run may still publish a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// The lease is still the run's and the account still exported.
    Held,
    /// Another process took the lease over (this one stalled past its expiry).
    TakenOver,
    /// The account was removed from the registry (`accounts remove`) or purged since the run
    /// began: nothing more of it is published.
    Removed,
    /// The account was found deauthorized since the run began (its deauthorize callback, or
    /// another window's 401 reaching the accounts through its credential): nothing more of it
    /// is published.
    Deauthorized,
}

/// The process recorded with a lease or a run, as stored.
#[derive(sqlx::FromRow)]
pub(crate) struct ProcessRow {
    host: Option<String>,
    pid: Option<i64>,
    process: Option<String>,
}

impl ProcessRow {
    /// The process, if it was recorded.
    pub(crate) fn process(&self) -> Option<ProcessId> {
        match (&self.host, self.pid.and_then(|p| u32::try_from(p).ok())) {
            (Some(host), Some(pid)) => Some(ProcessId {
                host: host.clone(),
                pid,
                instance: self.process.clone(),
            }),
            _ => None,
        }
    }

    /// Whether the recorded process is provably dead (never when none was recorded).
    pub(crate) fn provably_dead(&self) -> bool {
        self.process().is_some_and(|p| p.provably_dead())
    }
}

/// A lease as `status` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct LeaseRecord {
    pub account_sid: AccountSid,
    #[serde(serialize_with = "super::table_name")]
    pub resource: Resource,
    pub holder: String,
    /// The holder's host and process id, when it recorded them.
    pub host: Option<String>,
    pub pid: Option<i64>,
    pub acquired_at: String,
    pub expires_at: String,
    /// Whether its expiry has passed (anyone may take it over).
    pub expired: bool,
    /// Whether its holder's process is provably dead, seen from here (anyone may take it over).
    pub holder_dead: bool,
}

/// A `leases` row as stored.
#[derive(sqlx::FromRow)]
struct LeaseRow {
    account_sid: String,
    resource: String,
    holder: String,
    #[sqlx(flatten)]
    process: ProcessRow,
    acquired_at: String,
    expires_at: String,
}

/// The holder of a lease, as stored.
#[derive(sqlx::FromRow)]
struct HolderRow {
    holder: String,
    #[sqlx(flatten)]
    process: ProcessRow,
}

/// Takes a lease that is free, expired or already the holder's; binds account, resource,
/// holder, host, pid, process, expiry and now. Changes one row if it was taken.
const TAKE_LEASE: &str = "insert into leases (account_sid, resource, holder, host, pid, process, expires_at, acquired_at, created_at, updated_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8)
     on conflict (account_sid, resource) do update set
       holder = excluded.holder, host = excluded.host, pid = excluded.pid,
       process = excluded.process, expires_at = excluded.expires_at,
       acquired_at = excluded.acquired_at, updated_at = excluded.updated_at
     where leases.expires_at < excluded.acquired_at or leases.holder = excluded.holder";

/// The statement that takes `account`'s lease of `resource` for `holder` until `until`
/// ([`TAKE_LEASE`], bound).
pub(super) fn take_lease<'q>(
    account: &'q AccountSid,
    resource: Resource,
    holder: &'q LeaseHolder,
    now: &'q str,
    until: &'q str,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    sqlx::query(TAKE_LEASE)
        .bind(account.as_str())
        .bind(resource.table_name())
        .bind(holder.as_str())
        .bind(holder.host())
        .bind(holder.pid())
        .bind(holder.instance())
        .bind(until)
        .bind(now)
}

/// Now and `ttl` from now, as stored.
pub(super) fn expiry(now: DateTime<Utc>, ttl: Duration) -> (String, String) {
    let ttl = chrono::TimeDelta::from_std(ttl).unwrap_or(chrono::TimeDelta::MAX);
    let until = now
        .checked_add_signed(ttl)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    (instant_text(now), instant_text(until))
}

impl Registry {
    /// Takes the lease of `account` and `resource` for `ttl` if it is free, expired, already
    /// `holder`'s, or held by a process that is provably dead.
    pub async fn try_lease(
        &self,
        account: &AccountSid,
        resource: Resource,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<LeaseGrant, RegistryError> {
        // Twice: a lease released between the two statements is free on the second try.
        for _ in 0..2 {
            let (now, until) = expiry(self.lease_clock.now(), ttl);
            let done = take_lease(account, resource, holder, &now, &until)
                .execute(&self.pool)
                .await?;
            if done.rows_affected() > 0 {
                return Ok(LeaseGrant::Granted);
            }
            if let Some(grant) = self
                .take_over_if_dead(account, resource, holder, &now, &until)
                .await?
            {
                return Ok(grant);
            }
        }
        Ok(LeaseGrant::Busy {
            holder: "another process".to_owned(),
        })
    }

    /// The second chance of [`Registry::try_lease`]: replaces a holder whose process is
    /// provably dead, only if that holder still has the row. `None` if there is no row.
    async fn take_over_if_dead(
        &self,
        account: &AccountSid,
        resource: Resource,
        holder: &LeaseHolder,
        now: &str,
        until: &str,
    ) -> Result<Option<LeaseGrant>, RegistryError> {
        let row: Option<HolderRow> = sqlx::query_as(
            "select holder, host, pid, process from leases where account_sid = $1 and resource = $2",
        )
        .bind(account.as_str())
        .bind(resource.table_name())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let current = row.holder;
        if !row.process.provably_dead() {
            return Ok(Some(LeaseGrant::Busy { holder: current }));
        }
        let done = sqlx::query(
            "update leases set holder = $4, host = $5, pid = $6, process = $7, expires_at = $8,
               acquired_at = $9, updated_at = $9
             where account_sid = $1 and resource = $2 and holder = $3",
        )
        .bind(account.as_str())
        .bind(resource.table_name())
        .bind(&current)
        .bind(holder.as_str())
        .bind(holder.host())
        .bind(holder.pid())
        .bind(holder.instance())
        .bind(until)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(Some(if done.rows_affected() > 0 {
            tracing::warn!(%account, %resource, dead = %current, "Took over the lease of a process that died");
            LeaseGrant::TookOver { from: current }
        } else {
            LeaseGrant::Busy { holder: current }
        }))
    }

    /// Whether `holder` still holds the lease of `account` and `resource`.
    pub async fn holds_lease(
        &self,
        account: &AccountSid,
        resource: Resource,
        holder: &LeaseHolder,
    ) -> Result<bool, RegistryError> {
        let row = sqlx::query(
            "select 1 as held from leases where account_sid = $1 and resource = $2 and holder = $3",
        )
        .bind(account.as_str())
        .bind(resource.table_name())
        .bind(holder.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Whether `holder` may still publish `account`'s `resource`, in one query: the account
    /// must still be registered and active (not removed with `accounts remove`, deauthorized
    /// or purged since the run began), and the lease still `holder`'s.
    pub async fn standing(
        &self,
        account: &AccountSid,
        resource: Resource,
        holder: &LeaseHolder,
    ) -> Result<Standing, RegistryError> {
        let (lease_holder, status): (Option<String>, Option<String>) = sqlx::query_as(
            "select (select holder from leases where account_sid = $1 and resource = $2) as holder,
                    (select status from accounts where sid = $1) as status",
        )
        .bind(account.as_str())
        .bind(resource.table_name())
        .fetch_one(&self.pool)
        .await?;
        let status = status.and_then(|s| s.parse::<AccountStatus>().ok());
        Ok(match status {
            Some(AccountStatus::Active) if lease_holder.as_deref() == Some(holder.as_str()) => {
                Standing::Held
            }
            Some(AccountStatus::Active) => Standing::TakenOver,
            Some(AccountStatus::Deauthorized) => Standing::Deauthorized,
            Some(AccountStatus::Purged) | None => Standing::Removed,
        })
    }

    /// Extends `holder`'s lease by `ttl` from now. False if it is no longer `holder`'s.
    pub async fn renew_lease(
        &self,
        account: &AccountSid,
        resource: Resource,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<bool, RegistryError> {
        let (now, until) = expiry(self.lease_clock.now(), ttl);
        let done = sqlx::query(
            "update leases set expires_at = $4, updated_at = $5
             where account_sid = $1 and resource = $2 and holder = $3",
        )
        .bind(account.as_str())
        .bind(resource.table_name())
        .bind(holder.as_str())
        .bind(&until)
        .bind(&now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Gives the lease up, if `holder` still has it.
    pub async fn release_lease(
        &self,
        account: &AccountSid,
        resource: Resource,
        holder: &LeaseHolder,
    ) -> Result<(), RegistryError> {
        sqlx::query("delete from leases where account_sid = $1 and resource = $2 and holder = $3")
            .bind(account.as_str())
            .bind(resource.table_name())
            .bind(holder.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every lease row, expired or not, by account and resource.
    pub async fn leases(&self) -> Result<Vec<LeaseRecord>, RegistryError> {
        let now = instant_text(self.lease_clock.now());
        let rows: Vec<LeaseRow> = sqlx::query_as(
            "select account_sid, resource, holder, host, pid, process, acquired_at, expires_at from leases
             order by account_sid, resource",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(LeaseRecord {
                    account_sid: parsed("account sid", r.account_sid)?,
                    resource: parsed("resource", r.resource)?,
                    holder: r.holder,
                    holder_dead: r.process.provably_dead(),
                    host: r.process.host,
                    pid: r.process.pid,
                    acquired_at: r.acquired_at,
                    expired: r.expires_at < now,
                    expires_at: r.expires_at,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::NewAccount;

    #[tokio::test]
    async fn a_pair_stands_only_while_its_lease_is_held_and_its_account_exported() {
        let (_dir, registry) = crate::registry::temporary().await;
        let sid = AccountSid::parse(&format!("AC{}", "1".repeat(32))).unwrap();
        let (us, them) = (LeaseHolder::named("us"), LeaseHolder::named("them"));
        let ttl = Duration::from_secs(600);
        let standing = || registry.standing(&sid, Resource::Calls, &us);
        registry
            .upsert_account(&NewAccount::unverified(sid.clone()))
            .await
            .unwrap();
        let lease = registry.try_lease(&sid, Resource::Calls, &us, ttl).await;
        assert!(lease.unwrap().is_granted());
        assert_eq!(standing().await.unwrap(), Standing::Held);

        registry.deauthorize(&sid, "revoked").await.unwrap();
        assert_eq!(standing().await.unwrap(), Standing::Deauthorized);
        registry
            .upsert_account(&NewAccount::unverified(sid.clone()))
            .await
            .unwrap();
        assert_eq!(standing().await.unwrap(), Standing::Held);

        registry
            .release_lease(&sid, Resource::Calls, &us)
            .await
            .unwrap();
        let lease = registry.try_lease(&sid, Resource::Calls, &them, ttl).await;
        assert!(lease.unwrap().is_granted());
        assert_eq!(standing().await.unwrap(), Standing::TakenOver);

        assert!(registry.remove_account(&sid).await.unwrap());
        assert_eq!(standing().await.unwrap(), Standing::Removed);
    }
}
