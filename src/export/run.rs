//! Many windows as one recorded run. Each window is a tokio task, so windows decode on every
//! worker thread; their Parquet encoding, writes and syncs run on the blocking pool (see
//! [`crate::writer::BackgroundWriter`]).
//!
//! Two bounds: at most `concurrency` windows are *fetching* at a time, and a window gives its
//! fetch slot up as soon as it has read its last page, so the next window starts requesting
//! while the previous one finishes its file, publishes it and records it; at most twice that
//! many windows are alive at all. Windows are started in the order given.
//!
//! Cancellation is scoped: the run has its own token (a child of [`Exporter::cancel`]), and
//! each account one below it, cancelled once the account is found deauthorized, suspended or
//! closed, so its windows in flight stop at their next request instead of running to the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{ExportError, Exporter, LeaseScope, Summary, Window, WindowEvent, WindowReport};
use crate::domain::AccountSid;
use crate::fetch::FetchError;
use crate::registry::{RegistryError, RunId, TwilioStatus};

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
    /// The grant is gone (the re-check was refused too).
    Deauthorized(AccountSid, String),
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
        let concurrency = concurrency.max(1);
        let fetching = Arc::new(Semaphore::new(concurrency));
        let alive = Arc::new(Semaphore::new(concurrency * 2));
        let mut tasks = JoinSet::new();
        let mut apply = |joined: Result<(Window, Outcome), tokio::task::JoinError>| match joined {
            Ok((w, outcome)) => add_outcome(&mut summary, &w, outcome, on_event),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => summary.interrupted = true,
        };
        for w in windows {
            let permits = tokio::select! {
                p = slots(&alive, &fetching) => p,
                _ = shared.cancel.cancelled() => None,
            };
            let Some((alive_slot, fetch_slot)) = permits else {
                apply(Ok((w, Outcome::Interrupted)));
                break;
            };
            while let Some(done) = tasks.try_join_next() {
                apply(done);
            }
            let shared = shared.clone();
            tasks.spawn(async move {
                let outcome = shared.window(&w, fetch_slot).await;
                drop(alive_slot);
                (w, outcome)
            });
        }
        while let Some(done) = tasks.join_next().await {
            apply(done);
        }
        summary.seconds = started.elapsed().as_secs_f64();
        let error = summary.failures.first().map(|(k, e)| format!("{k}: {e}"));
        self.registry
            .finish_run(run, summary.outcome(), summary.totals, error.as_deref())
            .await?;
        Ok(summary)
    }
}

/// A slot among the windows alive, then one among those fetching (`None` once closed).
async fn slots(
    alive: &Arc<Semaphore>,
    fetching: &Arc<Semaphore>,
) -> Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)> {
    let a = alive.clone().acquire_owned().await.ok()?;
    let f = fetching.clone().acquire_owned().await.ok()?;
    Some((a, f))
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
            s.bytes += report.bytes;
            on_event(WindowEvent::Exported(w, &report));
        }
        Outcome::Failed(err, message) => {
            s.accounts.insert(w.key.account.clone());
            on_event(WindowEvent::Failed(w, &err));
            s.totals.windows_failed += 1;
            s.failures.push((w.key.clone(), message));
        }
        Outcome::Skipped(lost) => {
            match lost {
                Some(Lost::Deauthorized(sid, why)) => s.deauthorized.push((sid, why)),
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
        let state = map.entry(account.clone()).or_insert_with(|| AccountState {
            cancel: self.cancel.child_token(),
            lost: false,
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

    /// One window, from its fetch slot to its recorded partition.
    async fn window(&self, w: &Window, fetch_slot: OwnedSemaphorePermit) -> Outcome {
        if self.cancel.is_cancelled() {
            return Outcome::Interrupted;
        }
        let (cancel, lost) = self.account(&w.key.account);
        let lease_lost = self
            .scope
            .as_ref()
            .is_some_and(|s| s.is_lost(&w.key.account));
        if lost || lease_lost {
            return Outcome::Skipped(None);
        }
        let ex = &self.exporter;
        let scope = self.scope.as_deref();
        let result = ex
            .export_window_in(w, self.run, scope, &cancel, Some(fetch_slot))
            .await;
        match result {
            Ok(report) => Outcome::Exported(report),
            Err(ExportError::Fetch(FetchError::Cancelled)) if self.cancel.is_cancelled() => {
                Outcome::Interrupted
            }
            Err(ExportError::Fetch(FetchError::Cancelled) | ExportError::LeaseLost) => {
                Outcome::Skipped(None)
            }
            Err(err) => self.failed(w, err).await,
        }
    }

    /// A failed window: after a 401 its account may turn out lost (the window is then
    /// skipped); otherwise the failure is recorded.
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
        tracing::error!(partition = %w.key, error = %message, stage = "exporting", "Window failed; its partition was left as it was");
        let registry = &self.exporter.registry;
        if let Err(e) = registry.record_failure(&w.key, &message, self.run).await {
            tracing::error!(error = %e, "Cannot record the failure");
        }
        Outcome::Failed(err, message)
    }

    /// After a 401: why the account is lost to this run, or `None` if the API now reads it
    /// (a single 401 may be a blip). Twilio answers 401 for the data of suspended and closed
    /// accounts while the Account resource still shows their status.
    async fn recheck(&self, w: &Window) -> Option<Lost> {
        let account = &w.key.account;
        let check = self.exporter.client.fetch_account(&w.credential, account);
        let checked = tokio::select! {
            r = check => r,
            _ = self.cancel.cancelled() => return None,
        };
        match checked {
            Err(recheck @ FetchError::Unauthorized { .. }) => {
                Some(Lost::Deauthorized(account.clone(), recheck.to_string()))
            }
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
            Lost::Deauthorized(account, reason) => {
                tracing::warn!(account = %account, error = %reason, "Account lost its authorization; skipping it");
                if let Err(e) = registry.deauthorize(account, reason).await {
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
