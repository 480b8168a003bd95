//! Partitions written (the manifest of the output) and windows that failed.

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;

use super::{now_text, Registry, RegistryError, RunId};
use crate::domain::{AccountSid, PartitionKey};

/// A partition that is durable in the store.
#[derive(Clone, Debug, Serialize)]
pub struct PartitionRecord {
    pub account_sid: String,
    pub resource: String,
    pub day: String,
    pub rows: i64,
    pub bytes: i64,
    /// `None` when the day had no rows, so no file.
    pub object_key: Option<String>,
    pub exported_at: String,
}

/// A window whose last export failed and that has not succeeded since.
#[derive(Clone, Debug, Serialize)]
pub struct WindowFailure {
    pub account_sid: String,
    pub resource: String,
    pub day: String,
    pub error: String,
    pub failed_at: String,
}

impl Registry {
    /// Records a partition after its file is durable (or after an empty day's file is gone),
    /// and clears an earlier failure of that window.
    pub async fn record_partition(
        &self,
        key: &PartitionKey,
        rows: u64,
        bytes: u64,
        object_key: Option<&str>,
        run: RunId,
    ) -> Result<(), RegistryError> {
        let now = now_text();
        let day = key.day.format("%Y-%m-%d").to_string();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into partitions (account_sid, resource, day, rows_exported, bytes, object_key, run_id, exported_at, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8)
             on conflict (account_sid, resource, day) do update set
               rows_exported = excluded.rows_exported, bytes = excluded.bytes, object_key = excluded.object_key,
               run_id = excluded.run_id, exported_at = excluded.exported_at, updated_at = excluded.updated_at",
        )
        .bind(key.account.as_str())
        .bind(key.resource.table_name())
        .bind(&day)
        .bind(rows as i64)
        .bind(bytes as i64)
        .bind(object_key)
        .bind(run.0)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "delete from window_failures where account_sid = $1 and resource = $2 and day = $3",
        )
        .bind(key.account.as_str())
        .bind(key.resource.table_name())
        .bind(&day)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that a window failed; its partition (if any) was left as it was.
    pub async fn record_failure(
        &self,
        key: &PartitionKey,
        error: &str,
        run: RunId,
    ) -> Result<(), RegistryError> {
        let now = now_text();
        sqlx::query(
            "insert into window_failures (account_sid, resource, day, error, run_id, failed_at, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $6, $6)
             on conflict (account_sid, resource, day) do update set
               error = excluded.error, run_id = excluded.run_id, failed_at = excluded.failed_at, updated_at = excluded.updated_at",
        )
        .bind(key.account.as_str())
        .bind(key.resource.table_name())
        .bind(key.day.format("%Y-%m-%d").to_string())
        .bind(error)
        .bind(run.0)
        .bind(&now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The partitions of one account and resource, by day.
    pub async fn partitions(
        &self,
        account: &AccountSid,
        resource: crate::domain::Resource,
    ) -> Result<Vec<PartitionRecord>, RegistryError> {
        let rows = sqlx::query(
            "select account_sid, resource, day, rows_exported, bytes, object_key, exported_at from partitions
             where account_sid = $1 and resource = $2 order by day",
        )
        .bind(account.as_str())
        .bind(resource.table_name())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(PartitionRecord {
                    account_sid: r.try_get("account_sid")?,
                    resource: r.try_get("resource")?,
                    day: r.try_get("day")?,
                    rows: r.try_get("rows_exported")?,
                    bytes: r.try_get("bytes")?,
                    object_key: r.try_get("object_key")?,
                    exported_at: r.try_get("exported_at")?,
                })
            })
            .collect()
    }

    /// Windows that failed and have not been exported since.
    pub async fn failures(&self) -> Result<Vec<WindowFailure>, RegistryError> {
        let rows = sqlx::query(
            "select account_sid, resource, day, error, failed_at from window_failures order by account_sid, resource, day",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(WindowFailure {
                    account_sid: r.try_get("account_sid")?,
                    resource: r.try_get("resource")?,
                    day: r.try_get("day")?,
                    error: r.try_get("error")?,
                    failed_at: r.try_get("failed_at")?,
                })
            })
            .collect()
    }

    /// The days of `account` and `resource` whose window failed and has not been exported
    /// since, from `from` on, oldest first.
    pub async fn failed_days(
        &self,
        account: &AccountSid,
        resource: crate::domain::Resource,
        from: NaiveDate,
    ) -> Result<Vec<NaiveDate>, RegistryError> {
        let rows = sqlx::query(
            "select day from window_failures where account_sid = $1 and resource = $2 and day >= $3 order by day",
        )
        .bind(account.as_str())
        .bind(resource.table_name())
        .bind(from.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let d: String = r.try_get("day")?;
                d.parse::<NaiveDate>()
                    .map_err(|e| RegistryError::Corrupt(format!("day {d:?}: {e}")))
            })
            .collect()
    }

    /// Per (account, resource): partitions, rows, first and last day exported.
    pub async fn partition_summary(&self) -> Result<Vec<PartitionSummary>, RegistryError> {
        let rows = sqlx::query(
            "select account_sid, resource, count(*) as partitions, cast(sum(rows_exported) as bigint) as total_rows,
                    min(day) as first_day, max(day) as last_day, max(exported_at) as last_exported_at
             from partitions group by account_sid, resource order by account_sid, resource",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(PartitionSummary {
                    account_sid: r.try_get("account_sid")?,
                    resource: r.try_get("resource")?,
                    partitions: r.try_get("partitions")?,
                    rows: r.try_get::<Option<i64>, _>("total_rows")?.unwrap_or(0),
                    first_day: r.try_get("first_day")?,
                    last_day: r.try_get("last_day")?,
                    last_exported_at: r.try_get("last_exported_at")?,
                })
            })
            .collect()
    }

    /// Days already exported for an account and resource within `[first, last]`.
    pub async fn exported_days(
        &self,
        account: &AccountSid,
        resource: crate::domain::Resource,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<NaiveDate>, RegistryError> {
        let rows = sqlx::query(
            "select day from partitions where account_sid = $1 and resource = $2 and day >= $3 and day <= $4 order by day",
        )
        .bind(account.as_str())
        .bind(resource.table_name())
        .bind(first.to_string())
        .bind(last.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let d: String = r.try_get("day")?;
                d.parse::<NaiveDate>()
                    .map_err(|e| RegistryError::Corrupt(format!("day {d:?}: {e}")))
            })
            .collect()
    }
}

/// Totals of the partitions of one account and resource.
#[derive(Clone, Debug, Serialize)]
pub struct PartitionSummary {
    pub account_sid: String,
    pub resource: String,
    pub partitions: i64,
    pub rows: i64,
    pub first_day: Option<String>,
    pub last_day: Option<String>,
    pub last_exported_at: Option<String>,
}
