//! Leases: at most one process exports an (account, resource) at a time.
//!
//! A lease is a row per pair with its holder and an expiry. It is taken in one statement
//! (insert, or take over a row whose expiry has passed, and count the rows that changed), so
//! two processes racing for it cannot both win, on SQLite or Postgres. The holder renews it
//! while it works and deletes it when done; a holder that crashed keeps it only until it
//! expires. Expiry uses the wall clock of the processes that share the database, which is
//! why this module, unlike the scheduler's planning, reads the clock itself.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{Registry, RegistryError};
use crate::domain::{AccountSid, Resource};

/// Who holds a lease: this process's id and a random part, unique per [`LeaseHolder::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseHolder(String);

impl LeaseHolder {
    pub fn new() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self(format!("pid {} {}", std::process::id(), &id[..8]))
    }

    /// A holder with a given name (tests that stand in for another process).
    pub fn named(name: &str) -> Self {
        Self(name.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for LeaseHolder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for LeaseHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A lease as `status` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct LeaseRecord {
    pub account_sid: String,
    pub resource: String,
    pub holder: String,
    pub acquired_at: String,
    pub expires_at: String,
    /// Whether its expiry has passed (anyone may take it over).
    pub expired: bool,
}

fn text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn expiry(ttl: Duration) -> (String, String) {
    let now = Utc::now();
    let ttl = chrono::TimeDelta::from_std(ttl).unwrap_or(chrono::TimeDelta::MAX);
    let until = now
        .checked_add_signed(ttl)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    (text(now), text(until))
}

impl Registry {
    /// Takes the lease of `account` and `resource` for `ttl` if it is free, expired, or
    /// already `holder`'s. False if another holder has it.
    pub async fn try_lease(
        &self,
        account: &AccountSid,
        resource: Resource,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<bool, RegistryError> {
        let (now, until) = expiry(ttl);
        let done = sqlx::query(
            "insert into leases (account_sid, resource, holder, expires_at, acquired_at, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $5, $5)
             on conflict (account_sid, resource) do update set
               holder = excluded.holder, expires_at = excluded.expires_at,
               acquired_at = excluded.acquired_at, updated_at = excluded.updated_at
             where leases.expires_at < excluded.acquired_at or leases.holder = excluded.holder",
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

    /// Extends `holder`'s lease by `ttl` from now. False if it is no longer `holder`'s.
    pub async fn renew_lease(
        &self,
        account: &AccountSid,
        resource: Resource,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<bool, RegistryError> {
        let (now, until) = expiry(ttl);
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
        let now = text(Utc::now());
        let rows = sqlx::query(
            "select account_sid, resource, holder, acquired_at, expires_at from leases order by account_sid, resource",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let expires_at: String = r.try_get("expires_at")?;
                Ok(LeaseRecord {
                    account_sid: r.try_get("account_sid")?,
                    resource: r.try_get("resource")?,
                    holder: r.try_get("holder")?,
                    acquired_at: r.try_get("acquired_at")?,
                    expired: expires_at < now,
                    expires_at,
                })
            })
            .collect()
    }
}
