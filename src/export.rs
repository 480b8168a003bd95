//! The spine: one window (an account, a resource, a UTC day) through fetch → decode → batch →
//! writer → store, then recorded in the registry; and many windows run side by side.
//!
//! **Invariant:** a partition is recorded only after its file is durable under its final key,
//! and a window that fails leaves the partition as it was. Both resources go through the same
//! code; they differ only in their [`Source`].

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Instant;

use chrono::NaiveDate;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::batch::{AppendRow, BatchBuilder};
use crate::decode::calls::Call;
use crate::decode::usage_records::UsageRecord;
use crate::decode::value::days_since_epoch;
use crate::decode::{decode_page_at_most, DecodeError, Record};
use crate::domain::{AccountSid, PartitionKey, Resource};
use crate::fetch::{FetchError, PageUri, PageWalk, TwilioClient};
use crate::registry::{
    LeaseHolder, Registry, RegistryError, RunId, RunOutcome, RunTotals, TwilioStatus,
};
use crate::store::{Store, StoreError};
use crate::writer::{PartWriter, WriteError};

/// Records per page asked of the API (its maximum, `docs/twilio-api.md` §3).
pub const PAGE_SIZE: u32 = 1000;
/// Rows buffered before they are handed to the Parquet writer.
const BATCH_ROWS: usize = 8192;

/// Why a window did not finish, by what the run does about it. In every case the window's
/// partition and its record are left as they were.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The run was cancelled (a signal) while the window was in progress: not a failure; the
    /// run is recorded as interrupted.
    #[error("cancelled")]
    Cancelled,
    /// The pair's lease was taken over by another process: the window was not published and
    /// the account's remaining windows are skipped, not failed.
    #[error("the lease was taken over by another process; not published")]
    LeaseLost,
    /// Reading the API failed. [`FetchError::Unauthorized`] means the grant may be lost: it is
    /// re-checked, and if it is gone the account is skipped; anything else fails the window.
    #[error(transparent)]
    Fetch(FetchError),
    /// Writing the Parquet file at its staging path failed: the window failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Publishing the file (or deleting an emptied day's) failed: the window failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Recording the partition failed: the window failed; it is exported again next time.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

impl From<FetchError> for ExportError {
    fn from(e: FetchError) -> Self {
        match e {
            FetchError::Cancelled => ExportError::Cancelled,
            e => ExportError::Fetch(e),
        }
    }
}

/// The leases a run's windows are exported under (see [`Exporter::run_leased`]).
pub struct LeaseScope {
    holder: LeaseHolder,
    lost: Mutex<HashSet<AccountSid>>,
}

impl LeaseScope {
    pub fn new(holder: LeaseHolder) -> Self {
        Self {
            holder,
            lost: Mutex::new(HashSet::new()),
        }
    }

    pub fn holder(&self) -> &LeaseHolder {
        &self.holder
    }

    /// Marks `account`'s lease lost: its remaining windows are skipped. True the first time.
    pub fn lose(&self, account: &AccountSid) -> bool {
        self.lost
            .lock()
            .expect("not poisoned")
            .insert(account.clone())
    }

    pub fn is_lost(&self, account: &AccountSid) -> bool {
        self.lost.lock().expect("not poisoned").contains(account)
    }
}

/// What each window of a run shares.
struct RunContext<'a> {
    run: RunId,
    summary: &'a Mutex<Summary>,
    lost: &'a Mutex<HashSet<AccountSid>>,
    scope: Option<&'a LeaseScope>,
    on_event: &'a (dyn Fn(WindowEvent<'_>) + Sync),
}

/// One unit of work: a partition to (re-)export and the credential that reaches its account.
#[derive(Clone, Debug)]
pub struct Window {
    pub key: PartitionKey,
    pub credential: AccountSid,
    /// Records per page asked of the API (1..=1000; [`PAGE_SIZE`] unless a job says otherwise).
    pub page_size: u32,
}

/// What a finished window wrote.
#[derive(Clone, Debug, Default)]
pub struct WindowReport {
    pub rows: u64,
    pub bytes: u64,
    /// The published file, or `None` for a day without rows.
    pub object_key: Option<String>,
    /// Records the API returned that belong to another day's partition (exported there).
    pub outside_window: u64,
    /// Records that appeared twice while paging (kept once).
    pub duplicates: u64,
    pub pages: u64,
}

/// What happened to each window, for progress display.
#[derive(Debug)]
pub enum WindowEvent<'a> {
    Exported(&'a Window, &'a WindowReport),
    Failed(&'a Window, &'a ExportError),
    /// Not attempted, or not published: its account lost its authorization or Twilio reported
    /// it suspended or closed earlier in the run, or its lease was taken over by another process.
    Skipped(&'a Window),
}

/// The outcome of a set of windows.
#[derive(Debug, Default)]
pub struct Summary {
    pub run: Option<RunId>,
    pub totals: RunTotals,
    pub bytes: u64,
    pub accounts: HashSet<AccountSid>,
    pub failures: Vec<(PartitionKey, String)>,
    /// Accounts found deauthorized during the run, with the reason.
    pub deauthorized: Vec<(AccountSid, String)>,
    /// Accounts Twilio reported suspended or closed during the run (skipped, not failed).
    pub inactive: Vec<(AccountSid, TwilioStatus)>,
    pub skipped: u64,
    pub interrupted: bool,
    pub seconds: f64,
}

impl Summary {
    pub fn outcome(&self) -> RunOutcome {
        if self.interrupted {
            RunOutcome::Interrupted
        } else if self.totals.windows_failed > 0 {
            RunOutcome::Partial
        } else {
            RunOutcome::Succeeded
        }
    }
}

/// Everything a window needs.
#[derive(Clone)]
pub struct Exporter {
    pub client: TwilioClient,
    pub registry: Registry,
    pub store: Store,
    pub cancel: CancellationToken,
}

impl Exporter {
    /// Exports `windows` (at most `concurrency` at a time) as one recorded run.
    pub async fn run(
        &self,
        command: &str,
        detail: &str,
        windows: Vec<Window>,
        concurrency: usize,
        on_event: &(dyn Fn(WindowEvent<'_>) + Sync),
    ) -> Result<Summary, RegistryError> {
        self.run_in(command, detail, windows, concurrency, on_event, None)
            .await
    }

    /// [`Exporter::run`] for windows whose (account, resource) leases `scope` holds: a window
    /// publishes only while its lease is still held, and once an account's lease is lost its
    /// remaining windows are skipped.
    pub async fn run_leased(
        &self,
        command: &str,
        detail: &str,
        windows: Vec<Window>,
        concurrency: usize,
        on_event: &(dyn Fn(WindowEvent<'_>) + Sync),
        scope: &LeaseScope,
    ) -> Result<Summary, RegistryError> {
        self.run_in(command, detail, windows, concurrency, on_event, Some(scope))
            .await
    }

    async fn run_in(
        &self,
        command: &str,
        detail: &str,
        windows: Vec<Window>,
        concurrency: usize,
        on_event: &(dyn Fn(WindowEvent<'_>) + Sync),
        scope: Option<&LeaseScope>,
    ) -> Result<Summary, RegistryError> {
        let started = Instant::now();
        let run = self.registry.start_run(command, detail).await?;
        let summary = Mutex::new(Summary {
            run: Some(run),
            ..Summary::default()
        });
        let lost: Mutex<HashSet<AccountSid>> = Mutex::new(HashSet::new());
        let ctx = RunContext {
            run,
            summary: &summary,
            lost: &lost,
            scope,
            on_event,
        };
        futures::stream::iter(windows)
            .map(|w| {
                let ctx = &ctx;
                async move { self.one_window(&w, ctx).await }
            })
            .buffer_unordered(concurrency.max(1))
            .collect::<()>()
            .await;
        let mut summary = summary.into_inner().expect("not poisoned");
        summary.seconds = started.elapsed().as_secs_f64();
        let error = summary.failures.first().map(|(k, e)| format!("{k}: {e}"));
        self.registry
            .finish_run(run, summary.outcome(), summary.totals, error.as_deref())
            .await?;
        Ok(summary)
    }

    /// One window of a run, its outcome added to the run's summary.
    async fn one_window(&self, w: &Window, ctx: &RunContext<'_>) {
        let summary = ctx.summary;
        if self.cancel.is_cancelled() {
            summary.lock().expect("not poisoned").interrupted = true;
            return;
        }
        let lease_lost = ctx.scope.is_some_and(|s| s.is_lost(&w.key.account));
        if lease_lost
            || ctx
                .lost
                .lock()
                .expect("not poisoned")
                .contains(&w.key.account)
        {
            summary.lock().expect("not poisoned").skipped += 1;
            (ctx.on_event)(WindowEvent::Skipped(w));
            return;
        }
        let result = self.export_window_in(w, ctx.run, ctx.scope).await;
        summary
            .lock()
            .expect("not poisoned")
            .accounts
            .insert(w.key.account.clone());
        match result {
            Ok(report) => {
                let mut s = summary.lock().expect("not poisoned");
                s.totals.windows_exported += 1;
                s.totals.rows += report.rows;
                s.totals.files += u64::from(report.object_key.is_some());
                s.totals.outside_window += report.outside_window;
                s.totals.duplicates += report.duplicates;
                s.bytes += report.bytes;
                drop(s);
                (ctx.on_event)(WindowEvent::Exported(w, &report));
            }
            Err(ExportError::Cancelled) => summary.lock().expect("not poisoned").interrupted = true,
            Err(ExportError::LeaseLost) => {
                summary.lock().expect("not poisoned").skipped += 1;
                (ctx.on_event)(WindowEvent::Skipped(w));
            }
            Err(err) => {
                self.window_failed(w, err, ctx.run, summary, ctx.lost, ctx.on_event)
                    .await
            }
        }
    }

    async fn window_failed(
        &self,
        w: &Window,
        err: ExportError,
        run: RunId,
        summary: &Mutex<Summary>,
        lost: &Mutex<HashSet<AccountSid>>,
        on_event: &(dyn Fn(WindowEvent<'_>) + Sync),
    ) {
        if let ExportError::Fetch(FetchError::Unauthorized { .. }) = &err {
            if let Some(lost_why) = self.recheck(w).await {
                let first = lost
                    .lock()
                    .expect("not poisoned")
                    .insert(w.key.account.clone());
                if first {
                    self.record_lost(&w.key.account, lost_why, summary).await;
                }
                summary.lock().expect("not poisoned").skipped += 1;
                on_event(WindowEvent::Skipped(w));
                return;
            }
        }
        let message = err.to_string();
        tracing::error!(partition = %w.key, error = %message, stage = "exporting", "Window failed; its partition was left as it was");
        if let Err(e) = self.registry.record_failure(&w.key, &message, run).await {
            tracing::error!(error = %e, "Cannot record the failure");
        }
        on_event(WindowEvent::Failed(w, &err));
        let mut s = summary.lock().expect("not poisoned");
        s.totals.windows_failed += 1;
        s.failures.push((w.key.clone(), message));
    }

    /// After a 401: why the account is lost to this run, or `None` if the API now reads it
    /// (a single 401 may be a blip). Twilio answers 401 for the data of suspended and closed
    /// accounts while the Account resource still shows their status.
    async fn recheck(&self, w: &Window) -> Option<Lost> {
        match self
            .client
            .fetch_account(&w.credential, &w.key.account)
            .await
        {
            Err(recheck @ FetchError::Unauthorized { .. }) => {
                Some(Lost::Deauthorized(recheck.to_string()))
            }
            Ok(info) => info
                .status
                .as_deref()
                .map(TwilioStatus::parse)
                .filter(|s| !s.exported())
                .map(Lost::Inactive),
            Err(_) => None,
        }
    }

    /// Records once why an account's remaining windows are skipped.
    async fn record_lost(&self, account: &AccountSid, why: Lost, summary: &Mutex<Summary>) {
        match why {
            Lost::Deauthorized(reason) => {
                tracing::warn!(account = %account, error = %reason, "Account lost its authorization; skipping it");
                if let Err(e) = self.registry.deauthorize(account, &reason).await {
                    tracing::error!(error = %e, "Cannot record the deauthorization");
                }
                let mut s = summary.lock().expect("not poisoned");
                s.deauthorized.push((account.clone(), reason));
            }
            Lost::Inactive(status) => {
                tracing::warn!(account = %account, twilio_status = %status, "Twilio reports the account suspended or closed; skipping it");
                if let Err(e) = self.registry.set_twilio_status(account, &status).await {
                    tracing::error!(error = %e, "Cannot record the account's status");
                }
                let mut s = summary.lock().expect("not poisoned");
                s.inactive.push((account.clone(), status));
            }
        }
    }

    /// Exports one window and records its partition.
    pub async fn export_window(&self, w: &Window, run: RunId) -> Result<WindowReport, ExportError> {
        self.export_window_in(w, run, None).await
    }

    /// Exports one window and records its partition; under `scope`, only while the pair's
    /// lease is still held when the file is about to be published.
    #[tracing::instrument(skip_all, fields(account = %w.key.account, resource = %w.key.resource, day = %w.key.day))]
    async fn export_window_in(
        &self,
        w: &Window,
        run: RunId,
        scope: Option<&LeaseScope>,
    ) -> Result<WindowReport, ExportError> {
        let (report, staged) = match w.key.resource {
            Resource::Calls => self.fetch_into_file::<CallsSource>(w).await?,
            Resource::UsageRecords => self.fetch_into_file::<UsageSource>(w).await?,
        };
        if let Some(scope) = scope {
            if !self.still_held(scope, &w.key).await? {
                if let Some(path) = &staged {
                    self.store.discard(path).await;
                }
                return Err(ExportError::LeaseLost);
            }
        }
        let key = w.key.object_key();
        match &staged {
            Some(path) => {
                if let Err(e) = self.store.publish(path, &key).await {
                    self.store.discard(path).await;
                    return Err(e.into());
                }
            }
            // A day without rows has no file; one written by an earlier run must go.
            None => self.store.delete(&key).await?,
        }
        let object_key = staged.map(|_| key);
        self.registry
            .record_partition(
                &w.key,
                report.rows,
                report.bytes,
                object_key.as_deref(),
                run,
            )
            .await?;
        tracing::debug!(
            rows = report.rows,
            pages = report.pages,
            "Partition exported"
        );
        if report.outside_window > 0 || report.duplicates > 0 {
            tracing::info!(
                outside_window = report.outside_window,
                duplicates = report.duplicates,
                "Records left out of this partition: those of other days belong to their own day's, repeats were kept once"
            );
        }
        Ok(WindowReport {
            object_key,
            ..report
        })
    }

    /// Whether `scope` still holds the lease of `key`'s pair; if not, the account is marked
    /// lost in `scope` so that its remaining windows are skipped.
    async fn still_held(
        &self,
        scope: &LeaseScope,
        key: &PartitionKey,
    ) -> Result<bool, ExportError> {
        if !scope.is_lost(&key.account)
            && self
                .registry
                .holds_lease(&key.account, key.resource, &scope.holder)
                .await?
        {
            return Ok(true);
        }
        if scope.lose(&key.account) {
            tracing::warn!(account = %key.account, resource = %key.resource, "Lease taken over by another process; this account's remaining windows are left to it");
        }
        Ok(false)
    }

    /// Pages through the window into a staged Parquet file (`None` if there were no rows).
    /// Every page holds at most the page size asked for, and only records of the window's
    /// account; links are followed per [`PageWalk`], at most [`Source::MAX_RECORDS`] worth.
    async fn fetch_into_file<S: Source>(
        &self,
        w: &Window,
    ) -> Result<(WindowReport, Option<std::path::PathBuf>), ExportError> {
        let mut builder = BatchBuilder::new(w.key.resource);
        let mut writer: Option<PartWriter> = None;
        let mut report = WindowReport::default();
        let mut seen = Seen::default();
        let page_size = w.page_size.clamp(1, PAGE_SIZE);
        let rules = PageRules {
            account: &w.key.account,
            day: days_since_epoch(w.key.day),
            max_records: page_size as usize,
        };
        let mut walk = PageWalk::new(
            S::first_page(&w.key.account, w.key.day, page_size),
            S::MAX_RECORDS.div_ceil(u64::from(page_size)) + 1,
        );
        let mut uri = Some(walk.first().clone());
        let result: Result<(), ExportError> = async {
            while let Some(page_uri) = uri.take() {
                let end = self
                    .client
                    .get_with(&w.credential, &w.key.account, &page_uri, |body| {
                        rules.take::<S>(body, &mut builder, &mut seen, &mut report)
                    })
                    .await?;
                let next = match end {
                    PageEnd::Next(next) => next,
                    PageEnd::Foreign(found) => {
                        return Err(FetchError::ForeignRecord {
                            path: page_uri.path().to_owned(),
                            expected: w.key.account.clone(),
                            found,
                        }
                        .into())
                    }
                };
                report.pages += 1;
                if builder.len() >= BATCH_ROWS {
                    self.flush(&mut builder, &mut writer)?;
                }
                uri = walk.follow(next, self.client.base())?;
            }
            if !builder.is_empty() {
                self.flush(&mut builder, &mut writer)?;
            }
            Ok(())
        }
        .await;
        match (result, writer) {
            (Ok(()), Some(writer)) => match writer.finish() {
                Ok(file) => {
                    report.rows = file.rows;
                    report.bytes = file.bytes;
                    Ok((report, Some(file.path)))
                }
                Err(e) => Err(e.into()),
            },
            (Ok(()), None) => Ok((report, None)),
            (Err(e), writer) => {
                if let Some(writer) = writer {
                    let path = writer.path().to_owned();
                    drop(writer);
                    self.store.discard(&path).await;
                }
                Err(e)
            }
        }
    }

    fn flush(
        &self,
        builder: &mut BatchBuilder,
        writer: &mut Option<PartWriter>,
    ) -> Result<(), ExportError> {
        let batch = builder.finish();
        let w = match writer {
            Some(w) => w,
            None => writer.insert(PartWriter::create(
                &self.store.staging_path(),
                self.store.staging_mode(),
                builder.schema(),
            )?),
        };
        w.write(&batch)?;
        Ok(())
    }
}

/// Why the rest of an account's windows are skipped.
enum Lost {
    /// The grant is gone (the re-check was refused too).
    Deauthorized(String),
    /// Twilio reports the account suspended or closed.
    Inactive(TwilioStatus),
}

/// What every page of a window must satisfy.
struct PageRules<'w> {
    account: &'w AccountSid,
    /// The window's day, as days since 1970-01-01.
    day: i32,
    /// The page size asked for.
    max_records: usize,
}

impl PageRules<'_> {
    /// Decodes one page into `builder`, all or nothing: at most `max_records` records, all
    /// of `account` (else nothing is added and the page ends as [`PageEnd::Foreign`]).
    fn take<S: Source>(
        &self,
        body: &[u8],
        builder: &mut BatchBuilder,
        seen: &mut Seen,
        report: &mut WindowReport,
    ) -> Result<PageEnd, DecodeError> {
        let page = decode_page_at_most::<S::Rec<'_>>(body, self.max_records)?;
        let account = Some(self.account.as_str());
        if let Some(rec) = page.records.iter().find(|r| S::account_of(r) != account) {
            return Ok(PageEnd::Foreign(S::account_of(rec).map(str::to_owned)));
        }
        for rec in &page.records {
            if S::day_of(rec) != Some(self.day) {
                report.outside_window += 1;
            } else if !seen.insert(S::identity(rec)) {
                report.duplicates += 1;
            } else {
                builder.push(rec);
            }
        }
        Ok(PageEnd::Next(page.next_page_uri))
    }
}

/// How a page ended: the link to the next one, or a record of another account (whose
/// account sid, if it had one).
enum PageEnd {
    Next(Option<String>),
    Foreign(Option<String>),
}

/// Record identities seen in a window, to keep each record once when paging shifts.
#[derive(Default)]
struct Seen {
    hex: HashSet<u128>,
    other: HashSet<String>,
}

impl Seen {
    fn insert(&mut self, id: std::borrow::Cow<'_, str>) -> bool {
        // A Twilio sid is two letters and 32 hex digits: 16 bytes instead of a String.
        if id.len() == 34 {
            if let Ok(v) = u128::from_str_radix(&id[2..], 16) {
                return self.hex.insert(v);
            }
        }
        self.other.insert(id.into_owned())
    }
}

/// What differs between resources on the way from the API to the partition.
trait Source {
    type Rec<'a>: Record<'a> + AppendRow;
    /// More records than one day of one account can hold; a window that pages past them
    /// fails ([`FetchError::TooManyPages`]).
    const MAX_RECORDS: u64;
    /// The first page of the window's query.
    fn first_page(account: &AccountSid, day: NaiveDate, page_size: u32) -> PageUri;
    /// The partition day of a record, as days since 1970-01-01.
    fn day_of(rec: &Self::Rec<'_>) -> Option<i32>;
    /// What makes a record unique within its partition.
    fn identity<'r>(rec: &'r Self::Rec<'_>) -> std::borrow::Cow<'r, str>;
    /// The account a record says it belongs to.
    fn account_of<'r>(rec: &'r Self::Rec<'_>) -> Option<&'r str>;
}

struct CallsSource;

impl Source for CallsSource {
    type Rec<'a> = Call<'a>;
    /// Ten million calls: one account starting 115 calls every second of the day.
    const MAX_RECORDS: u64 = 10_000_000;

    /// Calls that started on `day` (UTC): `StartTime>` is inclusive, `StartTime<` strict
    /// (`docs/twilio-api.md` §4.1). Rows outside the day are dropped by [`Source::day_of`],
    /// so a server that reads the bounds differently cannot put a row in the wrong partition.
    fn first_page(account: &AccountSid, day: NaiveDate, page_size: u32) -> PageUri {
        let next = day.succ_opt().unwrap_or(day);
        PageUri::build(
            &format!("/2010-04-01/Accounts/{account}/Calls.json"),
            &[
                ("StartTime>", day.to_string()),
                ("StartTime<", next.to_string()),
                ("PageSize", page_size.clamp(1, PAGE_SIZE).to_string()),
            ],
        )
    }

    fn day_of(rec: &Call<'_>) -> Option<i32> {
        rec.start_time
            .map(|us| us.div_euclid(86_400_000_000) as i32)
    }

    fn identity<'r>(rec: &'r Call<'_>) -> std::borrow::Cow<'r, str> {
        std::borrow::Cow::Borrowed(&rec.sid)
    }

    fn account_of<'r>(rec: &'r Call<'_>) -> Option<&'r str> {
        rec.account_sid.as_deref()
    }
}

struct UsageSource;

impl Source for UsageSource {
    type Rec<'a> = UsageRecord<'a>;
    /// One record per usage category and day; Twilio has some 650 categories.
    const MAX_RECORDS: u64 = 10_000;

    /// One record per category for `day`. `IncludeSubaccounts=false` because every account
    /// is exported on its own: including subaccounts would count their usage twice
    /// (`docs/twilio-api.md` §5).
    fn first_page(account: &AccountSid, day: NaiveDate, page_size: u32) -> PageUri {
        PageUri::build(
            &format!("/2010-04-01/Accounts/{account}/Usage/Records/Daily.json"),
            &[
                ("StartDate", day.to_string()),
                ("EndDate", day.to_string()),
                ("IncludeSubaccounts", "false".to_owned()),
                ("PageSize", page_size.clamp(1, PAGE_SIZE).to_string()),
            ],
        )
    }

    fn day_of(rec: &UsageRecord<'_>) -> Option<i32> {
        rec.start_date
    }

    /// A category once per account: should a server include subaccounts anyway, their
    /// records are distinct rows, not duplicates.
    fn identity<'r>(rec: &'r UsageRecord<'_>) -> std::borrow::Cow<'r, str> {
        match &rec.account_sid {
            Some(account) => std::borrow::Cow::Owned(format!("{account}/{}", rec.category)),
            None => std::borrow::Cow::Borrowed(&rec.category),
        }
    }

    fn account_of<'r>(rec: &'r UsageRecord<'_>) -> Option<&'r str> {
        rec.account_sid.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80";
    const OTHER: &str = "AC00000000000000000000000000000001";

    /// A usage page of `records` (account sid or none, category) for 2026-03-01, taken with
    /// a page size of `max`; returns how the page ended and the rows added.
    fn take(records: &[(Option<&str>, &str)], max: usize) -> (Result<PageEnd, DecodeError>, usize) {
        let json: Vec<String> = records
            .iter()
            .map(|(account, category)| {
                let account = account.map_or("null".to_owned(), |a| format!("{a:?}"));
                format!(r#"{{"account_sid":{account},"category":"{category}","start_date":"2026-03-01"}}"#)
            })
            .collect();
        let body = format!(
            r#"{{"usage_records":[{}],"next_page_uri":null}}"#,
            json.join(",")
        );
        let account = AccountSid::parse(ACCOUNT).unwrap();
        let rules = PageRules {
            account: &account,
            day: days_since_epoch("2026-03-01".parse().unwrap()),
            max_records: max,
        };
        let mut builder = BatchBuilder::new(Resource::UsageRecords);
        let end = rules.take::<UsageSource>(
            body.as_bytes(),
            &mut builder,
            &mut Seen::default(),
            &mut WindowReport::default(),
        );
        (end, builder.len())
    }

    #[test]
    fn a_cancelled_fetch_is_a_cancelled_window_not_a_failed_one() {
        assert!(matches!(
            ExportError::from(FetchError::Cancelled),
            ExportError::Cancelled
        ));
    }

    #[test]
    fn a_page_of_the_windows_account_is_taken_whole() {
        let (end, rows) = take(&[(Some(ACCOUNT), "calls"), (Some(ACCOUNT), "sms")], 2);
        assert!(matches!(end, Ok(PageEnd::Next(None))));
        assert_eq!(rows, 2);
    }

    #[test]
    fn a_record_of_another_account_or_of_none_takes_nothing_of_the_page() {
        let (end, rows) = take(&[(Some(ACCOUNT), "calls"), (Some(OTHER), "sms")], 10);
        assert!(matches!(end, Ok(PageEnd::Foreign(Some(ref a))) if a == OTHER));
        assert_eq!(rows, 0);
        let (end, rows) = take(&[(None, "calls")], 10);
        assert!(matches!(end, Ok(PageEnd::Foreign(None))));
        assert_eq!(rows, 0);
    }

    #[test]
    fn a_page_over_the_page_size_takes_nothing() {
        let (end, rows) = take(&[(Some(ACCOUNT), "calls"), (Some(ACCOUNT), "sms")], 1);
        assert!(matches!(end, Err(DecodeError::TooManyRecords { max: 1 })));
        assert_eq!(rows, 0);
    }
}
