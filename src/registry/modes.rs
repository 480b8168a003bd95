//! The one rule about pseudonym modes the registry enforces itself: a partition of a resource
//! with phone numbers or names is recorded only in the mode the export is being written in
//! (`export_modes`, one row per such resource). That mode changes only when no partition of
//! that resource (of any account) stands in another mode than the new one, but for those the
//! recording export replaces (the days of its range, of the accounts whose lease it holds).
//! Checking and recording are one transaction that first locks the resource's row, so two
//! exports of different modes cannot both record. The row makes the common case one lookup;
//! only a change of mode looks at the partitions.

use super::{Registry, RegistryError, RunId};
use crate::domain::{DayRange, PartitionKey, Resource};
use crate::pseudonym::PseudonymMode;
use crate::registry::LeaseHolder;

/// Which partitions of another mode may stand beside the one recorded.
#[derive(Clone, Copy, Debug)]
pub enum ModeRule<'a> {
    /// Any (a resource without phone numbers or names).
    Any,
    /// None, but for the days of the range of the accounts whose lease the holder holds (a
    /// backfill that replaces them), if given.
    Alone(Option<(DayRange, &'a LeaseHolder)>),
}

/// The partitions (`p`) of resource `$r` in another mode than `$m` (a fingerprint, or `''`
/// for clear) that are not on a day from `$f` to `$l` of an account whose lease `$h` holds.
fn others(r: u8, m: u8, f: u8, l: u8, h: u8) -> String {
    format!(
        "from partitions p where {}
           and not (p.day >= ${f} and p.day <= ${l} and exists (select 1 from leases l
                    where l.account_sid = p.account_sid and l.resource = p.resource and l.holder = ${h}))",
        other_mode("p", r, m)
    )
}

/// `{t}.resource` is `$r` and `{t}.pseudonym` is another mode than `$m` (`''` for clear),
/// spelled as three ranges of the `(resource, pseudonym)` index so that SQLite reads only
/// them (it does not split one `or` under a shared `resource = …`).
pub(super) fn other_mode(t: &str, r: u8, m: u8) -> String {
    format!(
        "(({t}.resource = ${r} and {t}.pseudonym < ${m}) or ({t}.resource = ${r} and {t}.pseudonym > ${m})
          or ({t}.resource = ${r} and {t}.pseudonym is null and ${m} <> ''))"
    )
}

/// The bound values of [`others`]'s day range and holder: none excluded without a range.
fn replaced(rule: ModeRule<'_>) -> (String, String, String) {
    match rule {
        ModeRule::Alone(Some((range, holder))) => (
            range.first().to_string(),
            range.last().to_string(),
            holder.as_str().to_owned(),
        ),
        // No day is at least "~" and at most "".
        _ => ("~".to_owned(), String::new(), String::new()),
    }
}

impl Registry {
    /// Whether recording a partition of `resource` in `mode` would stand beside partitions of
    /// another mode that `rule` does not let stand (never for [`ModeRule::Any`]).
    pub async fn mode_conflict(
        &self,
        resource: Resource,
        mode: &PseudonymMode,
        rule: ModeRule<'_>,
    ) -> Result<bool, RegistryError> {
        if matches!(rule, ModeRule::Any) {
            return Ok(false);
        }
        let current: Option<Option<String>> =
            sqlx::query_scalar("select pseudonym from export_modes where resource = $1")
                .bind(resource.table_name())
                .fetch_optional(&self.pool)
                .await?;
        if current.as_ref().map(Option::as_deref) == Some(mode.stored()) {
            return Ok(false);
        }
        let (first, last, holder) = replaced(rule);
        let n: i64 = sqlx::query_scalar(&others_exist())
            .bind(resource.table_name())
            .bind(mode.stored().unwrap_or(""))
            .bind(first)
            .bind(last)
            .bind(holder)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// The mode and rows of a recorded partition, if it is recorded.
    pub async fn partition_mode(
        &self,
        key: &PartitionKey,
    ) -> Result<Option<(PseudonymMode, i64)>, RegistryError> {
        let row: Option<(Option<String>, i64)> = sqlx::query_as(
            "select pseudonym, rows_exported from partitions where account_sid = $1 and resource = $2 and day = $3",
        )
        .bind(key.account.as_str())
        .bind(key.resource.table_name())
        .bind(key.day.format("%Y-%m-%d").to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(mode, rows)| Ok((super::partitions::stored_mode(mode)?, rows)))
            .transpose()
    }

    /// Records a partition after its file is durable (or after an empty day's file is gone),
    /// with how its phone numbers and names were written, and clears an earlier failure of
    /// that window; under [`ModeRule::Alone`], only in the export's mode, or if the export's
    /// mode may change to it ([`Registry::mode_conflict`]), which it then does. `false`: not
    /// recorded, for that reason.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_partition_in_mode(
        &self,
        key: &PartitionKey,
        rows: u64,
        bytes: u64,
        object_key: Option<&str>,
        mode: &PseudonymMode,
        rule: ModeRule<'_>,
        run: RunId,
    ) -> Result<bool, RegistryError> {
        let ModeRule::Alone(_) = rule else {
            self.record_partition(key, rows, bytes, object_key, mode, run)
                .await?;
            return Ok(true);
        };
        let resource = key.resource.table_name();
        let mut tx = self.pool.begin().await?;
        // Taken first: a writer of another mode waits here until this one commits.
        sqlx::query("update export_modes set pseudonym = pseudonym where resource = $1")
            .bind(resource)
            .execute(&mut *tx)
            .await?;
        let current: Option<Option<String>> =
            sqlx::query_scalar("select pseudonym from export_modes where resource = $1")
                .bind(resource)
                .fetch_optional(&mut *tx)
                .await?;
        if current.as_ref().map(Option::as_deref) != Some(mode.stored()) {
            let (first, last, holder) = replaced(rule);
            let n: i64 = sqlx::query_scalar(&others_exist())
                .bind(resource)
                .bind(mode.stored().unwrap_or(""))
                .bind(first)
                .bind(last)
                .bind(holder)
                .fetch_one(&mut *tx)
                .await?;
            if n > 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query(
                "insert into export_modes (resource, pseudonym) values ($1, $2)
                 on conflict (resource) do update set pseudonym = excluded.pseudonym",
            )
            .bind(resource)
            .bind(mode.stored())
            .execute(&mut *tx)
            .await?;
        }
        super::partitions::upsert_partition(&mut tx, key, rows, bytes, object_key, mode, run)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// One row (`count` 1) if some partition [`others`] describes exists, else 0; it stops at the
/// first one.
fn others_exist() -> String {
    format!(
        "select count(*) from (select 1 as one {} limit 1) found",
        others(1, 2, 3, 4, 5)
    )
}
