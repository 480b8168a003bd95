//! Many windows as one recorded run. The windows are first grouped into spans (see
//! [`super::spans`]); each span is a tokio task, so spans decode on every worker thread, and
//! their Parquet encoding, writes and syncs run on the blocking pool (see
//! [`crate::writer::BackgroundWriter`]). Events and the summary stay per window (per day).
//!
//! Two bounds: at most `concurrency` spans are *fetching* at a time, and a span gives its
//! fetch slot up as soon as its files are written, so the next one starts requesting while
//! the previous one publishes them and records them; at most twice
//! that many are alive at all. Within them, [`super::admit`] decides when the next span
//! starts (while the ones fetching wait on Twilio, and did not keep the cores busy lately) and
//! which: the first in the order of their first window whose account has room; a span planned
//! again goes ahead of the rest.
//!
//! Cancellation is scoped: the run has its own token (a child of [`Exporter::cancel`]), and
//! each account one below it, cancelled once the account is found deauthorized, suspended or
//! closed, so its windows in flight stop at their next request instead of running to the end.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;

use chrono::NaiveDate;

use super::admit::{Admission, FetchSlot, Queue, MIN_FETCHING};
use super::spans::{self, Density, Known, Span};
use super::{
    ExportError, Exporter, LeaseScope, SpanEnd, Summary, Window, WindowEvent, WindowReport,
};
use crate::domain::{AccountSid, Resource};
use crate::fetch::{FetchError, TwilioClient};
use crate::registry::{instant_text, RegistryError, RunId, TwilioStatus};

/// What the windows of one run share.
struct Shared {
    exporter: Exporter,
    run: RunId,
    scope: Option<Arc<LeaseScope>>,
    /// The run's cancellation: a child of the exporter's.
    cancel: CancellationToken,
    /// Each account's cancellation, a child of the run's, and whether the account is lost to
    /// the run (deauthorized, or suspended or closed on Twilio).
    accounts: Mutex<HashMap<AccountSid, AccountState>>,
}

struct AccountState {
    cancel: CancellationToken,
    lost: bool,
}

/// How a span ended: each day's outcome, or the density to plan it again with.
enum SpanOutcome {
    Days(Vec<Outcome>),
    Split(Density),
}

/// How one window ended, applied to the summary by the run.
enum Outcome {
    Exported(WindowReport),
    Failed(ExportError, String),
    /// Not attempted or not published; with the reason its account is lost, the first time.
    Skipped(Option<Lost>),
    Interrupted,
}

/// Why the rest of an account's windows are skipped.
enum Lost {
    /// The grant is gone (the re-check, asked at `asked_at`, was refused too).
    Deauthorized {
        account: AccountSid,
        why: String,
        asked_at: String,
    },
    /// Twilio reports the account suspended or closed.
    Inactive(AccountSid, TwilioStatus),
}

impl Exporter {
    /// Exports `windows` (at most `concurrency` fetching at a time) as one recorded run.
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
        scope: &Arc<LeaseScope>,
    ) -> Result<Summary, RegistryError> {
        let scope = Some(scope.clone());
        self.run_in(command, detail, windows, concurrency, on_event, scope)
            .await
    }

    async fn run_in(
        &self,
        command: &str,
        detail: &str,
        windows: Vec<Window>,
        concurrency: usize,
        on_event: &(dyn Fn(WindowEvent<'_>) + Sync),
        scope: Option<Arc<LeaseScope>>,
    ) -> Result<Summary, RegistryError> {
        let started = Instant::now();
        let run = self.registry.start_run(command, detail).await?;
        let mut summary = Summary {
            run: Some(run),
            ..Summary::default()
        };
        let shared = Arc::new(Shared {
            exporter: self.clone(),
            run,
            scope,
            cancel: self.cancel.child_token(),
            accounts: Mutex::new(HashMap::new()),
        });
        let known = self.known_days(&windows).await;
        let spans = spans::plan(windows, |w| known.of(w));
        let mut queue = Queue::new(spans);
        let concurrency = concurrency.max(1);
        let fetching = Arc::new(Semaphore::new(concurrency));
        let alive = Arc::new(Semaphore::new(concurrency * 2));
        let cores = tokio::runtime::Handle::current().metrics().num_workers();
        let admission = Admission::new(MIN_FETCHING, cores);
        let mut tasks = JoinSet::new();
        loop {
            let next = next_span(
                &mut queue,
                &mut tasks,
                &admission,
                &self.client,
                |done, q| finished(done, &mut summary, q, on_event),
            );
            let Some(span) = next.await else {
                break;
            };
            let account = span.first().key.account.clone();
            let permits = tokio::select! {
                p = slots(&alive, &fetching, &admission, account) => p,
                _ = shared.cancel.cancelled() => None,
            };
            let Some((alive_slot, fetch_slot)) = permits else {
                summary.interrupted = true;
                break;
            };
            let shared = shared.clone();
            tasks.spawn(async move {
                let outcome = shared.span(&span, fetch_slot).await;
                drop(alive_slot);
                (span, outcome)
            });
        }
        while let Some(done) = tasks.join_next().await {
            finished(done, &mut summary, &mut queue, on_event);
        }
        self.spent.clear();
        self.store.end_run();
        if let Some(scope) = &shared.scope {
            summary.stopped = scope.all_stopped(&summary);
        }
        summary.seconds = started.elapsed().as_secs_f64();
        let error = summary.failures.first().map(|(k, e)| format!("{k}: {e}"));
        self.registry
            .finish_run(run, summary.outcome(), summary.totals, error.as_deref())
            .await?;
        Ok(summary)
    }
}

impl Exporter {
    /// Rows per day that earlier runs exported, and the days whose windows failed, per
    /// (account, resource) of `windows` (queries per resource and chunk of accounts, over the
    /// days of the windows); what cannot be read is planned as if never exported.
    async fn known_days(&self, windows: &[Window]) -> KnownDays {
        let mut wanted: HashMap<Resource, (Vec<AccountSid>, NaiveDate, NaiveDate)> = HashMap::new();
        let mut seen = HashSet::new();
        for w in windows {
            let (sids, first, last) =
                wanted
                    .entry(w.key.resource)
                    .or_insert((Vec::new(), w.key.day, w.key.day));
            (*first, *last) = ((*first).min(w.key.day), (*last).max(w.key.day));
            if seen.insert((w.key.account.clone(), w.key.resource)) {
                sids.push(w.key.account.clone());
            }
        }
        let mut known = KnownDays::default();
        for (resource, (sids, first, last)) in wanted {
            let rows = self
                .registry
                .partition_rows_of(resource, &sids, first, last);
            match rows.await {
                Ok(rows) => {
                    (known.rows).extend(rows.into_iter().map(|(sid, days)| ((sid, resource), days)))
                }
                Err(e) => {
                    tracing::warn!(%resource, error = %e, "Cannot read earlier partitions; planning as if there were none");
                }
            }
            match self.registry.failed_days_of(resource, &sids, first).await {
                Ok(failed) => known
                    .failed
                    .extend(failed.into_iter().flat_map(|(sid, days)| {
                        days.into_iter().map(move |d| ((sid.clone(), resource), d))
                    })),
                Err(e) => {
                    tracing::warn!(%resource, error = %e, "Cannot read earlier failed windows; planning as if there were none");
                }
            }
        }
        known
    }
}

type Pair = (AccountSid, Resource);

/// What earlier runs left of the days of a run: rows exported, windows failed.
#[derive(Default)]
struct KnownDays {
    rows: HashMap<Pair, HashMap<NaiveDate, u64>>,
    failed: HashSet<(Pair, NaiveDate)>,
}

impl KnownDays {
    fn of(&self, w: &Window) -> Known {
        let pair = (w.key.account.clone(), w.key.resource);
        if self.failed.contains(&(pair.clone(), w.key.day)) {
            return Known::Failed;
        }
        match self.rows.get(&pair).and_then(|days| days.get(&w.key.day)) {
            Some(rows) => Known::Rows(*rows),
            None => Known::Unknown,
        }
    }
}

/// A finished span: its days' outcomes go to the summary, or, its days found dense,
/// it is planned again as day windows, ahead of the rest.
fn finished(
    joined: Result<(Span, SpanOutcome), tokio::task::JoinError>,
    summary: &mut Summary,
    queue: &mut Queue,
    on_event: &(dyn Fn(WindowEvent<'_>) + Sync),
) {
    match joined {
        Ok((span, SpanOutcome::Days(outcomes))) => {
            for (w, outcome) in span.windows.iter().zip(outcomes) {
                add_outcome(summary, w, outcome, on_event);
            }
        }
        Ok((span, SpanOutcome::Split(density))) => {
            let per_day = density.per_day().ceil() as u64;
            tracing::debug!(account = %span.first().key.account, first = %span.first().key.day, days = span.days(), per_day, "A span is denser than planned; planning it again");
            for part in spans::plan(span.windows, |_| Known::Dense)
                .into_iter()
                .rev()
            {
                queue.push_front(part);
            }
        }
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => summary.interrupted = true,
    }
}

/// The next span to start: the first whose account has room ([`Admission::has_room`]), once
/// one has; `None` once the queue is empty and every task has ended. Tasks that end meanwhile
/// go to `done`.
async fn next_span(
    queue: &mut Queue,
    tasks: &mut JoinSet<(Span, SpanOutcome)>,
    admission: &Admission,
    client: &TwilioClient,
    mut done: impl FnMut(Result<(Span, SpanOutcome), JoinError>, &mut Queue),
) -> Option<Span> {
    loop {
        while let Some(joined) = tasks.try_join_next() {
            done(joined, queue);
        }
        if queue.is_empty() || tasks.is_empty() {
            // With no task left nothing fetches, so every account has room.
            if let Some(span) = queue.next(|_| true) {
                return Some(span);
            }
            done(tasks.join_next().await?, queue);
            continue;
        }
        let changed = admission.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let room = |a: &AccountSid| admission.has_room(a, client.allowed_in_flight(a));
        if let Some(span) = queue.next(room) {
            return Some(span);
        }
        tokio::select! {
            Some(joined) = tasks.join_next() => done(joined, queue),
            _ = &mut changed => {}
        }
    }
}

/// A slot among the windows alive, then one among those fetching once `admission` lets
/// another window start, for a window of `account` (`None` once closed).
async fn slots(
    alive: &Arc<Semaphore>,
    fetching: &Arc<Semaphore>,
    admission: &Arc<Admission>,
    account: AccountSid,
) -> Option<(OwnedSemaphorePermit, FetchSlot)> {
    let a = alive.clone().acquire_owned().await.ok()?;
    let f = fetching.clone().acquire_owned().await.ok()?;
    admission.open().await;
    Some((a, admission.fetch_slot(f, account)))
}

/// Adds a window's outcome to the run's summary and reports it.
fn add_outcome(
    s: &mut Summary,
    w: &Window,
    outcome: Outcome,
    on_event: &(dyn Fn(WindowEvent<'_>) + Sync),
) {
    match outcome {
        Outcome::Exported(report) => {
            s.accounts.insert(w.key.account.clone());
            s.totals.windows_exported += 1;
            s.totals.rows += report.rows;
            s.totals.files += u64::from(report.object_key.is_some());
            s.totals.outside_window += report.outside_window;
            s.totals.duplicates += report.duplicates;
            s.emptied_days += u64::from(report.emptied_rows > 0);
            s.bytes += report.bytes;
            on_event(WindowEvent::Exported(w, &report));
        }
        Outcome::Failed(err, message) => {
            s.accounts.insert(w.key.account.clone());
            on_event(WindowEvent::Failed(w, &err));
            s.totals.windows_failed += 1;
            if let ExportError::OtherModes { published: Some(p) } = &err {
                // Written though failed: its rows are in the export, in a mixed mode.
                s.published_mixed += 1;
                (s.totals.rows, s.totals.files) = (s.totals.rows + p.rows, s.totals.files + 1);
                s.bytes += p.bytes;
            }
            s.failures.push((w.key.clone(), message));
        }
        Outcome::Skipped(lost) => {
            match lost {
                Some(Lost::Deauthorized { account, why, .. }) => {
                    s.deauthorized.push((account, why))
                }
                Some(Lost::Inactive(sid, status)) => s.inactive.push((sid, status)),
                None => {}
            }
            s.skipped += 1;
            on_event(WindowEvent::Skipped(w));
        }
        Outcome::Interrupted => s.interrupted = true,
    }
}

impl Shared {
    /// The cancellation of `account`'s windows in this run, and whether it is lost.
    fn account(&self, account: &AccountSid) -> (CancellationToken, bool) {
        let mut map = self.accounts.lock().expect("not poisoned");
        let state = map.entry(account.clone()).or_insert_with(|| {
            let cancel = self.cancel.child_token();
            if let Some(scope) = &self.scope {
                scope.watch(account, cancel.clone());
            }
            AccountState {
                cancel,
                lost: false,
            }
        });
        (state.cancel.clone(), state.lost)
    }

    /// Marks `account` lost and stops its windows in flight; true the first time.
    fn lose(&self, account: &AccountSid) -> bool {
        let (cancel, _) = self.account(account);
        let mut map = self.accounts.lock().expect("not poisoned");
        let state = map.get_mut(account).expect("just added");
        let first = !state.lost;
        state.lost = true;
        cancel.cancel();
        first
    }

    /// One span, from its fetch slot to its days' recorded partitions.
    async fn span(&self, span: &Span, fetch_slot: FetchSlot) -> SpanOutcome {
        let all =
            |o: fn() -> Outcome| SpanOutcome::Days(span.windows.iter().map(|_| o()).collect());
        if self.cancel.is_cancelled() {
            return all(|| Outcome::Interrupted);
        }
        let account = &span.first().key.account;
        let (cancel, lost) = self.account(account);
        let lease_lost = self.scope.as_ref().is_some_and(|s| s.is_lost(account));
        if lost || lease_lost {
            return all(|| Outcome::Skipped(None));
        }
        let ex = &self.exporter;
        let scope = self.scope.as_deref();
        let started = Instant::now();
        let result = ex
            .export_span(span, self.run, scope, &cancel, Some(fetch_slot))
            .await;
        let millis = started.elapsed().as_millis() as u64;
        match result {
            Ok(SpanEnd::Split(density)) => SpanOutcome::Split(density),
            Ok(SpanEnd::Days(days)) => {
                let mut outcomes = Vec::with_capacity(days.len());
                for (w, day) in span.windows.iter().zip(days) {
                    outcomes.push(match day {
                        Ok(report) => Outcome::Exported(WindowReport { millis, ..report }),
                        Err(ExportError::NoLongerOurs) => Outcome::Skipped(None),
                        Err(err) => self.failed(w, err).await,
                    });
                }
                SpanOutcome::Days(outcomes)
            }
            Err(ExportError::Cancelled) if self.cancel.is_cancelled() => {
                all(|| Outcome::Interrupted)
            }
            Err(ExportError::Cancelled | ExportError::NoLongerOurs) => {
                all(|| Outcome::Skipped(None))
            }
            Err(err) => self.span_failed(span, err).await,
        }
    }

    /// A span that could not be read: every day is left as it was. After a 401 its account
    /// may turn out lost (its days are then skipped); otherwise each day's failure is recorded.
    async fn span_failed(&self, span: &Span, err: ExportError) -> SpanOutcome {
        let first = self.failed(span.first(), err).await;
        let message = match &first {
            Outcome::Failed(_, message) => Some(message.clone()),
            _ => None,
        };
        let mut outcomes = vec![first];
        for w in &span.windows[1..] {
            outcomes.push(match &message {
                Some(message) => {
                    self.record_failure(w, message).await;
                    let err = ExportError::InSpan {
                        message: message.clone(),
                    };
                    Outcome::Failed(err, message.clone())
                }
                None => Outcome::Skipped(None),
            });
        }
        SpanOutcome::Days(outcomes)
    }

    /// A failed day: after a 401 its account may turn out lost (the day is then skipped);
    /// otherwise the failure is recorded.
    async fn failed(&self, w: &Window, err: ExportError) -> Outcome {
        if let ExportError::Fetch(FetchError::Unauthorized { .. }) = &err {
            if let Some(lost) = self.recheck(w).await {
                if !self.lose(&w.key.account) {
                    return Outcome::Skipped(None);
                }
                self.record_lost(&lost).await;
                return Outcome::Skipped(Some(lost));
            }
        }
        let message = err.to_string();
        if matches!(err, ExportError::OtherModes { published: Some(_) }) {
            tracing::error!(partition = %w.key, error = %message, stage = "recording", "Window failed after its file was published; it is recorded as written, in a mixed export");
        } else {
            tracing::error!(partition = %w.key, error = %message, stage = "exporting", "Window failed; its partition was left as it was");
        }
        self.record_failure(w, &message).await;
        Outcome::Failed(err, message)
    }

    async fn record_failure(&self, w: &Window, message: &str) {
        let registry = &self.exporter.registry;
        if let Err(e) = registry.record_failure(&w.key, message, self.run).await {
            tracing::error!(error = %e, "Cannot record the failure");
        }
    }

    /// After a 401: why the account is lost to this run, or `None` if the API now reads it
    /// (a single 401 may be a blip). Twilio answers 401 for the data of suspended and closed
    /// accounts while the Account resource still shows their status.
    async fn recheck(&self, w: &Window) -> Option<Lost> {
        let account = &w.key.account;
        let asked_at = instant_text(chrono::Utc::now());
        let check = self.exporter.client.fetch_account(&w.credential, account);
        let checked = tokio::select! {
            r = check => r,
            _ = self.cancel.cancelled() => return None,
        };
        match checked {
            Err(recheck @ FetchError::Unauthorized { .. }) => Some(Lost::Deauthorized {
                account: account.clone(),
                why: recheck.to_string(),
                asked_at,
            }),
            Ok(info) => info
                .status
                .as_deref()
                .map(TwilioStatus::parse)
                .filter(|s| !s.exported())
                .map(|s| Lost::Inactive(account.clone(), s)),
            Err(_) => None,
        }
    }

    /// Records once why an account's remaining windows are skipped.
    async fn record_lost(&self, why: &Lost) {
        let registry = &self.exporter.registry;
        match why {
            Lost::Deauthorized {
                account,
                why,
                asked_at,
            } => {
                tracing::warn!(account = %account, error = %why, "Account lost its authorization; skipping it");
                // Unless it was authorized again while the re-check ran.
                let marked =
                    registry.deauthorize_unless_verified_since(account, why, Some(asked_at));
                if let Err(e) = marked.await {
                    tracing::error!(error = %e, "Cannot record the deauthorization");
                }
            }
            Lost::Inactive(account, status) => {
                tracing::warn!(account = %account, twilio_status = %status, "Twilio reports the account suspended or closed; skipping it");
                if let Err(e) = registry.set_twilio_status(account, status).await {
                    tracing::error!(error = %e, "Cannot record the account's status");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PartitionKey, Resource};
    use crate::export::error::Published;

    /// A day whose file was published before the mode conflict was found failed, and its rows
    /// and file count as written: they are in the export.
    #[test]
    fn a_day_published_mixed_counts_as_written_and_failed() {
        let w = Window {
            key: PartitionKey {
                account: "AC00000000000000000000000000000001".parse().unwrap(),
                resource: Resource::Calls,
                day: chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            },
            credential: "AC00000000000000000000000000000001".parse().unwrap(),
            page_size: 1000,
        };
        let mut s = Summary::default();
        let published = Some(Published {
            rows: 48,
            bytes: 9000,
        });
        let err = ExportError::OtherModes { published };
        let message = err.to_string();
        add_outcome(&mut s, &w, Outcome::Failed(err, message), &|_| {});
        assert_eq!((s.totals.windows_failed, s.published_mixed), (1, 1));
        assert_eq!((s.totals.rows, s.totals.files, s.bytes), (48, 1, 9000));
        let err = ExportError::OtherModes { published: None };
        let message = err.to_string();
        add_outcome(&mut s, &w, Outcome::Failed(err, message), &|_| {});
        assert_eq!(
            (s.totals.rows, s.totals.files, s.published_mixed),
            (48, 1, 1)
        );
    }
}
