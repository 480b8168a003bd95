//! The spine: one window (an account, a resource, a UTC day) through fetch → decode → batch →
//! writer → store, then recorded in the registry; and many windows run side by side. Windows
//! are read in spans (consecutive days with one query, `spans`), each day to its own file.
//!
//! **Invariant:** a partition is recorded only after its file is durable under its final key,
//! and a window that fails leaves the partition as it was; a span that fails to be read
//! publishes none of its days. Both resources go through the same
//! code; they differ only in their [`Source`].

use std::collections::HashSet;
use std::sync::Mutex;

use chrono::NaiveDate;
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
use crate::writer::{BackgroundWriter, WriteError};

mod run;
mod spans;

use spans::Span;

/// Records per page asked of the API (its maximum, `docs/twilio-api.md` §3).
pub const PAGE_SIZE: u32 = 1000;
/// Rows buffered before they are handed to the Parquet writer.
const BATCH_ROWS: usize = 4096;

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
    /// The span this day was read with failed: the day failed with the span's message,
    /// reported with its first day.
    #[error("{message}")]
    InSpan { message: String },
    /// The API answered records, but none of them on the requested days (or without a day):
    /// not what Twilio's filter gives, so the days are left as they were rather than emptied.
    #[error("the API answered {outside} records but none on the requested days; the partitions were left as they were")]
    NothingInRange { outside: u64 },
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
    /// Exports one window and records its partition.
    pub async fn export_window(&self, w: &Window, run: RunId) -> Result<WindowReport, ExportError> {
        let span = Span {
            windows: vec![w.clone()],
        };
        match self
            .export_span(&span, run, None, &self.cancel, None)
            .await?
        {
            SpanEnd::Days(mut days) => days.remove(0),
            SpanEnd::Split(_) => unreachable!("a span of one day is never split"),
        }
    }

    /// Reads a span and publishes and records each of its days; under `scope`, each only while
    /// the pair's lease is still held when its file is about to be published. A span that
    /// fails to be read publishes none of its days. `cancel` stops its requests; `fetch_slot`
    /// is given up once the last page is read.
    #[tracing::instrument(skip_all, fields(account = %span.first().key.account, resource = %span.first().key.resource, first = %span.first().key.day, days = span.days()))]
    async fn export_span(
        &self,
        span: &Span,
        run: RunId,
        scope: Option<&LeaseScope>,
        cancel: &CancellationToken,
        fetch_slot: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<SpanEnd, ExportError> {
        let read = match span.first().key.resource {
            Resource::Calls => self.read_span::<CallsSource>(span, cancel).await?,
            Resource::UsageRecords => self.read_span::<UsageSource>(span, cancel).await?,
        };
        drop(fetch_slot);
        let (staged, reports) = match read {
            SpanRead::Read { staged, reports } => (staged, reports),
            SpanRead::Split(density) => return Ok(SpanEnd::Split(density)),
        };
        let mut days = Vec::with_capacity(span.days());
        for ((w, staged), report) in span.windows.iter().zip(staged).zip(reports) {
            let held = match scope {
                Some(scope) => self.still_held(scope, &w.key).await,
                None => Ok(true),
            };
            days.push(match held {
                Ok(true) => self.publish_day(w, staged, report, run).await,
                Ok(false) | Err(_) => {
                    if let Some(path) = &staged {
                        self.store.discard(path).await;
                    }
                    Err(held.err().unwrap_or(ExportError::LeaseLost))
                }
            });
        }
        Ok(SpanEnd::Days(days))
    }

    /// Publishes one day's staged file (or removes the day's file for a day without rows)
    /// and records its partition.
    async fn publish_day(
        &self,
        w: &Window,
        staged: Option<std::path::PathBuf>,
        report: WindowReport,
        run: RunId,
    ) -> Result<WindowReport, ExportError> {
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
        tracing::debug!(day = %w.key.day, rows = report.rows, "Partition exported");
        if report.outside_window > 0 || report.duplicates > 0 {
            tracing::info!(
                day = %w.key.day,
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

    /// Pages through the span into one staged Parquet file per day (`None` for a day without
    /// rows). Every page holds at most the page size asked for, and only records of the
    /// span's account; links are followed per [`PageWalk`], at most [`Source::MAX_RECORDS`]
    /// a day. Batches are encoded and written off the async threads while the next page is
    /// fetched. A span of several days whose first page shows it far denser than planned
    /// stops there ([`SpanRead::Split`]) and writes nothing.
    async fn read_span<S: Source>(
        &self,
        span: &Span,
        cancel: &CancellationToken,
    ) -> Result<SpanRead, ExportError> {
        let mut days: Vec<DayPart> = (0..span.days())
            .map(|_| DayPart::new(span.first().key.resource, &self.store))
            .collect();
        let mut report = WindowReport::default();
        let result = self
            .read_pages::<S>(span, cancel, &mut days, &mut report)
            .await;
        let split = match result {
            Ok(split) => split,
            Err(e) => {
                self.abandon(days).await;
                return Err(e);
            }
        };
        if let Some(density) = split {
            self.abandon(days).await;
            return Ok(SpanRead::Split(density));
        }
        let mut staged: Vec<Option<std::path::PathBuf>> = Vec::with_capacity(days.len());
        let mut reports = Vec::with_capacity(days.len());
        let mut days = days.into_iter();
        while let Some(day) = days.next() {
            let (duplicates, file) = (day.duplicates, day.writer.finish().await);
            let file = match file {
                Ok(file) => file,
                Err(e) => {
                    for path in staged.iter().flatten() {
                        self.store.discard(path).await;
                    }
                    self.abandon(days.collect()).await;
                    return Err(e.into());
                }
            };
            let mut r = WindowReport {
                duplicates,
                ..WindowReport::default()
            };
            if let Some(f) = &file {
                (r.rows, r.bytes) = (f.rows, f.bytes);
            }
            // The span's own counts go with its first day.
            if reports.is_empty() {
                (r.pages, r.outside_window) = (report.pages, report.outside_window);
            }
            staged.push(file.map(|f| f.path));
            reports.push(r);
        }
        if report.outside_window > 0 && staged.iter().all(Option::is_none) {
            return Err(ExportError::NothingInRange {
                outside: report.outside_window,
            });
        }
        Ok(SpanRead::Read { staged, reports })
    }

    /// Stops writing the days of a span and removes their partial files.
    async fn abandon(&self, days: Vec<DayPart>) {
        for day in days {
            if let Some(path) = day.writer.abandon().await {
                self.store.discard(&path).await;
            }
        }
    }

    /// Reads every page of the span into its days' builders, handing full batches to their
    /// writers; the first page's density when the span is to be planned again.
    async fn read_pages<S: Source>(
        &self,
        span: &Span,
        cancel: &CancellationToken,
        days: &mut [DayPart],
        report: &mut WindowReport,
    ) -> Result<Option<spans::Density>, ExportError> {
        let (first, last) = (span.first(), span.last());
        let page_size = first.page_size.clamp(1, PAGE_SIZE);
        let rules = PageRules {
            account: &first.key.account,
            first_day: days_since_epoch(first.key.day),
            max_records: page_size as usize,
        };
        let mut walk = PageWalk::new(
            S::first_page(&first.key.account, first.key.day, last.key.day, page_size),
            (S::MAX_RECORDS * span.days() as u64).div_ceil(u64::from(page_size)) + 1,
        );
        // Rows a day holds before they go to its writer: one batch in all across the span.
        let batch_rows = (BATCH_ROWS / days.len()).max(256);
        let mut uri = Some(walk.first().clone());
        while let Some(page_uri) = uri.take() {
            let page =
                self.client
                    .get_with(&first.credential, &first.key.account, &page_uri, |body| {
                        rules.take::<S>(body, days, report)
                    });
            let end = tokio::select! {
                end = page => end?,
                _ = cancel.cancelled() => return Err(FetchError::Cancelled.into()),
            };
            let (next, density) = match end {
                PageEnd::Next(next, density) => (next, density),
                PageEnd::Foreign(found) => {
                    return Err(FetchError::ForeignRecord {
                        path: page_uri.path().to_owned(),
                        expected: first.key.account.clone(),
                        found,
                    }
                    .into())
                }
            };
            report.pages += 1;
            if report.pages == 1 && next.is_some() && density.splits(span.days(), page_size) {
                return Ok(Some(density));
            }
            for day in days.iter_mut().filter(|d| d.builder.len() >= batch_rows) {
                day.writer.write(day.builder.finish()).await?;
            }
            uri = walk.follow(next, self.client.base())?;
        }
        for day in days.iter_mut().filter(|d| !d.builder.is_empty()) {
            day.writer.write(day.builder.finish()).await?;
        }
        Ok(None)
    }
}

/// One day of a span being read: its rows, its staged file, the records it kept once.
struct DayPart {
    builder: BatchBuilder,
    writer: BackgroundWriter,
    seen: Seen,
    duplicates: u64,
}

impl DayPart {
    fn new(resource: Resource, store: &Store) -> Self {
        let builder = BatchBuilder::new(resource);
        let writer =
            BackgroundWriter::new(store.staging_path(), store.staging_mode(), builder.schema());
        Self {
            builder,
            writer,
            seen: Seen::default(),
            duplicates: 0,
        }
    }
}

/// What reading a span gave.
enum SpanRead {
    /// Every page was read: each day's staged file (`None` without rows) and report.
    Read {
        staged: Vec<Option<std::path::PathBuf>>,
        reports: Vec<WindowReport>,
    },
    /// The first page showed the span far denser than planned; nothing was written.
    Split(spans::Density),
}

/// How a span ended once read: each day's outcome, in order, or the density to plan it
/// again with.
enum SpanEnd {
    Days(Vec<Result<WindowReport, ExportError>>),
    Split(spans::Density),
}

/// What every page of a span must satisfy.
struct PageRules<'w> {
    account: &'w AccountSid,
    /// The span's first day, as days since 1970-01-01.
    first_day: i32,
    /// The page size asked for.
    max_records: usize,
}

impl PageRules<'_> {
    /// Decodes one page into the builders of `days` (the span's, from its first day), all or
    /// nothing: at most `max_records` records, all of `account` (else nothing is added and
    /// the page ends as [`PageEnd::Foreign`]). Records of days outside the span are counted
    /// and left out.
    fn take<S: Source>(
        &self,
        body: &[u8],
        days: &mut [DayPart],
        report: &mut WindowReport,
    ) -> Result<PageEnd, DecodeError> {
        let page = decode_page_at_most::<S::Rec<'_>>(body, self.max_records)?;
        let account = Some(self.account.as_str());
        if let Some(rec) = page.records.iter().find(|r| S::account_of(r) != account) {
            return Ok(PageEnd::Foreign(
                S::account_of(rec).map(|a| crate::telemetry::escape_controls(a).into_owned()),
            ));
        }
        let mut covered: Option<(usize, usize)> = None;
        let mut density = spans::Density::default();
        for rec in &page.records {
            let index = S::day_of(rec)
                .and_then(|d| usize::try_from(d - self.first_day).ok())
                .filter(|i| *i < days.len());
            let Some(i) = index else {
                report.outside_window += 1;
                continue;
            };
            density.records += 1;
            covered = Some(covered.map_or((i, i), |(lo, hi)| (lo.min(i), hi.max(i))));
            let day = &mut days[i];
            if day.seen.insert(S::identity(rec)) {
                day.builder.push(rec);
            } else {
                day.duplicates += 1;
            }
        }
        density.days_covered = covered.map_or(1, |(lo, hi)| (hi - lo + 1) as u64);
        Ok(PageEnd::Next(page.next_page_uri, density))
    }
}

/// How a page ended: the link to the next one with what the page showed of the span's
/// density, or a record of another account (whose account sid, if it had one).
enum PageEnd {
    Next(Option<String>, spans::Density),
    Foreign(Option<String>),
}

/// Record identities seen in a day of a span, to keep each record once when paging shifts.
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
    /// The first page of the query for the days `first` through `last`.
    fn first_page(
        account: &AccountSid,
        first: NaiveDate,
        last: NaiveDate,
        page_size: u32,
    ) -> PageUri;
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

    /// Calls that started on `first` through `last` (UTC): `StartTime>` is inclusive,
    /// `StartTime<` strict (`docs/twilio-api.md` §4.1). Rows outside the days are dropped
    /// by [`Source::day_of`], so a server that reads the bounds differently cannot put a row in
    /// the wrong partition.
    fn first_page(
        account: &AccountSid,
        first: NaiveDate,
        last: NaiveDate,
        page_size: u32,
    ) -> PageUri {
        let next = last.succ_opt().unwrap_or(last);
        PageUri::build(
            &format!("/2010-04-01/Accounts/{account}/Calls.json"),
            &[
                ("StartTime>", first.to_string()),
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

    /// One record per category for each day from `first` through `last`. `IncludeSubaccounts=false` because every account
    /// is exported on its own: including subaccounts would count their usage twice
    /// (`docs/twilio-api.md` §5).
    fn first_page(
        account: &AccountSid,
        first: NaiveDate,
        last: NaiveDate,
        page_size: u32,
    ) -> PageUri {
        PageUri::build(
            &format!("/2010-04-01/Accounts/{account}/Usage/Records/Daily.json"),
            &[
                ("StartDate", first.to_string()),
                ("EndDate", last.to_string()),
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
            first_day: days_since_epoch("2026-03-01".parse().unwrap()),
            max_records: max,
        };
        let builder = BatchBuilder::new(Resource::UsageRecords);
        let writer = BackgroundWriter::new("unused".into(), 0o600, builder.schema());
        let mut days = [DayPart {
            builder,
            writer,
            seen: Seen::default(),
            duplicates: 0,
        }];
        let end =
            rules.take::<UsageSource>(body.as_bytes(), &mut days, &mut WindowReport::default());
        (end, days[0].builder.len())
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
        assert!(matches!(end, Ok(PageEnd::Next(None, _))));
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
