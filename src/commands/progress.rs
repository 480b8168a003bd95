//! Progress of a range export: a bar on a terminal; elsewhere (a CronJob's log, a pipe) a
//! log line every [`interval`] with windows done/total, rows, requests per second, 429s and
//! the time left, one debug line per finished window and one info line per run.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::domain::Resource;
use crate::export::{Summary, WindowEvent};
use crate::fetch::TwilioClient;

/// Seconds between progress lines when stderr is not a terminal (a decimal; default 10).
const INTERVAL_ENV: &str = "TWILIO_EXPORT_PROGRESS_SECS";

/// What the progress of one export shows: a bar, or periodic log lines.
pub(crate) struct Progress {
    bar: ProgressBar,
    done: Arc<AtomicU64>,
    rows: Arc<AtomicU64>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Starts showing the progress of `windows` windows of `resource` fetched by `client`.
    pub fn start(resource: Resource, windows: usize, client: &TwilioClient) -> Self {
        let done = Arc::new(AtomicU64::new(0));
        let rows = Arc::new(AtomicU64::new(0));
        let terminal = std::io::stderr().is_terminal();
        let bar = progress_bar(resource, windows, terminal);
        let ticker = (!terminal).then(|| {
            let counts = Counts {
                resource,
                total: windows as u64,
                done: done.clone(),
                rows: rows.clone(),
                client: client.clone(),
            };
            tokio::spawn(counts.log_every(interval()))
        });
        Self {
            bar,
            done,
            rows,
            ticker,
        }
    }

    /// Counts a finished window; shows a failure above the bar.
    pub fn window(&self, e: &WindowEvent<'_>) {
        match e {
            WindowEvent::Exported(w, r) => {
                let total = self.rows.fetch_add(r.rows, Ordering::Relaxed) + r.rows;
                self.bar.set_message(format!("{total} rows"));
                tracing::debug!(account = %w.key.account, resource = %w.key.resource, day = %w.key.day, rows = r.rows, pages = r.pages, "Window exported");
            }
            WindowEvent::Failed(w, err) => {
                self.bar.suspend(|| eprintln!("{}: failed: {err}", w.key));
            }
            WindowEvent::Skipped(w) => {
                tracing::debug!(account = %w.key.account, resource = %w.key.resource, day = %w.key.day, "Window skipped");
            }
        }
        self.done.fetch_add(1, Ordering::Relaxed);
        self.bar.inc(1);
    }

    /// Stops showing progress and logs the run's summary line (if the run was recorded).
    pub fn finish(self, resource: Resource, summary: Option<&Summary>, client: &TwilioClient) {
        if let Some(t) = self.ticker {
            t.abort();
        }
        self.bar.finish_and_clear();
        let Some(summary) = summary else { return };
        let fetch = client.stats();
        tracing::info!(
            resource = %resource,
            windows_exported = summary.totals.windows_exported,
            windows_failed = summary.totals.windows_failed,
            windows_skipped = summary.skipped,
            rows = summary.totals.rows,
            bytes = summary.bytes,
            requests = fetch.requests,
            throttled = fetch.throttled,
            retries = fetch.retries,
            seconds = summary.seconds,
            "Run finished"
        );
    }
}

/// What a progress line reads.
struct Counts {
    resource: Resource,
    total: u64,
    done: Arc<AtomicU64>,
    rows: Arc<AtomicU64>,
    client: TwilioClient,
}

impl Counts {
    /// Logs a line every `every`, the first one `every` after the start, until aborted.
    async fn log_every(self, every: Duration) {
        let started = Instant::now();
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let before = self.client.stats();
        loop {
            ticks.tick().await;
            let elapsed = started.elapsed().as_secs_f64();
            let done = self.done.load(Ordering::Relaxed);
            let fetch = self.client.stats();
            let requests = fetch.requests - before.requests;
            let eta = (done > 0).then(|| elapsed / done as f64 * (self.total - done) as f64);
            tracing::info!(
                resource = %self.resource,
                windows_done = done,
                windows_total = self.total,
                rows = self.rows.load(Ordering::Relaxed),
                requests_per_second = format!("{:.1}", requests as f64 / elapsed),
                throttled = fetch.throttled - before.throttled,
                eta_seconds = eta.map(|s| s.round() as u64),
                "Progress"
            );
        }
    }
}

/// [`INTERVAL_ENV`], or 10 s.
fn interval() -> Duration {
    std::env::var(INTERVAL_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(Duration::from_secs(10), Duration::from_secs_f64)
}

/// A progress bar over `windows` on a terminal; hidden otherwise.
fn progress_bar(resource: Resource, windows: usize, terminal: bool) -> ProgressBar {
    let bar = if terminal {
        ProgressBar::new(windows as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {prefix} [{bar:30}] {pos}/{len} days·accounts  {msg}  ({eta} left)",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(resource.table_name());
    bar
}
