//! The deletion journal: purges of an account and retention deletions of old partitions.
//!
//! A deletion is recorded as pending (its intent: which account, which resource, which days,
//! why) before any file is deleted, and marked done, with what it deleted, in the same
//! transaction that removes the registry rows of what it deleted. A pending row therefore
//! means "files may be half deleted; do it again": every export completes the pending rows
//! first (see `crate::erase`).

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::Serialize;

use super::{now_text, parsed, parsed_opt, Registry, RegistryError};
use crate::domain::{AccountSid, Resource};

/// Why partitions are deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeletionReason {
    /// `accounts purge`.
    Purge,
    /// The account was deauthorized longer ago than `--purge-deauthorized-after`.
    Deauthorized,
    /// A job's `retention_days`.
    Retention,
}

impl DeletionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionReason::Purge => "purge",
            DeletionReason::Deauthorized => "deauthorized",
            DeletionReason::Retention => "retention",
        }
    }

    /// Why, in words (for the account's status reason).
    pub fn describe(self) -> &'static str {
        match self {
            DeletionReason::Purge => "accounts purge",
            DeletionReason::Deauthorized => {
                "deauthorized for longer than --purge-deauthorized-after"
            }
            DeletionReason::Retention => "a job's retention_days",
        }
    }

    /// Whether the whole account goes (and the account is marked purged).
    pub fn purges(self) -> bool {
        self != DeletionReason::Retention
    }
}

impl FromStr for DeletionReason {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "purge" => Ok(DeletionReason::Purge),
            "deauthorized" => Ok(DeletionReason::Deauthorized),
            "retention" => Ok(DeletionReason::Retention),
            _ => Err(()),
        }
    }
}

impl fmt::Display for DeletionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What to delete: every partition of an account (`resource` and `before` `None`), or the
/// partitions of one resource before a day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletionRequest {
    pub account: AccountSid,
    pub resource: Option<Resource>,
    /// Only the days before this one.
    pub before: Option<NaiveDate>,
    pub reason: DeletionReason,
    /// The job whose retention asked for it.
    pub job: Option<String>,
}

impl DeletionRequest {
    /// Every partition of `account`, which is then kept as purged.
    pub fn purge(account: AccountSid, reason: DeletionReason) -> Self {
        Self {
            account,
            resource: None,
            before: None,
            reason,
            job: None,
        }
    }

    /// The partitions of `account` and `resource` before `before` (a job's retention).
    pub fn retention(
        account: AccountSid,
        resource: Resource,
        before: NaiveDate,
        job: &str,
    ) -> Self {
        Self {
            account,
            resource: Some(resource),
            before: Some(before),
            reason: DeletionReason::Retention,
            job: Some(job.to_owned()),
        }
    }

    /// The resources it covers.
    pub fn resources(&self) -> Vec<Resource> {
        match self.resource {
            Some(r) => vec![r],
            None => Resource::ALL.to_vec(),
        }
    }

    /// Whether it covers `day`.
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.before.is_none_or(|before| day < before)
    }
}

/// A journal row: a deletion asked for, and, once done, what it deleted.
#[derive(Clone, Debug, Serialize)]
pub struct Deletion {
    pub id: i64,
    pub account_sid: AccountSid,
    /// `None`: every resource.
    #[serde(serialize_with = "resource_or_all")]
    pub resource: Option<Resource>,
    /// `None`: every day.
    pub before_day: Option<NaiveDate>,
    pub reason: DeletionReason,
    pub job: Option<String>,
    pub requested_at: String,
    /// `None` while pending.
    pub done_at: Option<String>,
    pub partitions: i64,
    pub bytes: i64,
    /// Why it could not be completed the last time it was tried (`None` once done).
    pub last_error: Option<String>,
}

impl Deletion {
    /// What it asks for.
    pub fn request(&self) -> DeletionRequest {
        DeletionRequest {
            account: self.account_sid.clone(),
            resource: self.resource,
            before: self.before_day,
            reason: self.reason,
            job: self.job.clone(),
        }
    }
}

fn resource_or_all<S: serde::Serializer>(r: &Option<Resource>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.map_or("all", Resource::table_name))
}

const COLUMNS: &str =
    "id, account_sid, resource, before_day, reason, job, requested_at, done_at, partitions, bytes, last_error";

/// A `deletions` row as stored.
#[derive(sqlx::FromRow)]
struct DeletionRow {
    id: i64,
    account_sid: String,
    resource: Option<String>,
    before_day: Option<String>,
    reason: String,
    job: Option<String>,
    requested_at: String,
    done_at: Option<String>,
    partitions: i64,
    bytes: i64,
    last_error: Option<String>,
}

impl TryFrom<DeletionRow> for Deletion {
    type Error = RegistryError;
    fn try_from(r: DeletionRow) -> Result<Self, RegistryError> {
        Ok(Deletion {
            id: r.id,
            account_sid: parsed("account sid", r.account_sid)?,
            resource: parsed_opt("resource", r.resource)?,
            before_day: parsed_opt("deletion day", r.before_day)?,
            reason: r.reason.parse().map_err(|()| RegistryError::Corrupt {
                what: "deletion reason",
                value: r.reason.clone(),
            })?,
            job: r.job,
            requested_at: r.requested_at,
            done_at: r.done_at,
            partitions: r.partitions,
            bytes: r.bytes,
            last_error: r.last_error,
        })
    }
}

impl Registry {
    /// Records the intent to delete, before anything is deleted. A purge also marks the
    /// account purged (exports skip it from now on), in the same transaction.
    pub async fn request_deletion(&self, r: &DeletionRequest) -> Result<Deletion, RegistryError> {
        let now = now_text();
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "insert into deletions (account_sid, resource, before_day, reason, job, requested_at, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $6, $6) returning id",
        )
        .bind(r.account.as_str())
        .bind(r.resource.map(Resource::table_name))
        .bind(r.before.map(|d| d.to_string()))
        .bind(r.reason.as_str())
        .bind(r.job.as_deref())
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        if r.reason.purges() {
            // Why it had been deauthorized is kept, after why it was purged.
            let was: Option<(String, Option<String>)> =
                sqlx::query_as("select status, status_reason from accounts where sid = $1")
                    .bind(r.account.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            let kept = match was {
                Some((status, Some(why))) if status == "deauthorized" => {
                    format!("; deauthorized before: {why}")
                }
                _ => String::new(),
            };
            sqlx::query(
                "update accounts set status = 'purged', status_reason = $2, updated_at = $3 where sid = $1",
            )
            .bind(r.account.as_str())
            .bind(format!("purged at {now}: {}{kept}", r.reason.describe()))
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Deletion {
            id,
            account_sid: r.account.clone(),
            resource: r.resource,
            before_day: r.before,
            reason: r.reason,
            job: r.job.clone(),
            requested_at: now,
            done_at: None,
            partitions: 0,
            bytes: 0,
            last_error: None,
        })
    }

    /// Records why pending deletion `id` could not be completed (shown by `status`).
    pub async fn deletion_failed(&self, id: i64, error: &str) -> Result<(), RegistryError> {
        sqlx::query(
            "update deletions set last_error = $2, updated_at = $3 where id = $1 and done_at is null",
        )
        .bind(id)
        .bind(error)
        .bind(now_text())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The deletions asked for and not done, oldest first.
    pub async fn pending_deletions(&self) -> Result<Vec<Deletion>, RegistryError> {
        let q = format!("select {COLUMNS} from deletions where done_at is null order by id");
        let rows: Vec<DeletionRow> = sqlx::query_as(&q).fetch_all(&self.pool).await?;
        rows.into_iter().map(Deletion::try_from).collect()
    }

    /// Whether deletion `id` is still pending.
    pub async fn deletion_pending(&self, id: i64) -> Result<bool, RegistryError> {
        let n: i64 =
            sqlx::query_scalar("select count(*) from deletions where id = $1 and done_at is null")
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
        Ok(n > 0)
    }

    /// Every pending deletion and, for each account, its most recent done deletion of each
    /// reason, newest first (one query: a day of retention rows never hides a purge).
    pub async fn recent_deletions(&self) -> Result<Vec<Deletion>, RegistryError> {
        let q = format!(
            "select {COLUMNS} from deletions where done_at is null or id in
               (select max(id) from deletions where done_at is not null group by account_sid, reason)
             order by id desc"
        );
        let rows: Vec<DeletionRow> = sqlx::query_as(&q).fetch_all(&self.pool).await?;
        rows.into_iter().map(Deletion::try_from).collect()
    }

    /// Marks `deletion` done with what it deleted, and removes the registry rows of what it
    /// covers, in one transaction: the partitions and failed windows of its days, and for a
    /// purge also the account's checkpoints and job runs (a new authorization starts clean).
    /// Returns when it was done.
    pub async fn finish_deletion(
        &self,
        deletion: &Deletion,
        partitions: u64,
        bytes: u64,
    ) -> Result<String, RegistryError> {
        let now = now_text();
        let r = deletion.request();
        let sid = r.account.as_str();
        let before = r.before.map(|d| d.to_string());
        let mut tx = self.pool.begin().await?;
        for resource in r.resources() {
            for table in ["partitions", "window_failures"] {
                let q = format!(
                    "delete from {table} where account_sid = $1 and resource = $2 and ($3 is null or day < $3)"
                );
                sqlx::query(&q)
                    .bind(sid)
                    .bind(resource.table_name())
                    .bind(before.as_deref())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        if r.reason.purges() {
            for table in ["checkpoints", "job_accounts"] {
                sqlx::query(&format!("delete from {table} where account_sid = $1"))
                    .bind(sid)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        sqlx::query(
            "update deletions set done_at = $2, partitions = $3, bytes = $4, last_error = null, updated_at = $2 where id = $1",
        )
        .bind(deletion.id)
        .bind(&now)
        .bind(partitions as i64)
        .bind(bytes as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(now)
    }

    /// Whether the registry has partitions or failed windows of `account` and `resource`
    /// before `before` (what a retention would delete).
    pub async fn has_rows_before(
        &self,
        account: &AccountSid,
        resource: Resource,
        before: NaiveDate,
    ) -> Result<bool, RegistryError> {
        let n: i64 = sqlx::query_scalar(
            "select (select count(*) from partitions where account_sid = $1 and resource = $2 and day < $3)
                  + (select count(*) from window_failures where account_sid = $1 and resource = $2 and day < $3)",
        )
        .bind(account.as_str())
        .bind(resource.table_name())
        .bind(before.to_string())
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Deauthorized accounts whose grant was found gone before `before` (RFC 3339), by sid.
    pub async fn deauthorized_before(
        &self,
        before: &str,
    ) -> Result<Vec<AccountSid>, RegistryError> {
        let rows: Vec<String> = sqlx::query_scalar(
            "select sid from accounts where status = 'deauthorized' and deauthorized_at is not null and deauthorized_at < $1 order by sid",
        )
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|s| parsed("account sid", s)).collect()
    }
}
