//! The one rule about pseudonym modes the registry enforces itself: a partition of a resource
//! with phone numbers or names is recorded only while no partition of that resource (of any
//! account) was written in another mode, but for those a covering backfill is replacing (the
//! days of its range, of the accounts whose lease it holds). The check and the record are one
//! transaction that first locks the resource's row of `partition_mode_locks`, so two exports
//! of different modes cannot both pass it (ARCHITECTURE, "Pseudonym modes").

use super::{now_text, Registry, RegistryError, RunId};
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
        "from partitions p where p.resource = ${r}
           and ((p.pseudonym is null and ${m} <> '') or p.pseudonym < ${m} or p.pseudonym > ${m})
           and not (p.day >= ${f} and p.day <= ${l} and exists (select 1 from leases l
                    where l.account_sid = p.account_sid and l.resource = p.resource and l.holder = ${h}))"
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
    /// How many partitions of `resource` were written in another mode than `mode`, not
    /// counting those `rule` lets stand beside it (0 for [`ModeRule::Any`]).
    pub async fn partitions_in_other_modes(
        &self,
        resource: Resource,
        mode: &PseudonymMode,
        rule: ModeRule<'_>,
    ) -> Result<i64, RegistryError> {
        if matches!(rule, ModeRule::Any) {
            return Ok(0);
        }
        let (first, last, holder) = replaced(rule);
        let n: i64 = sqlx::query_scalar(&format!("select count(*) {}", others(1, 2, 3, 4, 5)))
            .bind(resource.table_name())
            .bind(mode.stored().unwrap_or(""))
            .bind(first)
            .bind(last)
            .bind(holder)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
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
    /// that window; under [`ModeRule::Alone`], only if no partition of another mode stands
    /// outside what the rule allows. `false`: not recorded, for that reason.
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
        let now = now_text();
        let day = key.day.format("%Y-%m-%d").to_string();
        let mut tx = self.pool.begin().await?;
        // Taken first: a writer of another mode waits here until this one commits.
        sqlx::query("update partition_mode_locks set resource = resource where resource = $1")
            .bind(key.resource.table_name())
            .execute(&mut *tx)
            .await?;
        let (first, last, holder) = replaced(rule);
        let done = sqlx::query(&format!(
            "insert into partitions (account_sid, resource, day, rows_exported, bytes, object_key, run_id, exported_at, created_at, updated_at, pseudonym)
             select $1, $2, $3, $4, $5, $6, $7, $8, $8, $8, nullif($9, '')
             where not exists (select 1 {})
             on conflict (account_sid, resource, day) do update set
               rows_exported = excluded.rows_exported, bytes = excluded.bytes, object_key = excluded.object_key,
               run_id = excluded.run_id, exported_at = excluded.exported_at, updated_at = excluded.updated_at,
               pseudonym = excluded.pseudonym",
            others(2, 9, 10, 11, 12)
        ))
        .bind(key.account.as_str())
        .bind(key.resource.table_name())
        .bind(&day)
        .bind(rows as i64)
        .bind(bytes as i64)
        .bind(object_key)
        .bind(run.0)
        .bind(&now)
        .bind(mode.stored().unwrap_or(""))
        .bind(first)
        .bind(last)
        .bind(holder)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "delete from window_failures where account_sid = $1 and resource = $2 and day = $3",
        )
        .bind(key.account.as_str())
        .bind(key.resource.table_name())
        .bind(&day)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
