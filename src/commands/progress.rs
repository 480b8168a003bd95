//! Progress of an export: a range's bar on a terminal; elsewhere (a CronJob's log, a
//! pipe), and for scheduled runs, a log line every [`interval`] while windows are pending,
//! with windows done/total, rows, requests, retries, 429s and failures; one debug line per
//! finished window (with its rows, pages, retries and duration) and, for a range, one info
//! line per run. Range exports (`backfill`, `demo`) know their windows up front; scheduled
//! runs (`run`, `schedule`) add each job's as it starts ([`Observer`]).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::domain::Resource;
use crate::export::{Summary, WindowEvent};
use crate::fetch::{FetchCounts, TwilioClient};
use crate::scheduler::Observer;
use crate::telemetry::{self, Level};

/// Seconds between progress lines when stderr is not a terminal (a decimal; default 10).
const INTERVAL_ENV: &str = "TWILIO_EXPORT_PROGRESS_SECS";

/// What the progress of one export shows: a bar, or periodic log lines.
pub(crate) struct Progress {
    bar: ProgressBar,
    counts: Arc<Counts>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Starts showing the progress of `windows` windows of `resource` fetched by `client`.
    pub fn start(resource: Resource, windows: usize, client: &TwilioClient) -> Self {
        let progress = Self::new(client, std::io::stderr().is_terminal());
        progress.add(resource, windows);
        progress
    }

    /// Starts showing the progress of scheduled runs, whose jobs add their windows as they
    /// start: log lines, also on a terminal (a bar would be in the way of each job's report,
    /// printed while the scheduler goes on).
    pub fn scheduled(client: &TwilioClient) -> Self {
        Self::new(client, false)
    }

    /// A bar on a terminal, log lines elsewhere.
    fn new(client: &TwilioClient, terminal: bool) -> Self {
        let counts = Arc::new(Counts {
            resource: Mutex::new(None),
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            rows: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            client: client.clone(),
        });
        let ticker = (!terminal).then(|| tokio::spawn(counts.clone().log_every(interval())));
        Self {
            bar: progress_bar(terminal),
            counts,
            ticker,
        }
    }

    fn add(&self, resource: Resource, windows: usize) {
        *self.counts.resource.lock().expect("not poisoned") = Some(resource);
        self.counts
            .total
            .fetch_add(windows as u64, Ordering::Relaxed);
        self.bar.set_prefix(resource.table_name());
        self.bar.inc_length(windows as u64);
    }

    /// Counts a finished window; shows a failure above the bar.
    pub fn window(&self, e: &WindowEvent<'_>) {
        match e {
            WindowEvent::Exported(w, r) => {
                let total = self.counts.rows.fetch_add(r.rows, Ordering::Relaxed) + r.rows;
                self.bar.set_message(format!("{total} rows"));
                tracing::debug!(account = %w.key.account, resource = %w.key.resource, day = %w.key.day, rows = r.rows, pages = r.pages, retries = r.retries, ms = r.millis, "Window exported");
            }
            WindowEvent::Failed(w, err) => {
                self.counts.failed.fetch_add(1, Ordering::Relaxed);
                // Said, not `eprintln!`ed: a closed stderr must not panic the export.
                self.bar.suspend(|| {
                    telemetry::say(Level::ERROR, format_args!("{}: failed: {err}", w.key))
                });
            }
            WindowEvent::Skipped(w) => {
                tracing::debug!(account = %w.key.account, resource = %w.key.resource, day = %w.key.day, "Window skipped");
            }
        }
        self.counts.done.fetch_add(1, Ordering::Relaxed);
        self.bar.inc(1);
    }

    fn stop(&mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
        self.bar.finish_and_clear();
    }

    /// Stops showing progress and logs the run's summary line (if the run was recorded).
    pub fn finish(mut self, resource: Resource, summary: Option<&Summary>, client: &TwilioClient) {
        self.stop();
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

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Observer for Progress {
    fn planned(&self, _job: &str, resource: Resource, windows: usize) {
        self.add(resource, windows);
    }

    fn window(&self, event: &WindowEvent<'_>) {
        Progress::window(self, event);
    }
}

/// What a progress line reads.
struct Counts {
    /// The resource of the windows being exported.
    resource: Mutex<Option<Resource>>,
    total: AtomicU64,
    done: AtomicU64,
    rows: AtomicU64,
    failed: AtomicU64,
    client: TwilioClient,
}

impl Counts {
    /// Every `every` (the first one `every` after the start), a line while windows are
    /// pending, until aborted. Counts are since the start; rates and the time left are over
    /// the last interval.
    async fn log_every(self: Arc<Self>, every: Duration) {
        let start = tokio::time::Instant::now() + every;
        let mut ticks = tokio::time::interval_at(start, every);
        // After a stall (SIGSTOP, a suspended VM) one line, not one per tick missed.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let first = self.reading();
        let mut last = first;
        loop {
            ticks.tick().await;
            let now = self.reading();
            if now.done < self.total.load(Ordering::Relaxed) {
                self.log(first, last, now, now.at - last.at);
            }
            last = now;
        }
    }

    fn reading(&self) -> Reading {
        Reading {
            fetch: self.client.stats(),
            done: self.done.load(Ordering::Relaxed),
            at: tokio::time::Instant::now(),
        }
    }

    /// Rates are over `lately`, the time since the last reading.
    fn log(&self, first: Reading, last: Reading, now: Reading, lately: Duration) {
        let total = self.total.load(Ordering::Relaxed);
        let secs = lately.as_secs_f64().max(f64::EPSILON);
        let per_second = (now.fetch.requests - last.fetch.requests) as f64 / secs;
        let windows_per_second = (now.done - last.done) as f64 / secs;
        let left = total.saturating_sub(now.done) as f64;
        let eta = (windows_per_second > 0.0).then(|| left / windows_per_second);
        let resource = *self.resource.lock().expect("not poisoned");
        tracing::info!(
            resource = resource.map(tracing::field::display),
            windows_done = now.done,
            windows_total = total,
            rows = self.rows.load(Ordering::Relaxed),
            requests = now.fetch.requests - first.fetch.requests,
            requests_per_second = (per_second * 10.0).round() / 10.0,
            retries = now.fetch.retries - first.fetch.retries,
            throttled = now.fetch.throttled - first.fetch.throttled,
            failed = self.failed.load(Ordering::Relaxed),
            eta_seconds = eta.map(|s| s.round() as u64),
            "Progress"
        );
    }
}

/// The counts at one tick.
#[derive(Clone, Copy)]
struct Reading {
    fetch: FetchCounts,
    done: u64,
    at: tokio::time::Instant,
}

/// [`INTERVAL_ENV`] when it is set: a number of seconds above 0 that a `Duration` holds, or a
/// configuration error (checked before a command starts).
pub(crate) fn interval_setting() -> anyhow::Result<Option<Duration>> {
    match std::env::var(INTERVAL_ENV) {
        Ok(value) => parse_interval(&value),
        Err(_) => Ok(None),
    }
}

/// A value of [`INTERVAL_ENV`]: blank is unset; else seconds above 0 that a `Duration` holds
/// as at least a nanosecond (a smaller value would be a zero interval, which ticks never).
/// The longest interval between progress lines: a day (a timer set much further would
/// overflow the clock).
const MAX_INTERVAL: Duration = Duration::from_secs(86_400);

fn parse_interval(value: &str) -> anyhow::Result<Option<Duration>> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    (value.trim().parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .filter(|d| !d.is_zero() && *d <= MAX_INTERVAL)
        .map(Some)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{INTERVAL_ENV}: {value:?} is not a number of seconds above 0 and at most {}",
                MAX_INTERVAL.as_secs()
            )
        })
}

/// [`INTERVAL_ENV`], or 10 s.
fn interval() -> Duration {
    interval_setting()
        .ok()
        .flatten()
        .unwrap_or(Duration::from_secs(10))
}

/// A progress bar (its length grows as windows are planned) on a terminal; hidden otherwise.
fn progress_bar(terminal: bool) -> ProgressBar {
    let bar = if terminal {
        ProgressBar::new(0)
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
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AuthToken;
    use crate::fetch::{Limits, Quotas};

    #[test]
    fn an_interval_is_seconds_above_zero_at_least_a_nanosecond_and_at_most_a_day() {
        assert_eq!(parse_interval(" ").unwrap(), None);
        assert_eq!(
            parse_interval("0.2").unwrap(),
            Some(Duration::from_millis(200))
        );
        assert_eq!(
            parse_interval("1e-9").unwrap(),
            Some(Duration::from_nanos(1))
        );
        assert_eq!(
            parse_interval("86400").unwrap(),
            Some(Duration::from_secs(86_400))
        );
        let huge = ["1e19", "9223372036854775807", "86400.5"];
        for bad in ["0", "-1", "nan", "inf", "1e400", "1e-10", "4e-10", "ten"]
            .iter()
            .chain(&huge)
        {
            let e = parse_interval(bad).unwrap_err().to_string();
            assert!(e.starts_with(INTERVAL_ENV), "{bad}: {e}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_of_many_intervals_gives_one_line_not_one_per_interval() {
        let lines = crate::telemetry::CapturedLog::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let client = TwilioClient::new(
            "http://127.0.0.1:9".parse().unwrap(),
            AuthToken::new("t".to_owned()).unwrap(),
            Quotas::new(Limits::default()),
        )
        .unwrap();
        let counts = Arc::new(Counts {
            resource: Mutex::new(Some(Resource::Calls)),
            total: AtomicU64::new(10),
            done: AtomicU64::new(0),
            rows: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            client,
        });
        let every = Duration::from_secs(1);
        let ticker = tokio::spawn(counts.log_every(every));
        let said = || lines.text().matches("Progress").count();
        let settle = || async {
            for _ in 0..50 {
                tokio::task::yield_now().await;
            }
        };

        settle().await;
        tokio::time::advance(every).await;
        settle().await;
        assert_eq!(said(), 1);
        // The process stood still for twelve intervals (SIGSTOP, a suspended VM).
        tokio::time::advance(every * 12).await;
        settle().await;

        assert_eq!(said(), 2);
        ticker.abort();
    }
}
