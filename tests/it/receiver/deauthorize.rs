//! Signed deauthorize callbacks, and what exports do with discovered and deauthorized accounts.

use reqwest::StatusCode;
use twilio_export::registry::AccountStatus;
use twilio_sim::Signing;

use crate::support::*;

#[tokio::test]
async fn a_validly_signed_deauthorize_flips_the_account_and_every_account_reached_through_it() {
    for post in [true, false] {
        let (app, r) = connect_env(2, true).await;
        let mains = app.sim.main_account_sids();
        let cn = app.sim.config().connect_app_sid.clone();
        for main in &mains[..2] {
            assert_eq!(r.connect(&app, main).await.status(), StatusCode::SEE_OTHER);
        }
        let revoked = app.sim.granted_sid(&mains[0]).unwrap();
        app.sim.revoke(&revoked);

        let status = r.deauthorize(&revoked, &cn, post, Signing::Valid).await;

        assert_eq!(status, 200, "post={post}");
        for a in r.accounts().await {
            let reached = a.credential_sid.as_str() == revoked;
            let want = if reached {
                AccountStatus::Deauthorized
            } else {
                AccountStatus::Active
            };
            assert_eq!(a.status, want, "{} post={post}", a.sid);
            assert_eq!(a.deauthorized_at.is_some(), reached);
            assert_eq!(a.status_reason.is_some(), reached);
        }
        // `accounts list` shows why and when.
        let out = app.cli(&["accounts", "list"]).await;
        assert_success(&out);
        let table = stdout(&out);
        let line = table.lines().find(|l| l.starts_with(&mains[0])).unwrap();
        assert!(line.contains("deauthorized") && line.contains("revoked our Connect App"));
        assert!(line.contains(&revoked), "via credential: {line}");
        // A second, identical callback changes nothing and is still answered 200.
        assert_eq!(
            r.deauthorize(&revoked, &cn, post, Signing::Valid).await,
            200
        );
        let metrics = r.metrics().await;
        assert!(
            metrics.contains("outcome=\"deauthorized\"} 1\n"),
            "{metrics}"
        );
        assert!(metrics.contains("outcome=\"already_deauthorized\"} 1\n"));
        assert!(metrics.contains("twilio_export_accounts{status=\"deauthorized\"} 3\n"));
        assert!(metrics.contains("twilio_export_accounts{status=\"active\"} 3\n"));
    }
}

#[tokio::test]
async fn bad_missing_or_foreign_deauthorize_callbacks_are_403_and_change_nothing() {
    let (app, r) = connect_env(2, true).await;
    let main = app.sim.main_account_sids()[0].clone();
    let connect = app.sim.granted_sid(&main).unwrap();
    let cn = app.sim.config().connect_app_sid.clone();
    let foreign_cn = format!("CN{}", "f".repeat(32));
    assert_eq!(r.connect(&app, &main).await.status(), StatusCode::SEE_OTHER);
    let before = summary(&r.accounts().await);

    for post in [true, false] {
        assert_eq!(
            r.deauthorize(&connect, &cn, post, Signing::Wrong).await,
            403
        );
        assert_eq!(
            r.deauthorize(&connect, &cn, post, Signing::Absent).await,
            403
        );
        assert_eq!(
            r.deauthorize(&connect, &foreign_cn, post, Signing::Valid)
                .await,
            403
        );
    }
    // Signed for one URL, replayed on another: the signature covers the query.
    let signed = format!(
        "{}/connect/deauthorize?AccountSid={connect}&ConnectAppSid={cn}",
        r.base
    );
    let sig = twilio_sim::signature(TOKEN, &signed, &[]);
    let other = app.sim.main_account_sids()[1].clone();
    let resp = r
        .http
        .get(signed.replace(&connect, &other))
        .header("X-Twilio-Signature", sig)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    assert_eq!(summary(&r.accounts().await), before);
    let metrics = r.metrics().await;
    assert!(
        metrics.contains("outcome=\"bad_signature\"} 3\n"),
        "{metrics}"
    );
    assert!(metrics.contains("outcome=\"missing_signature\"} 2\n"));
    assert!(metrics.contains("outcome=\"foreign_app\"} 2\n"));
}

/// Discovered accounts are exported with the Connect sid's credentials (the user's calls live on
/// the parent); once deauthorized, exports skip them.
#[tokio::test]
async fn exports_reach_discovered_accounts_and_skip_deauthorized_ones() {
    let (app, r) = connect_env(2, true).await;
    let main = app.sim.main_account_sids()[0].clone();
    let connect = app.sim.granted_sid(&main).unwrap();
    let cn = app.sim.config().connect_app_sid.clone();
    assert_eq!(r.connect(&app, &main).await.status(), StatusCode::SEE_OTHER);
    let d = day("2026-03-01");
    let backfill = backfill("calls", "2026-03-01", "2026-03-01");

    let out = app.cli(&backfill).await;

    assert_success(&out);
    let truth = app.sim.calls_on(&main, d);
    assert!(
        !truth.is_empty(),
        "the fixture has calls on the parent that day"
    );
    let rows = rows_of(&read_parquet(&partition_file(
        &app.output(),
        "calls",
        &main,
        d,
    )));
    assert_rows_match(&rows, &truth, CALL_COLUMNS, "sid");
    let parent_calls = format!("/2010-04-01/Accounts/{main}/Calls.json");
    let reads: Vec<_> = app
        .sim
        .requests()
        .into_iter()
        .filter(|q| q.path == parent_calls)
        .collect();
    assert!(!reads.is_empty());
    assert!(reads
        .iter()
        .all(|q| q.username.as_deref() == Some(connect.as_str())));

    app.sim.revoke(&connect);
    assert_eq!(
        r.deauthorize(&connect, &cn, true, Signing::Valid).await,
        200
    );
    let before = app.sim.requests().len();
    let out = app.cli(&backfill).await;
    assert_success(&out);
    assert!(stderr(&out).contains(&format!("{main}: deauthorized, skipped")));
    assert_eq!(app.sim.requests().len(), before, "nothing was fetched");
}

#[tokio::test]
async fn the_sim_deauthorize_command_signs_or_mis_signs_as_asked() {
    let (app, r) = connect_env(1, true).await;
    let main = app.sim.main_account_sids()[0].clone();
    let connect = app.sim.granted_sid(&main).unwrap();
    let cn = app.sim.config().connect_app_sid.clone();
    assert_eq!(r.connect(&app, &main).await.status(), StatusCode::SEE_OTHER);
    let url = format!("{}/connect/deauthorize", r.base);
    let args = |extra: &'static [&'static str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "sim",
            "deauthorize",
            "--url",
            url.as_str(),
            "--account",
            connect.as_str(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        v.extend(["--app".to_owned(), cn.clone()]);
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v
    };
    let env = [("TWILIO_SIM_AUTH_TOKEN", TOKEN)];
    let run = |a: Vec<String>| {
        let app = &app;
        async move {
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            app.cli_with(&a, &env).await
        }
    };

    let bad = run(args(&["--bad-signature"])).await;
    assert_eq!(bad.status.code(), Some(1), "{}", stdout(&bad));
    assert!(stdout(&bad).contains("HTTP 403"));
    let unsigned = run(args(&["--unsigned", "--method", "get"])).await;
    assert_eq!(unsigned.status.code(), Some(1));
    assert!(r.all_are(AccountStatus::Active).await);

    // With --sim, the user revokes at the simulator first, as at Twilio before it calls back.
    let sim = app.base.clone();
    let mut good = args(&["--method", "get"]);
    good.extend(["--sim".to_owned(), sim]);
    let good = run(good).await;
    assert_success(&good);
    assert!(stdout(&good).contains("HTTP 200"));
    let accounts = r.accounts().await;
    assert_eq!(accounts.len(), 2);
    assert!(accounts
        .iter()
        .all(|a| a.status == AccountStatus::Deauthorized));
}

/// The first user's grant, connected through the receiver: its Connect account and our app.
async fn connected(app: &TestApp, r: &Receiver) -> (String, String) {
    let main = app.sim.main_account_sids()[0].clone();
    let connect = app.sim.granted_sid(&main).unwrap();
    assert_eq!(r.connect(app, &main).await.status(), StatusCode::SEE_OTHER);
    (connect, app.sim.config().connect_app_sid.clone())
}

/// How many times the grant of `connect` was tried (`GET /Accounts/{connect}.json`).
fn grant_checks(app: &TestApp, connect: &str) -> usize {
    let tried = format!("/2010-04-01/Accounts/{connect}.json");
    app.sim
        .requests()
        .iter()
        .filter(|q| q.path == tried)
        .count()
}

#[tokio::test]
async fn a_replayed_deauthorize_for_a_grant_twilio_still_accepts_changes_nothing() {
    let (app, r) = connect_env(2, true).await;
    let (connect, cn) = connected(&app, &r).await;
    let checks = || grant_checks(&app, &connect);
    let at_connect = checks();

    // A validly signed callback, but Twilio still accepts the grant (a recording of an old
    // callback replayed after the user authorized the app again, or one sent early).
    assert_eq!(
        r.deauthorize(&connect, &cn, true, Signing::Valid).await,
        200
    );

    assert!(r.all_are(AccountStatus::Active).await);
    assert_eq!(checks(), at_connect + 1, "the grant was tried");

    // Replayed again at once: the grant was confirmed moments ago, and is not asked about
    // again (a replay loop must not spend the account's API quota).
    assert_eq!(
        r.deauthorize(&connect, &cn, true, Signing::Valid).await,
        200
    );
    assert_eq!(checks(), at_connect + 1, "not tried again");
    assert!(r.all_are(AccountStatus::Active).await);
    let metrics = r.metrics().await;
    assert!(
        metrics.contains("callback=\"deauthorize\",outcome=\"still_authorized\"} 2\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_grant_check_that_cannot_finish_in_time_takes_the_signed_callback_at_its_word() {
    // Trying the grant takes 2.5 s at this API, and a callback may take 2 s: rather than time
    // out with nothing marked, the receiver marks the account as the signed callback says.
    let limits = twilio_export::receiver::ReceiverLimits {
        request_timeout: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    let sim = slowed(std::time::Duration::from_millis(2500), small_sim());
    let (app, r) = connect_env_from(sim, true, limits).await;
    let sid = app.sim.account_sids()[0].clone();
    let account = twilio_export::domain::AccountSid::parse(&sid).unwrap();
    let new = twilio_export::registry::NewAccount::unverified(account);
    r.registry.upsert_account(&new).await.unwrap();
    let cn = app.sim.config().connect_app_sid.clone();

    let status = r.deauthorize(&sid, &cn, true, Signing::Valid).await;

    assert_eq!(status, 200);
    assert!(r.all_are(AccountStatus::Deauthorized).await);
}

#[tokio::test]
async fn a_callback_naming_a_discovered_account_tries_the_grant_that_reaches_it() {
    let (app, r) = connect_env(2, true).await;
    let main = app.sim.main_account_sids()[0].clone();
    let cn = app.sim.config().connect_app_sid.clone();
    assert_eq!(r.connect(&app, &main).await.status(), StatusCode::SEE_OTHER);

    // The main account was discovered through its Connect subaccount, whose grant is live:
    // tried as exports reach it, the grant answers, and nothing changes.
    assert_eq!(r.deauthorize(&main, &cn, true, Signing::Valid).await, 200);

    assert!(r.all_are(AccountStatus::Active).await);
    let metrics = r.metrics().await;
    assert!(
        metrics.contains("callback=\"deauthorize\",outcome=\"still_authorized\"} 1\n"),
        "{metrics}"
    );
}

/// A burst of one recorded callback replayed at once, against an API that answers in a second:
/// the grant is checked once, the other callbacks wait for that check and read its answer, and
/// nothing changes. (Each checked on its own, they queued on the account's quota until the last
/// ones ran out of time and took the callback at its word.)
#[tokio::test]
async fn a_burst_of_replayed_callbacks_checks_the_grant_once_and_changes_nothing() {
    let limits = twilio_export::receiver::ReceiverLimits {
        request_timeout: std::time::Duration::from_secs(4),
        ..Default::default()
    };
    let sim = slowed(
        std::time::Duration::from_millis(1000),
        twilio_sim::SimConfig {
            subaccounts: 2,
            ..small_sim()
        },
    );
    let (app, r) = connect_env_from(sim, true, limits).await;
    let (connect, cn) = connected(&app, &r).await;
    let checks = || grant_checks(&app, &connect);
    let at_connect = checks();

    let burst = (0..24).map(|_| r.deauthorize(&connect, &cn, true, Signing::Valid));
    let statuses = futures::future::join_all(burst).await;

    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert!(r.all_are(AccountStatus::Active).await);
    assert_eq!(checks(), at_connect + 1, "the grant was checked once");
    let metrics = r.metrics().await;
    assert!(
        metrics.contains("callback=\"deauthorize\",outcome=\"still_authorized\"} 24\n"),
        "{metrics}"
    );
}
