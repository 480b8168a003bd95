//! Statements over many accounts at once, for runs over thousands of accounts: what a
//! scheduled run reads to plan (checkpoints, failed days, rows of earlier partitions) and its
//! leases (taken in one transaction, renewed and given back together), each in one statement
//! per chunk of [`CHUNK`] accounts where a loop would cost a round trip per account. The rules
//! are those of the single-account statements in `checkpoints`, `partitions` and `leases`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::NaiveDate;

use super::leases::{expiry, take_lease};
use super::{parsed, LeaseGrant, LeaseHolder, Registry, RegistryError};
use crate::domain::{AccountSid, Resource};

/// Accounts per statement: well within both backends' limits on bound parameters.
const CHUNK: usize = 500;

/// `$first, $first+1, …` for `n` parameters.
fn placeholders(first: usize, n: usize) -> String {
    let list: Vec<String> = (first..first + n).map(|i| format!("${i}")).collect();
    list.join(", ")
}

/// A row of (account, day).
#[derive(sqlx::FromRow)]
struct DayRow {
    account_sid: String,
    day: String,
}

/// A row of (account, day, rows).
#[derive(sqlx::FromRow)]
struct RowsRow {
    account_sid: String,
    day: String,
    rows_exported: i64,
}

impl Registry {
    /// The checkpoint day of each of `accounts` that has one, for `resource`.
    pub async fn checkpoints_of(
        &self,
        resource: Resource,
        accounts: &[AccountSid],
    ) -> Result<HashMap<AccountSid, NaiveDate>, RegistryError> {
        let mut out = HashMap::with_capacity(accounts.len());
        for chunk in accounts.chunks(CHUNK) {
            let q = format!(
                "select account_sid, day from checkpoints
                 where resource = $1 and day is not null and account_sid in ({})",
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query_as::<_, DayRow>(&q).bind(resource.table_name());
            for sid in chunk {
                query = query.bind(sid.as_str());
            }
            for r in query.fetch_all(&self.pool).await? {
                let day = parsed("checkpoint day", r.day)?;
                out.insert(parsed("account sid", r.account_sid)?, day);
            }
        }
        Ok(out)
    }

    /// [`Registry::failed_days`] of each of `accounts` (those with none are left out).
    pub async fn failed_days_of(
        &self,
        resource: Resource,
        accounts: &[AccountSid],
        from: NaiveDate,
    ) -> Result<HashMap<AccountSid, Vec<NaiveDate>>, RegistryError> {
        let mut out: HashMap<AccountSid, Vec<NaiveDate>> = HashMap::new();
        for chunk in accounts.chunks(CHUNK) {
            let q = format!(
                "select account_sid, day from window_failures
                 where resource = $1 and day >= $2 and account_sid in ({}) order by account_sid, day",
                placeholders(3, chunk.len())
            );
            let mut query = sqlx::query_as::<_, DayRow>(&q)
                .bind(resource.table_name())
                .bind(from.to_string());
            for sid in chunk {
                query = query.bind(sid.as_str());
            }
            for r in query.fetch_all(&self.pool).await? {
                let day = parsed("failed day", r.day)?;
                out.entry(parsed("account sid", r.account_sid)?)
                    .or_default()
                    .push(day);
            }
        }
        Ok(out)
    }

    /// The rows of each recorded partition of `accounts` and `resource` from `first` through
    /// `last`, by account and day.
    pub async fn partition_rows_of(
        &self,
        resource: Resource,
        accounts: &[AccountSid],
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<HashMap<AccountSid, HashMap<NaiveDate, u64>>, RegistryError> {
        let mut out: HashMap<AccountSid, HashMap<NaiveDate, u64>> = HashMap::new();
        for chunk in accounts.chunks(CHUNK) {
            let q = format!(
                "select account_sid, day, rows_exported from partitions
                 where resource = $1 and day >= $2 and day <= $3 and account_sid in ({})",
                placeholders(4, chunk.len())
            );
            let mut query = sqlx::query_as::<_, RowsRow>(&q)
                .bind(resource.table_name())
                .bind(first.to_string())
                .bind(last.to_string());
            for sid in chunk {
                query = query.bind(sid.as_str());
            }
            for r in query.fetch_all(&self.pool).await? {
                let day = parsed("partition day", r.day)?;
                let rows = u64::try_from(r.rows_exported).unwrap_or(0);
                out.entry(parsed("account sid", r.account_sid)?)
                    .or_default()
                    .insert(day, rows);
            }
        }
        Ok(out)
    }

    /// [`Registry::try_lease`] for each of `accounts`, in their order: the leases that are
    /// free, expired or already `holder`'s are taken in one transaction; each of the others is
    /// then tried on its own (its holder may have died, or released it meanwhile).
    pub async fn try_leases(
        &self,
        accounts: &[AccountSid],
        resource: Resource,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<Vec<LeaseGrant>, RegistryError> {
        let (now, until) = expiry(self.lease_clock.now(), ttl);
        let mut taken = Vec::with_capacity(accounts.len());
        let mut tx = self.pool.begin().await?;
        for sid in accounts {
            let done = take_lease(sid, resource, holder, &now, &until)
                .execute(&mut *tx)
                .await?;
            taken.push(done.rows_affected() > 0);
        }
        tx.commit().await?;
        let mut grants = Vec::with_capacity(accounts.len());
        for (sid, taken) in accounts.iter().zip(taken) {
            grants.push(match taken {
                true => LeaseGrant::Granted,
                false => self.try_lease(sid, resource, holder, ttl).await?,
            });
        }
        Ok(grants)
    }

    /// Extends `holder`'s leases of `sids` by `ttl` from now, and returns those of `sids` it no
    /// longer holds.
    pub async fn renew_leases(
        &self,
        sids: &[AccountSid],
        resource: Resource,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<Vec<AccountSid>, RegistryError> {
        let (now, until) = expiry(self.lease_clock.now(), ttl);
        let mut lost = Vec::new();
        for chunk in sids.chunks(CHUNK) {
            let list = placeholders(5, chunk.len());
            let q = format!(
                "update leases set expires_at = $1, updated_at = $2
                 where resource = $3 and holder = $4 and account_sid in ({list})"
            );
            let mut update = sqlx::query(&q)
                .bind(&until)
                .bind(&now)
                .bind(resource.table_name())
                .bind(holder.as_str());
            let list = placeholders(3, chunk.len());
            let q = format!(
                "select account_sid from leases where resource = $1 and holder = $2 and account_sid in ({list})"
            );
            let mut held = sqlx::query_scalar::<_, String>(&q)
                .bind(resource.table_name())
                .bind(holder.as_str());
            for sid in chunk {
                update = update.bind(sid.as_str());
                held = held.bind(sid.as_str());
            }
            update.execute(&self.pool).await?;
            let held: HashSet<String> = held.fetch_all(&self.pool).await?.into_iter().collect();
            lost.extend(
                chunk
                    .iter()
                    .filter(|sid| !held.contains(sid.as_str()))
                    .cloned(),
            );
        }
        Ok(lost)
    }

    /// Gives up `holder`'s leases of `sids` (those it still has).
    pub async fn release_leases(
        &self,
        sids: &[AccountSid],
        resource: Resource,
        holder: &LeaseHolder,
    ) -> Result<(), RegistryError> {
        for chunk in sids.chunks(CHUNK) {
            let q = format!(
                "delete from leases where resource = $1 and holder = $2 and account_sid in ({})",
                placeholders(3, chunk.len())
            );
            let mut query = sqlx::query(&q)
                .bind(resource.table_name())
                .bind(holder.as_str());
            for sid in chunk {
                query = query.bind(sid.as_str());
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }
}
