//! Scheduled incremental exports (issue 5): `run` and `schedule` against a simulator whose
//! clock moves and whose recent calls change between runs. Runs read their "now" from
//! `TWILIO_EXPORT_NOW`, set to the simulator's clock; the step function is also driven
//! directly, without sleeps.
//!
//! The fixtures every group here shares are below; the harness of scheduled runs from the
//! outside (job files, the binary at the simulator's clock, `status --json`) is
//! `support::scheduled`.

mod failures;
mod leases;
mod runs;
mod schedule;
mod shards;
mod status;

use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use twilio_export::domain::AuthToken;
use twilio_export::export::Exporter;
use twilio_export::fetch::Limits;
use twilio_export::fetch::{Quotas, TwilioClient};
use twilio_export::process::ProcessId;
use twilio_export::registry::LeaseHolder;
use twilio_export::scheduler::plan::Shard;
use twilio_export::scheduler::{jobs, Outcome, Scheduler, Settings};
use twilio_export::store::OutputLocation;
use twilio_sim::{Faults, SimConfig};

use crate::support::*;

/// How long the leases of [`scheduler`]'s scheduler last.
const LEASE_TTL: Duration = Duration::from_secs(60);

const CALLS_JOB: &str = "name = \"calls\"\nresource = \"calls\"\nschedule = \"0 0 * * * *\"\nlookback_days = 2\nstart_date = \"2026-03-01\"\n";

const USAGE_JOB: &str = "name = \"usage\"\nresource = \"usage-records\"\nschedule = \"30 2 * * *\"\nlookback_days = 3\nstart_date = \"2026-03-01\"\n";

/// An app on `sim` with every account registered, the calls job written and the clock at
/// 2026-03-08 09:00 (before any run); the job files' directory.
async fn calls_job_app(sim: SimConfig) -> (TestApp, std::path::PathBuf) {
    let app = spawn_app(sim).await;
    app.add_all_accounts().await;
    let jobs = write_jobs(&app, &[("calls.toml", CALLS_JOB)]);
    app.sim.set_now(at("2026-03-08T09:00:00Z"));
    (app, jobs)
}

/// Three accounts with history from 2026-02-26; the clock starts at the end of 2026-03-07 and
/// the tests move it forward.
fn moving_sim() -> SimConfig {
    SimConfig {
        seed: 23,
        accounts: 3,
        days: 10,
        calls_per_day: 40,
        today: day("2026-03-07"),
        ..SimConfig::default()
    }
}

/// A scheduler in this process, on the app's database, output and simulator.
async fn scheduler(app: &TestApp, jobs: &Path, cancel: CancellationToken) -> Scheduler {
    let client = TwilioClient::new(
        app.base.parse().unwrap(),
        AuthToken::new(TOKEN.to_owned()).unwrap(),
        Quotas::new(Limits::default()),
    )
    .unwrap();
    let store = twilio_export::store::Store::open(&OutputLocation::Local(app.output())).unwrap();
    store.check().await.unwrap();
    let exporter = Exporter {
        client,
        registry: registry(app).await,
        store,
        cancel,
        pseudonyms: Default::default(),
        spent: Default::default(),
    };
    let settings = Settings {
        command: "test".to_owned(),
        shard: Shard::all(),
        lease_ttl: LEASE_TTL,
        default_concurrency: Box::new(|n| n * 2),
        machine_clock: false,
    };
    Scheduler::new(exporter, jobs::load_dir(jobs).unwrap(), settings)
}

/// The jobs a step ran, each of which must have exported everything it planned.
fn ran(outcome: &Outcome) -> Vec<String> {
    match outcome {
        Outcome::Exported(reports) => reports
            .iter()
            .map(|r| {
                assert!(r.succeeded() && r.busy.is_empty(), "{r:#?}");
                r.job.clone()
            })
            .collect(),
        Outcome::NothingDue { .. } => Vec::new(),
    }
}

/// A holder whose process has died: a child that was started, killed and reaped.
fn dead_holder(name: &str) -> LeaseHolder {
    let mut child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let process = ProcessId::of_pid(child.id()).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    LeaseHolder::in_process(name, process)
}

/// Six accounts; the tests of shards split them in two.
fn six_accounts() -> SimConfig {
    SimConfig {
        accounts: 6,
        calls_per_day: 10,
        ..moving_sim()
    }
}

fn slow_sim() -> SimConfig {
    SimConfig {
        days: 40,
        faults: Faults {
            latency: Duration::from_millis(40),
            ..Faults::default()
        },
        ..moving_sim()
    }
}
