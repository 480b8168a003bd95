//! Request economy of the exporter against the in-process simulator over real HTTP: how many
//! requests an account costs on sparse data compared with the minimum, and how close a
//! latency-bound export comes to `max-in-flight / latency` requests per second. Prints
//! figures; asserts nothing about speed.
//!
//! Run: `cargo bench --bench economy` (release build).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use tokio_util::sync::CancellationToken;
use twilio_export::domain::{AccountSid, AuthToken, PartitionKey, Resource};
use twilio_export::export::{Exporter, Window};
use twilio_export::fetch::{Limits, Quotas, TwilioClient};
use twilio_export::registry::{NewAccount, Registry};
use twilio_export::store::{OutputLocation, Store};
use twilio_sim::{self as sim, Faults, SimConfig, Simulator};

const TOKEN: &str = "bench-token";

struct Bench {
    sim: Simulator,
    exporter: Exporter,
    account: AccountSid,
    _dir: tempfile::TempDir,
}

async fn setup(cfg: SimConfig, max_in_flight: u32) -> Bench {
    let cfg = SimConfig {
        auth_token: TOKEN.to_owned(),
        ..cfg
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sim = Simulator::new(cfg);
    tokio::spawn(sim::serve(listener, sim.clone(), CancellationToken::new()));
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        rate_limit: 10_000,
        max_in_flight,
        ..Limits::default()
    };
    let client = TwilioClient::new(
        base.parse().unwrap(),
        AuthToken::new(TOKEN.to_owned()).unwrap(),
        Quotas::new(limits),
    )
    .unwrap();
    let db = format!("sqlite://{}", dir.path().join("r.db").display());
    let registry = Registry::connect(&db).await.unwrap();
    let account = AccountSid::parse(&sim.account_sids()[0]).unwrap();
    registry
        .upsert_account(&NewAccount {
            sid: account.clone(),
            credential_sid: account.clone(),
            friendly_name: None,
            owner_account_sid: None,
            verified: true,
            twilio_status: None,
        })
        .await
        .unwrap();
    let store = Store::open(&OutputLocation::Local(dir.path().join("out"))).unwrap();
    store.check().await.unwrap();
    let exporter = Exporter {
        client,
        registry,
        store,
        cancel: CancellationToken::new(),
        pseudonyms: Default::default(),
        spent: Default::default(),
    };
    Bench {
        sim,
        exporter,
        account,
        _dir: dir,
    }
}

impl Bench {
    /// One window per day of the simulator's history, oldest first, as `backfill` plans them.
    fn windows(&self, resource: Resource, page_size: u32) -> Vec<Window> {
        let cfg = self.sim.config();
        let first = cfg.today - Days::new(u64::from(cfg.days) - 1);
        first
            .iter_days()
            .take(cfg.days as usize)
            .map(|day| Window {
                key: PartitionKey {
                    resource,
                    account: self.account.clone(),
                    day,
                },
                credential: self.account.clone(),
                page_size,
            })
            .collect()
    }

    fn records(&self, resource: Resource) -> usize {
        let cfg = self.sim.config();
        let first = cfg.today - Days::new(u64::from(cfg.days) - 1);
        first
            .iter_days()
            .take(cfg.days as usize)
            .map(|d| match resource {
                Resource::Calls => self.sim.calls_on(self.account.as_str(), d).len(),
                Resource::UsageRecords => self.sim.daily_usage_on(self.account.as_str(), d).len(),
            })
            .sum()
    }

    /// Runs the windows; returns the requests the account cost and the seconds taken.
    async fn export(&self, windows: Vec<Window>, concurrency: usize) -> (u64, f64) {
        let before = self.sim.stats(self.account.as_str()).requests;
        let t = Instant::now();
        let s = self
            .exporter
            .run("bench", "bench", windows, concurrency, &|_| {})
            .await
            .unwrap();
        assert_eq!(s.totals.windows_failed, 0, "{:?}", s.failures);
        let requests = self.sim.stats(self.account.as_str()).requests - before;
        (requests, t.elapsed().as_secs_f64())
    }
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 30).unwrap()
}

/// 30 days × about 20 calls, one account, pages of 1000: requests against the minimum.
async fn sparse() {
    let cfg = SimConfig {
        accounts: 1,
        days: 30,
        calls_per_day: 20,
        today: today(),
        ..SimConfig::with_seed(11)
    };
    for resource in [Resource::Calls, Resource::UsageRecords] {
        let b = setup(cfg.clone(), 4).await;
        let records = b.records(resource);
        let (requests, _) = b.export(b.windows(resource, 1000), 4).await;
        let minimum = records.div_ceil(1000).max(1);
        println!(
            "sparse {resource}: 30 days, {records} records: {requests} requests; minimum {minimum} (ceil(records/1000)); bound 10 % + 1 = {}",
            minimum + minimum.div_ceil(10) + 1
        );
    }
}

/// 30 days of about `per_day` calls each, one account, pages of 1000: the requests of a first
/// export (days never exported) and of a second one (their rows known), against the minimum.
async fn density_sweep() {
    for per_day in [400, 667, 850, 999, 1500, 2500] {
        let b = setup(
            SimConfig {
                accounts: 1,
                days: 30,
                calls_per_day: per_day,
                today: today(),
                ..SimConfig::with_seed(12)
            },
            4,
        )
        .await;
        let records = b.records(Resource::Calls);
        let (first, _) = b.export(b.windows(Resource::Calls, 1000), 4).await;
        let (second, _) = b.export(b.windows(Resource::Calls, 1000), 4).await;
        let minimum = records.div_ceil(1000).max(1);
        println!(
            "about {per_day} calls a day: 30 days, {records} records: {first} requests, then {second}; minimum {minimum}; bound 10 % + 1 = {:.1}",
            minimum as f64 * 1.1 + 1.0
        );
    }
}

/// 200 ms per request, `--max-in-flight 4`, one account with 40 days of about 1000 calls
/// (pages of 100, so that the simulator's and the exporter's CPU stay far below the latency).
async fn latency_bound() {
    let cfg = SimConfig {
        accounts: 1,
        days: 40,
        calls_per_day: 1000,
        today: today(),
        faults: Faults {
            latency: Duration::from_millis(200),
            ..Faults::default()
        },
        ..SimConfig::with_seed(12)
    };
    let b = Arc::new(setup(cfg, 4).await);
    let samples = Arc::new(Mutex::new(Vec::<(f64, u64)>::new()));
    let stop = CancellationToken::new();
    let sampler = {
        let (b, samples, stop) = (b.clone(), samples.clone(), stop.clone());
        tokio::spawn(async move {
            let t = Instant::now();
            while !stop.is_cancelled() {
                let n = b.sim.stats(b.account.as_str()).requests;
                samples.lock().unwrap().push((t.elapsed().as_secs_f64(), n));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let windows = b.windows(Resource::Calls, 100);
    let (requests, seconds) = b.export(windows, 4).await;
    stop.cancel();
    sampler.await.unwrap();
    let ideal = 4.0 / 0.2;
    let samples = samples.lock().unwrap();
    // The steady state: from 10 % to 80 % of the requests, before the last windows thin out.
    let at = |share: f64| {
        samples
            .iter()
            .find(|(_, n)| *n as f64 >= share * requests as f64)
            .copied()
            .unwrap_or((seconds, requests))
    };
    let ((t0, n0), (t1, n1)) = (at(0.1), at(0.8));
    let steady = (n1 - n0) as f64 / (t1 - t0);
    let overall = requests as f64 / seconds;
    let stats = b.sim.stats(b.account.as_str());
    println!(
        "latency 200 ms, max in flight 4: {requests} requests in {seconds:.1} s: {overall:.1}/s overall ({:.0} %), {steady:.1}/s steady ({:.0} % of {ideal}/s); most in flight {}",
        100.0 * overall / ideal,
        100.0 * steady / ideal,
        stats.max_in_flight
    );
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        sparse().await;
        density_sweep().await;
        latency_bound().await;
    });
}
