//! The parts commands build from the validated [`Config`]: the registry, the API client, the
//! exporter (output checked first), the scheduler with its jobs, and the clock. Every command
//! builds them here, so that they are built the same way everywhere.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::progress::Progress;
use crate::config::Config;
use crate::export::Exporter;
use crate::fetch::{Quotas, TwilioClient};
use crate::pseudonym::Pseudonymization;
use crate::registry::Registry;
use crate::scheduler::jobs::{self, Job};
use crate::scheduler::plan::Shard;
use crate::scheduler::{Clock, Scheduler, Settings, LEASE_TTL};
use crate::shutdown;
use crate::store::Store;

/// Hidden: pretend the clock reads this RFC 3339 instant at start (tests and demos against the
/// simulator, whose "today" is chosen by the test).
const NOW_ENV: &str = "TWILIO_EXPORT_NOW";

pub(crate) async fn open_registry(config: &Config) -> anyhow::Result<Registry> {
    Ok(Registry::connect(config.database_url.expose()).await?)
}

pub(crate) fn client(config: &Config) -> anyhow::Result<TwilioClient> {
    let token = config.auth_token()?.clone();
    Ok(
        TwilioClient::new(config.api_base.clone(), token, Quotas::new(config.limits))
            .context("cannot build the HTTP client")?
            .with_retry_budget(config.limits.retry_budget),
    )
}

/// Everything an export needs, checked before any work starts.
pub(crate) async fn exporter(
    config: &Config,
    cancel: CancellationToken,
) -> anyhow::Result<Exporter> {
    exporter_with(config, cancel, config.pseudonyms(false)?, true).await
}

/// The exporter, its output checked first if `check_store`.
async fn exporter_with(
    config: &Config,
    cancel: CancellationToken,
    pseudonyms: Pseudonymization,
    check_store: bool,
) -> anyhow::Result<Exporter> {
    let client = client(config)?;
    let store = Store::open(&config.output)?;
    if check_store {
        store.check().await?;
    }
    let registry = open_registry(config).await?;
    Ok(Exporter {
        client,
        registry,
        store,
        cancel,
        pseudonyms,
        spent: Default::default(),
    })
}

/// Windows of every account at the same time, as far as each account's quota allows.
pub(crate) fn default_concurrency(config: &Config, accounts: usize) -> usize {
    (config.limits.max_in_flight as usize * accounts).clamp(1, 64)
}

/// The validated job files of `--jobs-dir`; any bad file stops the command (exit 2).
pub(crate) fn jobs(config: &Config) -> anyhow::Result<Vec<Job>> {
    Ok(jobs::load_dir(&config.jobs_dir)?)
}

/// The system clock, or one that starts at `TWILIO_EXPORT_NOW`.
pub(crate) fn clock() -> anyhow::Result<Clock> {
    match std::env::var(NOW_ENV) {
        Ok(v) if !v.trim().is_empty() => {
            let start = DateTime::parse_from_rfc3339(v.trim())
                .with_context(|| format!("{NOW_ENV}: {v:?} is not an RFC 3339 instant"))?;
            Ok(Clock::starting_at(start.with_timezone(&Utc)))
        }
        _ => Ok(Clock::system()),
    }
}

/// A scheduler over the configured exporter, cancelled by SIGINT/SIGTERM, showing its
/// progress; `command` (`run` or `schedule`) is what its runs are recorded as. `schedule`
/// checks the output at start; `run` only when a job is due, so that the many runs of a
/// crontab or CronJob with nothing due touch no store (an object store's probe object would
/// leave a version and a delete marker each time on a versioned bucket).
pub(crate) async fn scheduler(
    config: &Config,
    jobs: Vec<Job>,
    shard: Shard,
    command: &str,
) -> anyhow::Result<Scheduler> {
    let check_at_start = command != "run";
    // The key is read only if some job writes with it.
    let pseudonyms = config.pseudonyms(jobs.iter().any(|j| j.pseudonymize == Some(true)))?;
    let mut modes = Vec::with_capacity(jobs.len());
    for job in &jobs {
        match pseudonyms.for_job(job.pseudonymize) {
            Ok(p) => modes.push((job, p.key().is_some())),
            Err(e) => anyhow::bail!("{}: pseudonymize: {e}", job.file.display()),
        }
    }
    jobs::one_mode_per_resource(modes)?;
    let cancel = shutdown::on_signal(shutdown::EXPORT_STOPS);
    let exporter = exporter_with(config, cancel, pseudonyms, check_at_start).await?;
    let cfg = config.clone();
    let settings = Settings {
        command: command.to_owned(),
        shard,
        lease_ttl: LEASE_TTL,
        default_concurrency: Box::new(move |accounts| default_concurrency(&cfg, accounts)),
        machine_clock: clock()?.is_system(),
    };
    // Each job's windows are shown as they go (a log line every few seconds off a terminal).
    let progress = Arc::new(Progress::scheduled(&exporter.client));
    let scheduler = Scheduler::new(exporter, jobs, settings)
        .with_deauthorized_purge(config.purge_deauthorized_after)
        .observed(progress);
    Ok(if check_at_start {
        scheduler.store_checked()
    } else {
        scheduler
    })
}
