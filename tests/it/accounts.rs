//! Twilio's own account status (active, suspended, closed): stored by `accounts add`,
//! `accounts verify` and the receiver's discovery, shown by `accounts list` and `status`, and
//! suspended or closed accounts reported and skipped by exports, not failed.

use reqwest::StatusCode;
use twilio_export::receiver::ReceiverLimits;
use twilio_export::registry::TwilioStatus;
use twilio_sim::{AccountState, SimConfig};

use crate::support::*;

/// Three flat accounts: the first active, the second suspended, the third closed.
fn mixed_sim() -> SimConfig {
    SimConfig {
        inactive_accounts: vec![(1, AccountState::Suspended), (2, AccountState::Closed)],
        ..small_sim()
    }
}

/// `twilio_status` of each account in `accounts list --json`, in the simulator's order.
async fn twilio_statuses(app: &TestApp) -> Vec<String> {
    let listed = app.accounts_json().await;
    app.sim
        .account_sids()
        .iter()
        .map(|sid| {
            let a = listed.iter().find(|a| a["sid"] == *sid).unwrap();
            a["twilio_status"].as_str().unwrap_or("-").to_owned()
        })
        .collect()
}

#[tokio::test]
async fn suspended_and_closed_accounts_are_registered_as_such_and_skipped() {
    let app = spawn_app(mixed_sim()).await;
    let sids = app.sim.account_sids();

    let mut args = vec!["accounts", "add"];
    args.extend(sids.iter().map(String::as_str));
    let added = app.cli(&args).await;

    assert_success(&added);
    let printed = stdout(&added);
    assert!(
        printed.contains(&format!(
            "{}: added (verified), but Twilio reports it suspended",
            sids[1]
        )),
        "{printed}"
    );
    assert!(printed.contains(&format!(
        "{}: added (verified), but Twilio reports it closed",
        sids[2]
    )));
    assert_eq!(
        twilio_statuses(&app).await,
        ["active", "suspended", "closed"]
    );
    for cmd in [&["accounts", "list"][..], &["status"][..]] {
        let out = app.cli(cmd).await;
        assert_success(&out);
        let line = stdout(&out)
            .lines()
            .find(|l| l.starts_with(&sids[2]))
            .map(str::to_owned)
            .unwrap();
        assert!(line.contains("active        closed"), "{cmd:?}: {line}");
    }

    let out = app
        .cli(&backfill("calls", "2026-03-01", "2026-03-01"))
        .await;

    assert_success(&out);
    assert!(stdout(&out).contains("1 accounts"), "{}", stdout(&out));
    for (sid, status) in [(&sids[1], "suspended"), (&sids[2], "closed")] {
        let said = format!("{sid}: {status} on Twilio, skipped");
        assert!(stderr(&out).contains(&said), "{}", stderr(&out));
        assert!(!app
            .sim
            .requests()
            .iter()
            .any(|r| r.path.contains(sid.as_str()) && r.path.ends_with("/Calls.json")));
    }
    let named = [
        &backfill("calls", "2026-03-01", "2026-03-01")[..],
        &["--account", &sids[2]],
    ]
    .concat();
    let named = app.cli(&named).await;
    assert_success(&named);
    assert!(stderr(&named).contains(&format!("{}: closed on Twilio, skipped", sids[2])));
}

#[tokio::test]
async fn an_account_closed_since_it_was_registered_is_found_and_skipped_not_failed() {
    let app = spawn_app(mixed_sim()).await;
    let sids = app.sim.account_sids();
    let mut args = vec!["accounts", "add", "--no-verify"];
    args.extend(sids.iter().map(String::as_str));
    assert_success(&app.cli(&args).await);
    assert_eq!(twilio_statuses(&app).await, ["-", "-", "-"]);

    // Their Calls answer 401; the re-check reads the Account, which says why.
    let out = app
        .cli(&backfill("calls", "2026-03-01", "2026-03-02"))
        .await;

    assert_success(&out);
    let printed = stdout(&out);
    for (sid, status) in [(&sids[1], "suspended"), (&sids[2], "closed")] {
        let said = format!("{sid}: {status} on Twilio, found during the run and skipped");
        assert!(printed.contains(&said), "{printed}");
    }
    assert!(!printed.contains("failed"), "{printed}");
    assert_eq!(twilio_statuses(&app).await, ["-", "suspended", "closed"]);
    let truth = app.sim.calls_on(&sids[0], day("2026-03-02"));
    let file = partition_file(&app.output(), "calls", &sids[0], day("2026-03-02"));
    assert_rows_match(&rows_of(&read_parquet(&file)), &truth, CALL_COLUMNS, "sid");
}

#[tokio::test]
async fn verify_records_twilio_status() {
    let app = spawn_app(mixed_sim()).await;
    let sids = app.sim.account_sids();
    let mut args = vec!["accounts", "add", "--no-verify"];
    args.extend(sids.iter().map(String::as_str));
    assert_success(&app.cli(&args).await);

    let out = app.cli(&["accounts", "verify"]).await;

    assert_success(&out);
    let printed = stdout(&out);
    assert!(
        printed.contains(&format!("{}: active", sids[0])),
        "{printed}"
    );
    assert!(printed.contains(&format!(
        "{}: suspended on Twilio (exports skip it)",
        sids[1]
    )));
    assert!(printed.contains(&format!("{}: closed on Twilio (exports skip it)", sids[2])));
    assert_eq!(
        twilio_statuses(&app).await,
        ["active", "suspended", "closed"]
    );
}

#[tokio::test]
async fn discovery_registers_twilio_status_of_the_accounts_a_grant_reads() {
    // Two subaccounts per main account: main 0 owns account 3 (the Connect subaccount) and 4.
    let cfg = SimConfig {
        subaccounts: 2,
        inactive_accounts: vec![(4, AccountState::Closed)],
        ..small_sim()
    };
    let (app, r) = connect_env_from(cfg, true, ReceiverLimits::default()).await;
    let main = app.sim.main_account_sids()[0].clone();
    let closed = app.sim.subaccount_sids(&main)[1].clone();

    let resp = r.connect(&app, &main).await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let accounts = r.accounts().await;
    assert_eq!(accounts.len(), 3);
    for a in &accounts {
        let want = if a.sid.as_str() == closed {
            TwilioStatus::Closed
        } else {
            TwilioStatus::Active
        };
        assert_eq!(a.twilio_status, Some(want), "{}", a.sid);
    }
    let out = app.cli(&["accounts", "list", "--json"]).await;
    assert!(stdout(&out).contains("\"twilio_status\": \"closed\""));
}

#[tokio::test]
async fn scheduled_runs_report_and_skip_suspended_and_closed_accounts() {
    let app = spawn_app(mixed_sim()).await;
    app.add_all_accounts().await;
    let sids = app.sim.account_sids();
    let jobs = app.dir.path().join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    std::fs::write(
        jobs.join("calls.toml"),
        "name = \"calls\"\nresource = \"calls\"\nschedule = \"0 0 * * * *\"\nlookback_days = 1\n",
    )
    .unwrap();
    let now = app.sim.now().to_rfc3339();
    let jobs = jobs.display().to_string();

    let out = app
        .cli_with(
            &["run", "--job", "calls"],
            &[("TWILIO_EXPORT_NOW", &now), ("TWILIO_EXPORT_JOBS", &jobs)],
        )
        .await;

    assert_success(&out);
    let printed = stdout(&out);
    assert!(
        printed.contains(&format!("{}: suspended on Twilio, skipped", sids[1])),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("{}: closed on Twilio, skipped", sids[2])),
        "{printed}"
    );
    assert!(printed.contains("1 accounts"), "{printed}");
    assert!(app
        .sim
        .requests()
        .iter()
        .all(|r| !r.path.ends_with("/Calls.json") || r.path.contains(sids[0].as_str())));
}
