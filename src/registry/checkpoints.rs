//! Where scheduled exports resume: a checkpoint per (account, resource), with the latest
//! outcome of the scheduled runs that moved it, the last run of each job, and when each job
//! last exported each account (what makes an account due again).
//!
//! A checkpoint is the last day fully exported. It is written only by
//! [`Registry::commit_checkpoint`], after the partitions it covers were recorded, only by the
//! holder of the pair's lease, and it never moves backwards. Deciding how far it may advance is
//! the scheduler's business (`scheduler::plan`), not this module's.

use std::collections::HashMap;

use super::leases::LeaseHolder;
use super::{instant_text, now_text, parsed, parsed_opt, Registry, RegistryError, RunId};
use crate::domain::{AccountSid, Resource};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// A checkpoint and the latest scheduled outcome of one (account, resource), for `status`.
#[derive(Clone, Debug, Serialize)]
pub struct CheckpointRecord {
    pub account_sid: AccountSid,
    #[serde(serialize_with = "super::table_name")]
    pub resource: Resource,
    /// The last day fully exported, if any.
    pub day: Option<NaiveDate>,
    pub last_run_id: Option<i64>,
    /// When a scheduled run last exported every window it planned for this pair.
    pub last_success_at: Option<String>,
    /// Rows the last scheduled run exported for this pair.
    pub last_rows: i64,
    /// The first failure of the last run that had one; cleared by the next full success.
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub updated_at: String,
}

/// A `checkpoints` row as stored.
#[derive(sqlx::FromRow)]
struct CheckpointRow {
    account_sid: String,
    resource: String,
    day: Option<String>,
    last_run_id: Option<i64>,
    last_success_at: Option<String>,
    last_rows: i64,
    last_error: Option<String>,
    last_error_at: Option<String>,
    updated_at: String,
}

impl TryFrom<CheckpointRow> for CheckpointRecord {
    type Error = RegistryError;
    fn try_from(r: CheckpointRow) -> Result<Self, RegistryError> {
        Ok(CheckpointRecord {
            account_sid: parsed("account sid", r.account_sid)?,
            resource: parsed("resource", r.resource)?,
            day: parsed_opt("checkpoint day", r.day)?,
            last_run_id: r.last_run_id,
            last_success_at: r.last_success_at,
            last_rows: r.last_rows,
            last_error: r.last_error,
            last_error_at: r.last_error_at,
            updated_at: r.updated_at,
        })
    }
}

/// What one scheduled run did for one (account, resource).
#[derive(Clone, Debug)]
pub struct PairOutcome {
    /// The newest day the checkpoint may move to (it never moves backwards).
    pub advance_to: Option<NaiveDate>,
    /// Every window planned for the pair was exported.
    pub complete: bool,
    pub rows: u64,
    /// The first window failure, if any.
    pub error: Option<String>,
    pub run: Option<RunId>,
}

/// The last run of a job, for "due since its last run" and `status`.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct JobRunRecord {
    pub job: String,
    /// The instant the job last ran for (the scheduler's `now`, RFC 3339).
    pub last_due_at: String,
    pub run_id: Option<i64>,
    pub outcome: String,
    pub updated_at: String,
}

/// When a job last exported an account.
#[derive(sqlx::FromRow)]
struct JobAccountRow {
    account_sid: String,
    last_due_at: String,
}

impl Registry {
    /// The last day fully exported for `account` and `resource`.
    pub async fn checkpoint(
        &self,
        account: &AccountSid,
        resource: Resource,
    ) -> Result<Option<NaiveDate>, RegistryError> {
        let day: Option<String> = sqlx::query_scalar(
            "select day from checkpoints where account_sid = $1 and resource = $2 and day is not null",
        )
        .bind(account.as_str())
        .bind(resource.table_name())
        .fetch_optional(&self.pool)
        .await?;
        parsed_opt("checkpoint day", day)
    }

    /// Records a scheduled run's outcome for one pair and moves its checkpoint forward to
    /// `outcome.advance_to` (never backwards), in one transaction, only while `holder` still
    /// holds the pair's lease. Returns false, changing nothing, if the lease was lost.
    ///
    /// The caller passes only days whose partitions are already recorded.
    pub async fn commit_checkpoint(
        &self,
        account: &AccountSid,
        resource: Resource,
        holder: &LeaseHolder,
        outcome: &PairOutcome,
    ) -> Result<bool, RegistryError> {
        let now = now_text();
        let mut tx = self.pool.begin().await?;
        // Writing the lease row first takes SQLite's write lock before anything is read, and
        // proves in the same transaction that no one has taken the lease over.
        let held = sqlx::query(
            "update leases set updated_at = $4 where account_sid = $1 and resource = $2 and holder = $3",
        )
        .bind(account.as_str())
        .bind(resource.table_name())
        .bind(holder.as_str())
        .bind(&now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if !held {
            tx.rollback().await?;
            return Ok(false);
        }
        let day = outcome.advance_to.map(|d| d.format("%Y-%m-%d").to_string());
        let success_at = outcome.complete.then(|| now.clone());
        let (error, error_at) = match &outcome.error {
            Some(e) => (Some(e.as_str()), Some(now.as_str())),
            None => (None, None),
        };
        sqlx::query(
            "insert into checkpoints (account_sid, resource, day, last_run_id, last_success_at, last_rows, last_error, last_error_at, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
             on conflict (account_sid, resource) do update set
               day = case when excluded.day is not null and (checkpoints.day is null or excluded.day > checkpoints.day)
                          then excluded.day else checkpoints.day end,
               last_run_id = coalesce(excluded.last_run_id, checkpoints.last_run_id),
               last_success_at = coalesce(excluded.last_success_at, checkpoints.last_success_at),
               last_rows = excluded.last_rows,
               last_error = case when excluded.last_success_at is not null then null
                                 else coalesce(excluded.last_error, checkpoints.last_error) end,
               last_error_at = case when excluded.last_success_at is not null then null
                                    else coalesce(excluded.last_error_at, checkpoints.last_error_at) end,
               updated_at = excluded.updated_at",
        )
        .bind(account.as_str())
        .bind(resource.table_name())
        .bind(day.as_deref())
        .bind(outcome.run.map(|r| r.0))
        .bind(success_at.as_deref())
        .bind(outcome.rows as i64)
        .bind(error)
        .bind(error_at)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every checkpoint, by account and resource.
    pub async fn checkpoints(&self) -> Result<Vec<CheckpointRecord>, RegistryError> {
        let rows: Vec<CheckpointRow> = sqlx::query_as(
            "select account_sid, resource, day, last_run_id, last_success_at, last_rows, last_error, last_error_at, updated_at
             from checkpoints order by account_sid, resource",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(CheckpointRecord::try_from).collect()
    }

    /// The instant `job` last ran for, if it ever ran.
    pub async fn last_job_run(&self, job: &str) -> Result<Option<DateTime<Utc>>, RegistryError> {
        let at: Option<String> =
            sqlx::query_scalar("select last_due_at from job_runs where job = $1")
                .bind(job)
                .fetch_optional(&self.pool)
                .await?;
        parsed_opt("job run time", at)
    }

    /// Records that `job` ran for the instant `due_at`.
    pub async fn record_job_run(
        &self,
        job: &str,
        due_at: DateTime<Utc>,
        run: Option<RunId>,
        outcome: &str,
    ) -> Result<(), RegistryError> {
        let now = now_text();
        sqlx::query(
            "insert into job_runs (job, last_due_at, run_id, outcome, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $5)
             on conflict (job) do update set
               last_due_at = excluded.last_due_at, run_id = excluded.run_id,
               outcome = excluded.outcome, updated_at = excluded.updated_at",
        )
        .bind(job)
        .bind(instant_text(due_at))
        .bind(run.map(|r| r.0))
        .bind(outcome)
        .bind(&now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The last run of every job that ever ran, by name.
    pub async fn job_runs(&self) -> Result<Vec<JobRunRecord>, RegistryError> {
        Ok(sqlx::query_as(
            "select job, last_due_at, run_id, outcome, updated_at from job_runs order by job",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// When `job` last exported each account (the scheduler's `now` then), by account sid.
    pub async fn job_account_runs(
        &self,
        job: &str,
    ) -> Result<HashMap<AccountSid, DateTime<Utc>>, RegistryError> {
        let rows: Vec<JobAccountRow> =
            sqlx::query_as("select account_sid, last_due_at from job_accounts where job = $1")
                .bind(job)
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    parsed("account sid", r.account_sid)?,
                    parsed("job run time", r.last_due_at)?,
                ))
            })
            .collect()
    }

    /// Records that `job` exported `accounts` for the instant `due_at`, in one transaction.
    pub async fn record_job_accounts(
        &self,
        job: &str,
        accounts: &[AccountSid],
        due_at: DateTime<Utc>,
        run: Option<RunId>,
        outcome: &str,
    ) -> Result<(), RegistryError> {
        let now = now_text();
        let due = instant_text(due_at);
        let mut tx = self.pool.begin().await?;
        for sid in accounts {
            sqlx::query(
                "insert into job_accounts (job, account_sid, last_due_at, run_id, outcome, created_at, updated_at)
                 values ($1, $2, $3, $4, $5, $6, $6)
                 on conflict (job, account_sid) do update set
                   last_due_at = excluded.last_due_at, run_id = excluded.run_id,
                   outcome = excluded.outcome, updated_at = excluded.updated_at",
            )
            .bind(job)
            .bind(sid.as_str())
            .bind(&due)
            .bind(run.map(|r| r.0))
            .bind(outcome)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
