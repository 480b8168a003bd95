//! Windows sized by the data: sparse days share requests (a span of days read with one query,
//! its rows split into the same per-day partitions), dense days still run side by side.
//! Counted on the simulator's request log.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use futures::FutureExt;
use twilio_export::domain::{AccountSid, AuthToken, Resource};
use twilio_export::fetch::{Limits, NetWaits, PageUri, Quotas, TwilioClient};
use twilio_export::registry::Registry;
use twilio_sim::{Faults, Hostile, SimConfig};

use crate::support::*;

const FIRST: &str = "2026-03-01";
const LAST: &str = "2026-03-30";

/// One account, 30 days of about 20 calls.
fn sparse_sim(faults: Faults) -> SimConfig {
    SimConfig {
        seed: 5,
        accounts: 1,
        days: 30,
        calls_per_day: 20,
        today: day(LAST),
        faults,
        ..SimConfig::default()
    }
}

fn days() -> impl Iterator<Item = NaiveDate> {
    day(FIRST).iter_days().take_while(|d| *d <= day(LAST))
}

/// List requests the simulator answered whose path ends with `suffix`.
fn list_requests(app: &TestApp, suffix: &str) -> usize {
    let requests = app.sim.requests();
    requests.iter().filter(|r| r.path.ends_with(suffix)).count()
}

fn output_files(app: &TestApp) -> BTreeMap<String, Vec<u8>> {
    files_below(&app.output())
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(app.output().join(&f)).unwrap();
            (f, bytes)
        })
        .collect()
}

/// The recorded partitions of the app's only account: (day, rows, file, exported at).
async fn partitions(
    app: &TestApp,
    resource: Resource,
) -> Vec<(chrono::NaiveDate, i64, Option<String>)> {
    let registry = Registry::connect(&app.database_url()).await.unwrap();
    let account = AccountSid::parse(&app.sim.account_sids()[0]).unwrap();
    let mut parts: Vec<_> = registry
        .partitions(&account, resource)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.day, p.rows, p.object_key))
        .collect();
    parts.sort();
    parts
}

/// Every calls partition of the 30 days equals the simulator's truth; returns the records.
fn assert_calls_exact(app: &TestApp) -> usize {
    let account = &app.sim.account_sids()[0];
    let mut records = 0;
    for d in days() {
        let truth = app.sim.calls_on(account, d);
        records += truth.len();
        let file = partition_file(&app.output(), "calls", account, d);
        if truth.is_empty() {
            assert!(!file.exists(), "{d}");
        } else {
            assert_rows_match(&rows_of(&read_parquet(&file)), &truth, CALL_COLUMNS, "sid");
        }
    }
    records
}

/// `requests` is within 10 % + 1 of `ceil(records / 1000)`.
fn assert_economical(requests: usize, records: usize) {
    let minimum = records.div_ceil(1000);
    assert!(
        requests * 10 <= minimum * 11 + 10,
        "{requests} requests for {records} records (minimum {minimum})"
    );
}

#[tokio::test]
async fn sparse_days_cost_within_a_tenth_plus_one_of_the_fewest_requests() {
    let app = spawn_app(sparse_sim(Faults::default())).await;
    app.add_all_accounts().await;

    assert_success(&app.cli(&backfill("calls", FIRST, LAST)).await);

    let records = assert_calls_exact(&app);
    assert!(records > 300, "{records}");
    assert_economical(list_requests(&app, "/Calls.json"), records);
    // Every day is a partition of its own, recorded (days without calls with no file).
    let parts = partitions(&app, Resource::Calls).await;
    assert_eq!(parts.len(), 30);
}

#[tokio::test]
async fn usage_records_of_30_days_take_one_or_two_requests() {
    let app = spawn_app(sparse_sim(Faults::default())).await;
    app.add_all_accounts().await;

    assert_success(&app.cli(&backfill("usage-records", FIRST, LAST)).await);

    let requests = list_requests(&app, "/Daily.json");
    assert!((1..=2).contains(&requests), "{requests} requests");
    let account = &app.sim.account_sids()[0];
    for d in days() {
        let truth = app.sim.daily_usage_on(account, d);
        let file = partition_file(&app.output(), "usage_records", account, d);
        let rows = rows_of(&read_parquet(&file));
        assert_rows_match(&rows, &truth, USAGE_COLUMNS, "category");
    }
}

#[tokio::test]
async fn a_rerun_replaces_the_same_partitions_with_the_same_files() {
    let app = spawn_app(sparse_sim(Faults::default())).await;
    app.add_all_accounts().await;
    assert_success(&app.cli(&backfill("calls", FIRST, LAST)).await);
    let (files, parts) = (output_files(&app), partitions(&app, Resource::Calls).await);
    let before = list_requests(&app, "/Calls.json");

    assert_success(&app.cli(&backfill("calls", FIRST, LAST)).await);

    assert_eq!(output_files(&app), files);
    assert_eq!(partitions(&app, Resource::Calls).await, parts);
    let records = assert_calls_exact(&app);
    // Planned from the rows recorded the first time, the re-run is as economical.
    assert_economical(list_requests(&app, "/Calls.json") - before, records);
}

/// `cfg`'s data, but every page links to itself.
fn link_loop(cfg: SimConfig) -> SimConfig {
    SimConfig {
        faults: Faults {
            hostile: Some(Hostile::LinkLoop),
            ..Faults::default()
        },
        ..cfg
    }
}

#[tokio::test]
async fn a_failure_in_the_middle_of_a_span_publishes_none_of_its_days() {
    let cfg = sparse_sim(Faults::default());
    let app = spawn_app(cfg.clone()).await;
    app.add_all_accounts().await;
    assert_success(&app.cli(&backfill("calls", FIRST, LAST)).await);
    let (files, parts) = (output_files(&app), partitions(&app, Resource::Calls).await);
    // The same data, but each page links to itself: the span's first page and the same page
    // again are read, then the link comes back and the span fails.
    let evil = spawn_app(link_loop(cfg)).await;

    let out = app
        .cli_with(
            &backfill("calls", FIRST, LAST),
            &[("TWILIO_API_BASE", &evil.base)],
        )
        .await;

    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(list_requests(&evil, "/Calls.json"), 2);
    assert_eq!(output_files(&app), files, "a partition changed");
    assert_eq!(partitions(&app, Resource::Calls).await, parts);
    let registry = Registry::connect(&app.database_url()).await.unwrap();
    let failed: Vec<String> = registry
        .failures()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.day.to_string())
        .collect();
    let all: Vec<String> = days().map(|d| d.to_string()).collect();
    assert_eq!(failed, all, "every day of the span is remembered as failed");
}

#[tokio::test]
async fn a_day_whose_window_failed_is_retried_alone_and_the_days_around_it_share_requests() {
    let cfg = sparse_sim(Faults::default());
    let app = spawn_app(cfg.clone()).await;
    app.add_all_accounts().await;
    // The 15th fails (every page links to itself) and is remembered as failed.
    let evil = spawn_app(link_loop(cfg)).await;
    let out = app
        .cli_with(
            &backfill("calls", "2026-03-15", "2026-03-15"),
            &[("TWILIO_API_BASE", &evil.base)],
        )
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));

    assert_success(&app.cli(&backfill("calls", FIRST, LAST)).await);

    // The 15th is read with a query of its own, so that were it still failing, the days
    // around it would not fail with it; they share one request on each side.
    let queries: Vec<String> = (app.sim.requests().into_iter())
        .filter(|r| r.path.ends_with("/Calls.json"))
        .map(|r| r.query)
        .collect();
    assert_eq!(queries.len(), 3, "{queries:?}");
    assert!(
        queries.iter().any(|q| {
            q.contains("StartTime%3E=2026-03-15") && q.contains("StartTime%3C=2026-03-16")
        }),
        "{queries:?}"
    );
    assert_calls_exact(&app);
    let registry = Registry::connect(&app.database_url()).await.unwrap();
    assert!(registry.failures().await.unwrap().is_empty());
}

/// One account, 30 days of about `per_day` calls, backfilled twice: the calls (checked
/// exact), and the requests of the first backfill and of the second.
async fn backfilled_twice(per_day: u32) -> (usize, usize, usize) {
    let app = spawn_app(SimConfig {
        calls_per_day: per_day,
        ..sparse_sim(Faults::default())
    })
    .await;
    app.add_all_accounts().await;
    assert_success(&app.cli(&backfill("calls", FIRST, LAST)).await);
    let first = list_requests(&app, "/Calls.json");
    assert_success(&app.cli(&backfill("calls", FIRST, LAST)).await);
    let second = list_requests(&app, "/Calls.json") - first;
    (assert_calls_exact(&app), first, second)
}

#[tokio::test]
async fn days_of_about_two_thirds_of_a_page_cost_within_a_tenth_plus_one_too() {
    // 30 days of about 667 calls (20,000): sparse days that do not fit two to a page are
    // read page after page, a few spans side by side, not each day with a request of its own;
    // the second time planned from the rows then known.
    let (records, first, second) = backfilled_twice(667).await;
    assert_economical(first, records);
    assert_economical(second, records);
}

#[tokio::test]
async fn days_of_about_a_page_are_read_page_after_page_once_their_rows_are_known() {
    // A first backfill finds days of about a page dense (a first page all one day's) and
    // reads them side by side; once their rows are known they are chained, and the span's
    // first page, all one day's again, no longer splits it.
    let (records, _, second) = backfilled_twice(1100).await;
    assert_economical(second, records);
}

/// `accounts` × `days` dense days (from 2026-03-01) backfilled at 100 ms a page with
/// `max_in_flight` requests per account; the run succeeded.
async fn backfilled_at_100_ms(
    seed: u64,
    accounts: usize,
    days: u32,
    max_in_flight: &str,
) -> TestApp {
    let last = day("2026-03-01") + chrono::Days::new(u64::from(days) - 1);
    let app = spawn_app(SimConfig {
        seed,
        accounts,
        days,
        calls_per_day: 2500,
        today: last,
        faults: Faults {
            latency: Duration::from_millis(100),
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await;
    app.add_all_accounts().await;
    let out = app
        .cli_with(
            &backfill("calls", "2026-03-01", &last.to_string()),
            &[
                ("TWILIO_EXPORT_MAX_IN_FLIGHT", max_in_flight),
                ("TWILIO_EXPORT_RATE_LIMIT", "1000"),
            ],
        )
        .await;
    assert_success(&out);
    app
}

#[tokio::test]
async fn dense_days_run_side_by_side_up_to_max_in_flight() {
    let app = backfilled_at_100_ms(6, 1, 6, "4").await;
    let account = &app.sim.account_sids()[0];
    let mut pages = 0;
    for d in day("2026-03-01").iter_days().take(6) {
        let truth = app.sim.calls_on(account, d);
        pages += truth.len().div_ceil(1000).max(1);
        let file = partition_file(&app.output(), "calls", account, d);
        assert_rows_match(&rows_of(&read_parquet(&file)), &truth, CALL_COLUMNS, "sid");
    }
    let stats = app.sim.stats(account);
    assert_eq!(stats.max_in_flight, 4, "{stats:?}");
    // Each day's pages, plus the first page of the span that showed the days dense.
    assert_eq!(list_requests(&app, "/Calls.json"), pages + 1);
}

/// Windows open only while the others wait on the API, and an account gets no more windows
/// than requests it may have in flight: at 100 ms a page, that still gives each of three
/// accounts all its slots at once, whatever order their days are queued in.
#[tokio::test]
async fn dense_days_of_several_accounts_each_use_every_slot() {
    let app = backfilled_at_100_ms(8, 3, 4, "3").await;
    for account in app.sim.account_sids() {
        let stats = app.sim.stats(&account);
        assert_eq!(stats.max_in_flight, 3, "{account}: {stats:?}");
        for d in day("2026-03-01").iter_days().take(4) {
            let file = partition_file(&app.output(), "calls", &account, d);
            let truth = app.sim.calls_on(&account, d);
            if truth.is_empty() {
                assert!(!file.exists(), "{}", file.display());
                continue;
            }
            assert_rows_match(&rows_of(&read_parquet(&file)), &truth, CALL_COLUMNS, "sid");
        }
    }
}

/// A client to the app's simulator with `limits`, and the simulator's first account.
fn client_with(app: &TestApp, limits: Limits) -> (TwilioClient, AccountSid, PageUri) {
    let client = TwilioClient::new(
        app.base.parse().unwrap(),
        AuthToken::new(TOKEN.to_owned()).unwrap(),
        Quotas::new(limits),
    )
    .unwrap();
    let account = AccountSid::parse(&app.sim.account_sids()[0]).unwrap();
    let uri = PageUri::build(
        &format!("/2010-04-01/Accounts/{account}/Calls.json"),
        &[("PageSize", "50".into())],
    );
    (client, account, uri)
}

/// What the scheduler reads to open windows: a request waiting for one of its account's
/// slots or for the rate counts as waiting on Twilio, as one waiting for the answer does.
#[tokio::test]
async fn requests_waiting_for_a_slot_or_the_rate_wait_on_twilio() {
    let app = spawn_app(sparse_sim(Faults::default())).await;
    let limits = Limits {
        rate_limit: 4,
        max_in_flight: 1,
        ..Limits::default()
    };
    let (client, account, uri) = client_with(&app, limits);
    let waits = NetWaits::default();
    let mut retries = 0;
    (client.get_counted(&account, &account, &uri, &mut retries, Some(&waits), |_| {
        Ok(())
    }))
    .await
    .unwrap();
    assert_eq!(waits.waiting(), 0);

    // The rate's one request is spent: the next holds the only slot and waits for the rate,
    // the one after it waits for the slot.
    let (mut n1, mut n2) = (0, 0);
    let paced = client.get_counted(&account, &account, &uri, &mut n1, Some(&waits), |_| Ok(()));
    let queued = client.get_counted(&account, &account, &uri, &mut n2, Some(&waits), |_| Ok(()));
    tokio::pin!(paced, queued);
    assert!(paced.as_mut().now_or_never().is_none());
    assert!(queued.as_mut().now_or_never().is_none());
    assert_eq!(waits.waiting(), 2);

    let (paced, queued) = tokio::join!(paced, queued);
    paced.unwrap();
    queued.unwrap();
    assert_eq!(waits.waiting(), 0);
}

/// A request sleeping out a 429's `Retry-After` before its next attempt waits on Twilio too.
#[tokio::test]
async fn a_request_sleeping_before_a_retry_waits_on_twilio() {
    let app = spawn_app(sparse_sim(Faults {
        max_per_second: Some(1),
        retry_after_share: 1.0,
        ..Faults::default()
    }))
    .await;
    let (client, account, uri) = client_with(&app, Limits::default());
    let mut retries = 0;
    (client.get_counted(&account, &account, &uri, &mut retries, None, |_| Ok(())))
        .await
        .unwrap();

    let waits = NetWaits::default();
    let retried = client.get_counted(&account, &account, &uri, &mut retries, Some(&waits), |_| {
        Ok(())
    });
    tokio::pin!(retried);
    let throttled = || app.sim.requests().iter().any(|r| r.status == 429);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !throttled() {
        assert!(std::time::Instant::now() < deadline, "never answered 429");
        assert!(retried.as_mut().now_or_never().is_none());
        tokio::task::yield_now().await;
    }
    // The next attempt comes a second after the 429; until then the request only waits.
    let answered = std::time::Instant::now();
    while answered.elapsed() < Duration::from_millis(300) {
        assert!(retried.as_mut().now_or_never().is_none());
        assert_eq!(waits.waiting(), 1);
        tokio::task::yield_now().await;
    }
}
