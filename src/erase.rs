//! Deleting exported data on purpose: purging an account (`accounts purge`, or one
//! deauthorized longer ago than `--purge-deauthorized-after`) and a job's retention.
//!
//! Every deletion goes through the journal (`registry::deletions`): the intent is recorded
//! before the first file is deleted, and the deletion is marked done, with what it deleted, in
//! the transaction that removes the registry rows of what it deleted. Files are deleted by
//! [`Store`], which addresses an account's directory by whole path segments; what is deleted
//! is what listing that directory finds and what the registry recorded for it, so the files
//! of a run that crashed before recording them go too.
//!
//! **Invariant:** a deletion runs only while its process holds the account's leases of the
//! resources it covers, so no export of that account publishes meanwhile; a deletion found
//! pending (its process was killed) is done again, whole, by the next export or purge
//! ([`Eraser::complete_pending`]), and deleting what is already gone is not an error.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::domain::{AccountSid, PartitionKey, Resource};
use crate::export::LeaseScope;
use crate::registry::{
    instant_text, Deletion, DeletionReason, DeletionRequest, LeaseGrant, LeaseHolder, Registry,
    RegistryError,
};
use crate::scheduler::leasing::{self, Renewal};
use crate::scheduler::plan::Shard;
use crate::scheduler::LEASE_TTL;
use crate::store::{account_dir, Store, StoreError, StoredFile};

/// Why a deletion did not happen (or did not finish; then it stays pending in the journal).
#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    /// Another process holds one of the account's leases (it is exporting the account, or
    /// deleting its partitions): nothing was deleted.
    #[error("another process ({holder}) holds its {resource} (it is exporting them or deleting them); nothing was deleted: try again once it is done")]
    Busy { resource: Resource, holder: String },
    /// This process no longer holds the lease it deleted under; the deletion stays pending.
    #[error(
        "its lease of {resource} is no longer held by this process; the deletion stays pending"
    )]
    LeaseLost { resource: Resource },
    /// The registry records files of the account in this export, and the output holds none of
    /// them: most likely `--output` names another place. Nothing was deleted or journaled.
    #[error("the registry records {recorded} partitions of {account} in this export but none is in {output}: is --output right? Nothing was deleted")]
    NotInOutput {
        account: AccountSid,
        recorded: usize,
        output: String,
    },
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A deletion done.
#[derive(Clone, Debug)]
pub struct Erased {
    pub deletion: Deletion,
}

/// Carries out journaled deletions as one lease holder.
pub struct Eraser<'a> {
    registry: &'a Registry,
    store: &'a Store,
    holder: &'a LeaseHolder,
}

impl<'a> Eraser<'a> {
    pub fn new(registry: &'a Registry, store: &'a Store, holder: &'a LeaseHolder) -> Self {
        Self {
            registry,
            store,
            holder,
        }
    }

    /// Deletes every partition of `account` and its registry rows, keeping the account as
    /// purged: under the account's leases of every resource, which are taken first (one held
    /// by another process is [`EraseError::Busy`], and nothing is deleted).
    pub async fn purge(
        &self,
        account: &AccountSid,
        reason: DeletionReason,
    ) -> Result<Erased, EraseError> {
        let request = DeletionRequest::purge(account.clone(), reason);
        let erased = self
            .under_leases(&request, || async {
                self.check_output(account).await?;
                let deletion = self.registry.request_deletion(&request).await?;
                self.carry_out(deletion).await
            })
            .await?;
        let d = &erased.deletion;
        tracing::info!(account = %account, reason = %d.reason, partitions = d.partitions, bytes = d.bytes, "Purged an account");
        Ok(erased)
    }

    /// Refuses ([`EraseError::NotInOutput`]) when the registry records partitions with rows
    /// (files) of `account` and the output has none of those files: a purge against the
    /// wrong output would otherwise forget the data while every file stays where it is.
    pub async fn check_output(&self, account: &AccountSid) -> Result<(), EraseError> {
        let mut recorded = BTreeSet::new();
        for resource in Resource::ALL {
            for p in self.registry.partitions(account, resource).await? {
                if p.object_key.is_some() {
                    let key = PartitionKey {
                        resource,
                        account: account.clone(),
                        day: p.day,
                    };
                    recorded.insert(key.object_key());
                }
            }
        }
        if recorded.is_empty() {
            return Ok(());
        }
        for resource in Resource::ALL {
            // A link or file in the account's place is its entry: the output is the right one.
            // A directory that cannot be listed proves nothing either way: the deletion
            // goes ahead and reports it.
            let place = account_dir(resource, account);
            let Ok(listed) = self.store.list_account(resource, account).await else {
                return Ok(());
            };
            if listed
                .iter()
                .any(|f| recorded.contains(&f.key) || f.key == place)
            {
                return Ok(());
            }
        }
        Err(EraseError::NotInOutput {
            account: account.clone(),
            recorded: recorded.len(),
            output: self.store.describe("").trim_end_matches('/').to_owned(),
        })
    }

    /// Completes the deletions that a process recorded and did not finish (it was killed),
    /// oldest first. One whose account another process holds stays pending and is named in
    /// the log; the others are returned, done or with why not.
    pub async fn complete_pending(&self) -> Result<Vec<Result<Erased, EraseError>>, RegistryError> {
        let mut done = Vec::new();
        for deletion in self.registry.pending_deletions().await? {
            let account = deletion.account_sid.clone();
            let request = deletion.request();
            // Another process may have completed it since it was read.
            let result = self
                .under_leases(&request, || async move {
                    if !self.registry.deletion_pending(deletion.id).await? {
                        return Ok(None);
                    }
                    self.carry_out(deletion).await.map(Some)
                })
                .await;
            match result {
                Ok(None) => {}
                Ok(Some(e)) => {
                    let d = &e.deletion;
                    tracing::info!(account = %account, id = d.id, reason = %d.reason, partitions = d.partitions, "Completed a pending deletion");
                    done.push(Ok(e));
                }
                Err(e) => {
                    tracing::warn!(account = %account, error = %e, "Cannot complete a pending deletion yet; it stays pending");
                    done.push(Err(e));
                }
            }
        }
        Ok(done)
    }

    /// Purges the accounts of `shard` deauthorized before `now - days`.
    pub async fn purge_deauthorized(
        &self,
        days: u32,
        now: DateTime<Utc>,
        shard: Shard,
    ) -> Result<Vec<(AccountSid, Result<Erased, EraseError>)>, RegistryError> {
        let before = now - TimeDelta::days(i64::from(days));
        let before = instant_text(before);
        let mut done = Vec::new();
        for sid in self.registry.deauthorized_before(&before).await? {
            if !shard.contains(&sid) {
                continue;
            }
            let result = self.purge(&sid, DeletionReason::Deauthorized).await;
            if let Err(e) = &result {
                tracing::warn!(account = %sid, error = %e, "Cannot purge a deauthorized account yet; a later run will");
            }
            done.push((sid, result));
        }
        Ok(done)
    }

    /// A job's retention: deletes `resource`'s partitions of `account` before `before`. The
    /// caller holds that lease (a job's run does, at its end); nothing is recorded when the
    /// registry has nothing of those days.
    pub async fn retain(
        &self,
        account: &AccountSid,
        resource: Resource,
        before: NaiveDate,
        job: &str,
    ) -> Result<Option<Erased>, EraseError> {
        if !self
            .registry
            .has_rows_before(account, resource, before)
            .await?
        {
            return Ok(None);
        }
        if !self
            .registry
            .holds_lease(account, resource, self.holder)
            .await?
        {
            return Err(EraseError::LeaseLost { resource });
        }
        let request = DeletionRequest::retention(account.clone(), resource, before, job);
        let deletion = self.registry.request_deletion(&request).await?;
        self.carry_out(deletion).await.map(Some)
    }

    /// Takes the leases `request` needs (none if one is busy), does `work` while renewing
    /// them, and gives them back.
    async fn under_leases<T, W, F>(
        &self,
        request: &DeletionRequest,
        work: W,
    ) -> Result<T, EraseError>
    where
        W: FnOnce() -> F,
        F: std::future::Future<Output = Result<T, EraseError>>,
    {
        let account = &request.account;
        let mut taken = Vec::new();
        for resource in request.resources() {
            match self
                .registry
                .try_lease(account, resource, self.holder, LEASE_TTL)
                .await
            {
                Ok(LeaseGrant::Busy { holder }) => {
                    self.release(account, &taken).await;
                    return Err(EraseError::Busy { resource, holder });
                }
                Ok(_) => taken.push(resource),
                Err(e) => {
                    self.release(account, &taken).await;
                    return Err(e.into());
                }
            }
        }
        let scope = Arc::new(LeaseScope::new(self.holder.clone()));
        let renewals: Vec<Renewal> = taken
            .iter()
            .map(|r| {
                let sids = vec![account.clone()];
                Renewal::start(self.registry.clone(), scope.clone(), *r, sids, LEASE_TTL)
            })
            .collect();
        let result = work().await;
        for renewal in renewals {
            renewal.stop().await;
        }
        self.release(account, &taken).await;
        result
    }

    async fn release(&self, account: &AccountSid, resources: &[Resource]) {
        for r in resources {
            leasing::release(
                self.registry,
                self.holder,
                *r,
                std::slice::from_ref(account),
            )
            .await;
        }
    }

    /// Deletes what `deletion` covers, then marks it done with what went. What cannot be
    /// listed or deleted does not stop the rest from going; the deletion then stays pending
    /// with the first such error recorded (shown by `status`).
    async fn carry_out(&self, deletion: Deletion) -> Result<Erased, EraseError> {
        let id = deletion.id;
        let result = self.delete_all(deletion).await;
        if let Err(e) = &result {
            if let Err(failed) = self.registry.deletion_failed(id, &e.to_string()).await {
                tracing::warn!(id, error = %failed, "Cannot record why a deletion stays pending");
            }
        }
        result
    }

    async fn delete_all(&self, deletion: Deletion) -> Result<Erased, EraseError> {
        let request = deletion.request();
        let mut tally = Tally::default();
        let mut first: Option<StoreError> = None;
        for resource in request.resources() {
            let (files, unlisted) = self.files(&request, resource, &mut tally).await?;
            let deleted = self
                .store
                .delete_account_files(resource, &request.account, &files)
                .await;
            for e in [unlisted, deleted.err()].into_iter().flatten() {
                first.get_or_insert(e);
            }
        }
        if let Some(e) = first {
            return Err(e.into());
        }
        let (partitions, bytes) = tally.totals();
        let done_at = self
            .registry
            .finish_deletion(&deletion, partitions, bytes)
            .await?;
        Ok(Erased {
            deletion: Deletion {
                done_at: Some(done_at),
                partitions: partitions as i64,
                bytes: bytes as i64,
                last_error: None,
                ..deletion
            },
        })
    }

    /// The files of `resource` that `request` covers: those listed in the account's
    /// directory and those the registry recorded, counted into `tally`; and why the directory
    /// could not be listed, if it could not (the recorded files are deleted all the same).
    async fn files(
        &self,
        request: &DeletionRequest,
        resource: Resource,
        tally: &mut Tally,
    ) -> Result<(Vec<StoredFile>, Option<StoreError>), EraseError> {
        let account = &request.account;
        self.store.abort_account_uploads(resource, account).await;
        let covered = |day: Option<NaiveDate>| match (request.before, day) {
            (None, _) => true,
            (Some(before), Some(day)) => day < before,
            (Some(_), None) => false,
        };
        let mut files: BTreeMap<String, StoredFile> = BTreeMap::new();
        let (listed, unlisted) = match self.store.list_account(resource, account).await {
            Ok(listed) => (listed, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        for f in listed {
            if covered(f.day) {
                tally.listed(resource, &f);
                files.insert(f.key.clone(), f);
            }
        }
        for p in self.registry.partitions(account, resource).await? {
            if !request.covers(p.day) {
                continue;
            }
            if p.object_key.is_none() {
                tally.empty_day(resource, p.day);
            } else {
                let key = PartitionKey {
                    resource,
                    account: account.clone(),
                    day: p.day,
                }
                .object_key();
                files.entry(key.clone()).or_insert(StoredFile {
                    key,
                    day: Some(p.day),
                    bytes: 0,
                });
            }
        }
        Ok((files.into_values().collect(), unlisted))
    }
}

/// What a deletion removed: partitions (days with a file found, or a recorded empty day) and
/// bytes. A recorded partition whose file was not found is not counted: nothing of it was
/// deleted.
#[derive(Default)]
struct Tally {
    days: BTreeMap<(Resource, NaiveDate), u64>,
    /// Files outside any `date=` directory, which count as partitions of their own.
    loose: BTreeSet<String>,
    loose_bytes: u64,
}

impl Tally {
    fn listed(&mut self, resource: Resource, f: &StoredFile) {
        match f.day {
            Some(day) => *self.days.entry((resource, day)).or_default() += f.bytes,
            None => {
                self.loose.insert(f.key.clone());
                self.loose_bytes += f.bytes;
            }
        }
    }

    /// A recorded day without rows (so without a file): its registry row goes.
    fn empty_day(&mut self, resource: Resource, day: NaiveDate) {
        self.days.entry((resource, day)).or_insert(0);
    }

    fn totals(&self) -> (u64, u64) {
        let partitions = self.days.len() + self.loose.len();
        let bytes = self.days.values().sum::<u64>() + self.loose_bytes;
        (partitions as u64, bytes)
    }
}
