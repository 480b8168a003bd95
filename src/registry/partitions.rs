//! Partitions written (the manifest of the output) and windows that failed.

use super::{now_text, parsed, parsed_opt, Registry, RegistryError, RunId};
use crate::domain::{AccountSid, DayRange, PartitionKey, Resource};
use crate::pseudonym::{Fingerprint, PseudonymMode};
use chrono::NaiveDate;
use serde::Serialize;

/// A partition that is durable in the store.
#[derive(Clone, Debug, Serialize)]
pub struct PartitionRecord {
    pub account_sid: AccountSid,
    #[serde(serialize_with = "super::table_name")]
    pub resource: Resource,
    pub day: NaiveDate,
    pub rows: i64,
    pub bytes: i64,
    /// `None` when the day had no rows, so no file.
    pub object_key: Option<String>,
    pub exported_at: String,
}

/// A `partitions` row as stored.
#[derive(sqlx::FromRow)]
struct PartitionRow {
    account_sid: String,
    resource: String,
    day: String,
    rows_exported: i64,
    bytes: i64,
    object_key: Option<String>,
    exported_at: String,
}

impl TryFrom<PartitionRow> for PartitionRecord {
    type Error = RegistryError;
    fn try_from(r: PartitionRow) -> Result<Self, RegistryError> {
        Ok(PartitionRecord {
            account_sid: parsed("account sid", r.account_sid)?,
            resource: parsed("resource", r.resource)?,
            day: parsed("partition day", r.day)?,
            rows: r.rows_exported,
            bytes: r.bytes,
            object_key: r.object_key,
            exported_at: r.exported_at,
        })
    }
}

/// A window whose last export failed and that has not succeeded since.
#[derive(Clone, Debug, Serialize)]
pub struct WindowFailure {
    pub account_sid: AccountSid,
    #[serde(serialize_with = "super::table_name")]
    pub resource: Resource,
    pub day: NaiveDate,
    pub error: String,
    pub failed_at: String,
}

/// A `window_failures` row as stored.
#[derive(sqlx::FromRow)]
struct FailureRow {
    account_sid: String,
    resource: String,
    day: String,
    error: String,
    failed_at: String,
}

impl TryFrom<FailureRow> for WindowFailure {
    type Error = RegistryError;
    fn try_from(r: FailureRow) -> Result<Self, RegistryError> {
        Ok(WindowFailure {
            account_sid: parsed("account sid", r.account_sid)?,
            resource: parsed("resource", r.resource)?,
            day: parsed("failed day", r.day)?,
            error: r.error,
            failed_at: r.failed_at,
        })
    }
}

impl Registry {
    /// Records a partition after its file is durable (or after an empty day's file is gone),
    /// with how its phone numbers and names were written, and clears an earlier failure of
    /// that window.
    pub async fn record_partition(
        &self,
        key: &PartitionKey,
        rows: u64,
        bytes: u64,
        object_key: Option<&str>,
        mode: &PseudonymMode,
        run: RunId,
    ) -> Result<(), RegistryError> {
        let mut tx = self.pool.begin().await?;
        upsert_partition(&mut tx, key, rows, bytes, object_key, mode, run).await?;
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
        resource: Resource,
    ) -> Result<Vec<PartitionRecord>, RegistryError> {
        let rows: Vec<PartitionRow> = sqlx::query_as(
            "select account_sid, resource, day, rows_exported, bytes, object_key, exported_at from partitions
             where account_sid = $1 and resource = $2 order by day",
        )
        .bind(account.as_str())
        .bind(resource.table_name())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(PartitionRecord::try_from).collect()
    }

    /// Windows that failed and have not been exported since.
    pub async fn failures(&self) -> Result<Vec<WindowFailure>, RegistryError> {
        let rows: Vec<FailureRow> = sqlx::query_as(
            "select account_sid, resource, day, error, failed_at from window_failures order by account_sid, resource, day",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(WindowFailure::try_from).collect()
    }

    /// The days of `account` and `resource` whose window failed and has not been exported
    /// since, from `from` on, oldest first.
    pub async fn failed_days(
        &self,
        account: &AccountSid,
        resource: Resource,
        from: NaiveDate,
    ) -> Result<Vec<NaiveDate>, RegistryError> {
        let rows: Vec<String> = sqlx::query_scalar(
            "select day from window_failures where account_sid = $1 and resource = $2 and day >= $3 order by day",
        )
        .bind(account.as_str())
        .bind(resource.table_name())
        .bind(from.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|d| parsed("day", d)).collect()
    }

    /// Per (account, resource): partitions, rows, first and last day exported.
    pub async fn partition_summary(&self) -> Result<Vec<PartitionSummary>, RegistryError> {
        // One scan, per (account, resource, mode), folded per (account, resource) below: on
        // SQLite it reads the `partitions_totals` index alone, which holds every column used.
        let rows: Vec<SummaryRow> = sqlx::query_as(
            "select account_sid, resource, pseudonym, count(*) as partitions,
                    cast(sum(rows_exported) as bigint) as total_rows, min(day) as first_day,
                    max(day) as last_day, max(exported_at) as last_exported_at
             from partitions group by account_sid, resource, pseudonym
             order by account_sid, resource, pseudonym",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut summaries: Vec<PartitionSummary> = Vec::new();
        for row in rows {
            let (part, mode) = row.parsed()?;
            match summaries.last_mut() {
                Some(pair)
                    if pair.account_sid == part.account_sid && pair.resource == part.resource =>
                {
                    pair.merge(part, mode)
                }
                _ => {
                    let mut first = part;
                    first.modes.add(mode, first.partitions);
                    summaries.push(first);
                }
            }
        }
        for pair in &mut summaries {
            if !crate::batch::columns(pair.resource)
                .iter()
                .any(|c| c.pseudonymized)
            {
                pair.modes.pseudonym = PairMode::Unaffected;
            }
        }
        Ok(summaries)
    }

    /// The partitions of `resource` written in another mode than `mode`, per account and
    /// mode; with `outside`, only those on days outside it. One aggregate query over the
    /// `(resource, pseudonym)` index: when every partition is in `mode`, it reads none.
    pub async fn partitions_not_in_mode(
        &self,
        resource: Resource,
        mode: &PseudonymMode,
        outside: Option<DayRange>,
    ) -> Result<Vec<ModeSpan>, RegistryError> {
        let (first, last) = match outside {
            Some(r) => (r.first().to_string(), r.last().to_string()),
            // No day is before "" or after "~": every day counts.
            None => ("~".to_owned(), String::new()),
        };
        let rows: Vec<ModeRow> = sqlx::query_as(&format!(
            "select account_sid, pseudonym, count(*) as partitions, min(day) as first_day, max(day) as last_day
             from partitions p
             where {} and (day < $3 or day > $4)
             group by account_sid, pseudonym order by account_sid, pseudonym",
            super::modes::other_mode("p", 1, 2)
        ))
        .bind(resource.table_name())
        .bind(mode.stored().unwrap_or(""))
        .bind(first)
        .bind(last)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(ModeSpan::try_from).collect()
    }

    /// Days already exported for an account and resource within `[first, last]`.
    pub async fn exported_days(
        &self,
        account: &AccountSid,
        resource: Resource,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<NaiveDate>, RegistryError> {
        let rows: Vec<String> = sqlx::query_scalar(
            "select day from partitions where account_sid = $1 and resource = $2 and day >= $3 and day <= $4 order by day",
        )
        .bind(account.as_str())
        .bind(resource.table_name())
        .bind(first.to_string())
        .bind(last.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|d| parsed("day", d)).collect()
    }
}

/// [`Registry::record_partition`] within a transaction: the partition's row, and its window's
/// failure cleared.
pub(super) async fn upsert_partition(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    key: &PartitionKey,
    rows: u64,
    bytes: u64,
    object_key: Option<&str>,
    mode: &PseudonymMode,
    run: RunId,
) -> Result<(), RegistryError> {
    let now = now_text();
    let day = key.day.format("%Y-%m-%d").to_string();
    sqlx::query(
        "insert into partitions (account_sid, resource, day, rows_exported, bytes, object_key, run_id, exported_at, created_at, updated_at, pseudonym)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8, $9)
         on conflict (account_sid, resource, day) do update set
           rows_exported = excluded.rows_exported, bytes = excluded.bytes, object_key = excluded.object_key,
           run_id = excluded.run_id, exported_at = excluded.exported_at, updated_at = excluded.updated_at,
           pseudonym = excluded.pseudonym",
    )
    .bind(key.account.as_str())
    .bind(key.resource.table_name())
    .bind(&day)
    .bind(rows as i64)
    .bind(bytes as i64)
    .bind(object_key)
    .bind(run.0)
    .bind(&now)
    .bind(mode.stored())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "delete from window_failures where account_sid = $1 and resource = $2 and day = $3",
    )
    .bind(key.account.as_str())
    .bind(key.resource.table_name())
    .bind(&day)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Totals of the partitions of one account and resource.
#[derive(Clone, Debug, Serialize)]
pub struct PartitionSummary {
    pub account_sid: AccountSid,
    #[serde(serialize_with = "super::table_name")]
    pub resource: Resource,
    pub partitions: i64,
    pub rows: i64,
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    pub last_exported_at: Option<String>,
    /// How its partitions' phone numbers and names were written.
    #[serde(flatten)]
    pub modes: PairModes,
}

/// How the partitions of one (account, resource) were written.
#[derive(Clone, Debug, Serialize)]
pub struct PairModes {
    pub pseudonym: PairMode,
    /// The fingerprints of the keys its pseudonymized partitions were written with.
    pub key_fingerprints: Vec<Fingerprint>,
    /// Partitions written in clear.
    pub clear_partitions: i64,
}

/// One mode for all of a pair's partitions, or several.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PairMode {
    /// Every partition in clear.
    #[default]
    Clear,
    /// Every partition under one key.
    Pseudonymized,
    /// In clear and pseudonymized, or under several keys.
    Mixed,
    /// A resource without phone numbers or names (usage records): the same in every mode.
    Unaffected,
}

impl Default for PairModes {
    fn default() -> Self {
        Self {
            pseudonym: PairMode::Clear,
            key_fingerprints: Vec::new(),
            clear_partitions: 0,
        }
    }
}

impl PairModes {
    fn add(&mut self, mode: PseudonymMode, count: i64) {
        match mode {
            PseudonymMode::Clear => self.clear_partitions += count,
            PseudonymMode::Pseudonymized(f) => self.key_fingerprints.push(f),
        }
        self.pseudonym = match (self.clear_partitions, self.key_fingerprints.len()) {
            (_, 0) => PairMode::Clear,
            (0, 1) => PairMode::Pseudonymized,
            _ => PairMode::Mixed,
        };
    }
}

/// Partitions of one account written in one mode, on days `first_day` to `last_day`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModeSpan {
    pub account: AccountSid,
    pub mode: PseudonymMode,
    pub partitions: i64,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

/// One group of [`Registry::partitions_not_in_mode`] as stored.
#[derive(sqlx::FromRow)]
struct ModeRow {
    account_sid: String,
    pseudonym: Option<String>,
    partitions: i64,
    first_day: String,
    last_day: String,
}

impl TryFrom<ModeRow> for ModeSpan {
    type Error = RegistryError;
    fn try_from(r: ModeRow) -> Result<Self, RegistryError> {
        Ok(ModeSpan {
            account: parsed("account sid", r.account_sid)?,
            mode: stored_mode(r.pseudonym)?,
            partitions: r.partitions,
            first_day: parsed("partition day", r.first_day)?,
            last_day: parsed("partition day", r.last_day)?,
        })
    }
}

/// A partition's stored mode: null, or a key fingerprint.
pub(super) fn stored_mode(stored: Option<String>) -> Result<PseudonymMode, RegistryError> {
    PseudonymMode::from_stored(stored.as_deref()).map_err(|e| RegistryError::Corrupt {
        what: "key fingerprint",
        value: e.0,
    })
}

/// One group of `partitions` as summed.
#[derive(sqlx::FromRow)]
struct SummaryRow {
    account_sid: String,
    resource: String,
    pseudonym: Option<String>,
    partitions: i64,
    total_rows: Option<i64>,
    first_day: Option<String>,
    last_day: Option<String>,
    last_exported_at: Option<String>,
}

impl SummaryRow {
    /// The partitions of one (account, resource) written in one mode, and that mode.
    fn parsed(self) -> Result<(PartitionSummary, PseudonymMode), RegistryError> {
        let summary = PartitionSummary {
            account_sid: parsed("account sid", self.account_sid)?,
            resource: parsed("resource", self.resource)?,
            partitions: self.partitions,
            rows: self.total_rows.unwrap_or(0),
            first_day: parsed_opt("partition day", self.first_day)?,
            last_day: parsed_opt("partition day", self.last_day)?,
            last_exported_at: self.last_exported_at,
            modes: PairModes::default(),
        };
        Ok((summary, stored_mode(self.pseudonym)?))
    }
}

impl PartitionSummary {
    /// Adds the partitions of the same pair written in another mode.
    fn merge(&mut self, other: PartitionSummary, mode: PseudonymMode) {
        self.partitions += other.partitions;
        self.rows += other.rows;
        self.first_day = match (self.first_day, other.first_day) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_day = self.last_day.max(other.last_day);
        self.last_exported_at = self.last_exported_at.take().max(other.last_exported_at);
        self.modes.add(mode, other.partitions);
    }
}
