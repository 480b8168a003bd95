use std::time::Duration;

use twilio_export::domain::Resource;
use twilio_sim::{Faults, SimConfig};

use crate::support::*;

/// A simulator with enough calls for several pages per window.
fn busy_sim(faults: Faults) -> SimConfig {
    SimConfig {
        seed: 11,
        accounts: 2,
        days: 3,
        calls_per_day: 1200,
        today: day("2026-03-02"),
        faults,
        ..SimConfig::default()
    }
}

/// The backfill every test here runs.
fn range() -> Vec<&'static str> {
    backfill("calls", "2026-02-28", "2026-03-02")
}

/// Every partition equals the simulator's truth.
fn assert_exact(app: &TestApp) {
    assert_output_is_truth(app, &[Resource::Calls], "2026-02-28", "2026-03-02");
}

#[tokio::test]
async fn each_fault_alone_and_all_together_give_the_exact_truth() {
    let cases = [
        Faults {
            server_error: 0.15,
            ..Faults::default()
        },
        Faults {
            dropped_connection: 0.1,
            ..Faults::default()
        },
        Faults {
            truncated_body: 0.1,
            ..Faults::default()
        },
        Faults {
            max_in_flight: Some(1),
            retry_after_share: 0.5,
            latency: Duration::from_millis(20),
            ..Faults::default()
        },
        Faults {
            server_error: 0.1,
            dropped_connection: 0.05,
            truncated_body: 0.05,
            max_in_flight: Some(2),
            retry_after_share: 0.3,
            latency: Duration::from_millis(5),
            ..Faults::default()
        },
    ];
    for faults in cases {
        let app = spawn_app(busy_sim(faults.clone())).await;
        app.add_all_accounts().await;
        let out = app.cli_with(&range(), &[("RUST_LOG", "debug")]).await;
        assert_success(&out);
        assert_exact(&app);
        let log = stderr(&out);
        assert!(!log.contains(TOKEN), "the token leaked into the log");
        assert_token_stored_nowhere(&app);
        let faulted: u64 = app
            .sim
            .account_sids()
            .iter()
            .map(|a| {
                let s = app.sim.stats(a);
                s.faulted + s.throttled
            })
            .sum();
        assert!(faulted > 0, "{faults:?}: no fault was injected");
    }
}

#[tokio::test]
async fn configured_rate_and_concurrency_are_never_exceeded() {
    let app = spawn_app(busy_sim(Faults {
        latency: Duration::from_millis(20),
        ..Faults::default()
    }))
    .await;
    app.add_all_accounts().await;
    let out = app
        .cli_with(
            &range(),
            &[
                ("TWILIO_EXPORT_RATE_LIMIT", "8"),
                ("TWILIO_EXPORT_MAX_IN_FLIGHT", "2"),
            ],
        )
        .await;
    assert_success(&out);
    assert_exact(&app);
    for account in app.sim.account_sids() {
        let s = app.sim.stats(&account);
        assert!(s.requests >= 6, "{s:?}");
        assert!(s.max_in_flight <= 2, "{account}: {s:?}");
        assert!(s.max_per_second <= 8, "{account}: {s:?}");
    }
}

#[tokio::test]
async fn an_account_revoked_mid_run_is_skipped_and_the_others_finish() {
    let app = spawn_app(busy_sim(Faults {
        revoke_after: Some(3),
        ..Faults::default()
    }))
    .await;
    // Register without verifying, so the registration requests do not count.
    let mut args = vec!["accounts", "add", "--no-verify"];
    let sids = app.sim.account_sids();
    args.extend(sids.iter().map(String::as_str));
    assert_success(&app.cli(&args).await);

    let out = app.cli(&range()).await;

    // Every account was revoked after 3 requests: all are deauthorized, none is a failure.
    assert_success(&out);
    for sid in &sids {
        assert!(
            stdout(&out).contains(&format!("{sid}: deauthorized")),
            "{}",
            stdout(&out)
        );
    }
    assert!(app
        .accounts_json()
        .await
        .iter()
        .all(|a| a["status"] == "deauthorized"
            && a["status_reason"].as_str().unwrap().contains("20003")));
}

#[tokio::test]
async fn sigkill_at_any_moment_then_a_rerun_gives_the_exact_truth() {
    let app = spawn_app(busy_sim(Faults {
        latency: Duration::from_millis(15),
        ..Faults::default()
    }))
    .await;
    app.add_all_accounts().await;
    // Twenty kills spread over the run: before the first request, mid-page, mid-write, late.
    for delay_ms in (0..20u64).map(|i| 20 + (i * 137) % 900) {
        let mut child = app
            .command(&range())
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        child.start_kill().unwrap(); // SIGKILL
        let _ = child.wait().await;
        // Whatever is visible is whole: every published file reads back.
        for f in files_below(&app.output().join("calls")) {
            assert!(f.ends_with("part-0.parquet"), "{f}");
            read_parquet(&app.output().join("calls").join(&f));
        }
    }
    let out = app.cli(&range()).await;
    assert_success(&out);
    assert_exact(&app);
    // The killed runs' staging files were cleaned up by the re-run.
    assert_eq!(
        files_below(&app.output().join("_staging")),
        Vec::<String>::new()
    );
    let status = app.cli(&["status", "--json"]).await;
    assert_success(&status);
}

#[tokio::test]
async fn an_unwritable_output_is_named_and_nothing_is_done() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let blocker = app.dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let output = blocker.join("export");
    let out = app
        .cli_with(
            &backfill("calls", "2026-03-01", "2026-03-01"),
            &[("EXPORT_OUTPUT", output.to_str().unwrap())],
        )
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not writable"), "{}", stderr(&out));
    assert!(stderr(&out).contains("not-a-dir"), "{}", stderr(&out));
    assert!(app
        .sim
        .requests()
        .iter()
        .all(|r| !r.path.contains("/Calls")));
}

/// The token is in no file the tool wrote: the registry (with its WAL) and the output.
fn assert_token_stored_nowhere(app: &TestApp) {
    for f in files_below(app.dir.path()) {
        let bytes = std::fs::read(app.dir.path().join(&f)).unwrap();
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "the token is stored in {f}"
        );
    }
}
