//! Run history: one row per command that exported something, with its outcome and counts.

use super::leases::ProcessRow;
use super::{now_text, Registry, RegistryError};
use crate::process::ProcessId;
use serde::Serialize;

/// A run's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RunId(pub i64);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOutcome {
    Succeeded,
    /// Some windows failed; the rest were exported.
    Partial,
    /// Every window tried was exported, but the run stopped exporting some accounts before
    /// their end: their lease was taken over, or they were removed, deauthorized or purged
    /// meanwhile.
    Incomplete,
    /// Stopped by a signal before the end.
    Interrupted,
    /// Its process died before the end (`kill -9`, a crash, a lost machine): shown so once
    /// a process on the same host can prove it dead.
    Abandoned,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Partial => "partial",
            RunOutcome::Incomplete => "incomplete",
            RunOutcome::Interrupted => "interrupted",
            RunOutcome::Abandoned => "abandoned",
        }
    }
}

/// Counts at the end of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunTotals {
    pub windows_exported: u64,
    pub windows_failed: u64,
    pub rows: u64,
    pub files: u64,
    /// Records the API returned for another day, left to that day's partition.
    pub outside_window: u64,
    /// Records repeated while paging, kept once.
    pub duplicates: u64,
}

/// A run as `status` shows it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct RunRecord {
    pub id: i64,
    pub command: String,
    pub detail: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub outcome: String,
    pub windows_exported: i64,
    pub windows_failed: i64,
    #[sqlx(rename = "rows_exported")]
    pub rows: i64,
    #[sqlx(rename = "files_written")]
    pub files: i64,
    /// Records of other days the API returned (exported with their own day).
    #[sqlx(rename = "records_outside_window")]
    pub outside_window: i64,
    /// Records repeated while paging (kept once).
    #[sqlx(rename = "records_duplicated")]
    pub duplicates: i64,
    pub error: Option<String>,
}

impl Registry {
    /// Records a run of this process as `running`.
    pub async fn start_run(&self, command: &str, detail: &str) -> Result<RunId, RegistryError> {
        let now = now_text();
        let me = ProcessId::current();
        let id: i64 = sqlx::query_scalar(
            "insert into runs (command, detail, started_at, outcome, host, pid, process, created_at, updated_at)
             values ($1, $2, $3, 'running', $4, $5, $6, $3, $3) returning id",
        )
        .bind(command)
        .bind(detail)
        .bind(&now)
        .bind(&me.host)
        .bind(i64::from(me.pid))
        .bind(me.instance.as_deref())
        .fetch_one(&self.pool)
        .await?;
        Ok(RunId(id))
    }

    pub async fn finish_run(
        &self,
        run: RunId,
        outcome: RunOutcome,
        totals: RunTotals,
        error: Option<&str>,
    ) -> Result<(), RegistryError> {
        let now = now_text();
        sqlx::query(
            "update runs set finished_at = $2, outcome = $3, windows_exported = $4, windows_failed = $5,
               rows_exported = $6, files_written = $7, error = $8, updated_at = $2,
               records_outside_window = $9, records_duplicated = $10 where id = $1",
        )
        .bind(run.0)
        .bind(&now)
        .bind(outcome.as_str())
        .bind(totals.windows_exported as i64)
        .bind(totals.windows_failed as i64)
        .bind(totals.rows as i64)
        .bind(totals.files as i64)
        .bind(error)
        .bind(totals.outside_window as i64)
        .bind(totals.duplicates as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks as abandoned the runs still `running` whose process is provably dead, so that
    /// `status` on any host shows them so. Returns how many.
    pub async fn abandon_dead_runs(&self) -> Result<u64, RegistryError> {
        let rows: Vec<RunProcessRow> = sqlx::query_as(
            "select id, host, pid, process from runs where outcome = 'running' and host is not null",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut n = 0;
        for r in rows {
            if !r.process.provably_dead() {
                continue;
            }
            let id = r.id;
            n += sqlx::query(
                "update runs set outcome = 'abandoned', error = 'its process died before the end', updated_at = $2
                 where id = $1 and outcome = 'running'",
            )
            .bind(id)
            .bind(now_text())
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(n)
    }

    /// The most recent runs, newest first; a `running` run whose process is provably dead is
    /// shown as `abandoned`.
    pub async fn recent_runs(&self, limit: i64) -> Result<Vec<RunRecord>, RegistryError> {
        let rows: Vec<RunRow> = sqlx::query_as(
            "select id, command, detail, started_at, finished_at, outcome, windows_exported, windows_failed,
                    rows_exported, files_written, records_outside_window, records_duplicated, error,
                    host, pid, process
             from runs order by id desc limit $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut record = r.record;
                if record.outcome == "running" && r.process.provably_dead() {
                    record.outcome = RunOutcome::Abandoned.as_str().to_owned();
                }
                record
            })
            .collect())
    }
}

/// A `runs` row as `status` reads it.
#[derive(sqlx::FromRow)]
struct RunRow {
    #[sqlx(flatten)]
    record: RunRecord,
    #[sqlx(flatten)]
    process: ProcessRow,
}

/// A run still recorded as running, and its process.
#[derive(sqlx::FromRow)]
struct RunProcessRow {
    id: i64,
    #[sqlx(flatten)]
    process: ProcessRow,
}
