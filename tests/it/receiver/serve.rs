//! The receiver as a server: health and unknown routes, arbitrary query strings, the real
//! `serve` binary against the real `sim` binary, and the browser round trip.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use twilio_export::receiver::STATE_COOKIE;

use twilio_sim::SimConfig;

use crate::support::*;

#[tokio::test]
async fn healthz_answers_and_unknown_routes_are_404() {
    let (_app, r) = connect_env(0, true).await;
    let get = |path: &'static str| r.http.get(format!("{}{path}", r.base)).send();
    let health = get("/healthz").await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.text().await.unwrap(), "ok\n");
    assert_eq!(get("/nope").await.unwrap().status(), StatusCode::NOT_FOUND);
    let long = format!("{}/connect/authorize?x={}", r.base, "a".repeat(20_000));
    let resp = r.http.get(long).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::URI_TOO_LONG);
    let big = r
        .http
        .post(format!("{}/connect/deauthorize", r.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 100_000])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

/// Arbitrary query strings (with and without a matching state cookie) never crash the
/// Authorize URL or store anything: every answer is a 200, 400 or 403 page.
#[tokio::test]
async fn arbitrary_query_strings_never_crash_the_authorize_handler() {
    let (app, r) = connect_env(0, true).await;
    let known = app.sim.main_account_sids()[0].clone();
    let raw = "[A-Za-z0-9=&%+;._~!$'()*,:@/?\\[\\]-]{0,300}";
    let encoded = "\\PC{0,60}".prop_map(|s: String| {
        url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
    });
    let structured = (
        proptest::sample::select(vec![
            "AccountSid",
            "state",
            "error",
            "accountsid",
            "AccountSid[]",
        ]),
        encoded.clone(),
        proptest::sample::select(vec!["state", "AccountSid", "error", "x"]),
        encoded,
    )
        .prop_map(|(k1, v1, k2, v2)| format!("{k1}={v1}&{k2}={v2}"));
    let mut runner = TestRunner::deterministic();
    let mut inputs: Vec<String> = Vec::new();
    for _ in 0..96 {
        inputs.push(raw.new_tree(&mut runner).unwrap().current());
        inputs.push(structured.new_tree(&mut runner).unwrap().current());
    }
    // Near misses around a well-formed request.
    inputs.push(format!("AccountSid={}&state=S", known.to_lowercase()));
    inputs.push(format!("AccountSid={known}%00&state=S"));
    inputs.push("AccountSid=%FF%FE&state=%FF".to_owned());

    for (i, query) in inputs.iter().enumerate() {
        let cookie = (i % 2 == 0).then_some("S");
        let resp = r.authorize(query, cookie).await;
        let status = resp.status();
        assert!(
            [
                StatusCode::OK,
                StatusCode::BAD_REQUEST,
                StatusCode::FORBIDDEN
            ]
            .contains(&status),
            "{query:?} → {status}"
        );
    }
    assert!(r.accounts().await.is_empty());
}

/// The real binaries: `sim` plays Twilio (consent page, API, deauthorize sender) and `serve`
/// is the receiver. An authorization the API accepts is stored, one it rejects is not; a
/// deauthorize signed with the right token flips the account, a mis-signed one does not.
#[tokio::test]
async fn the_serve_binary_against_the_simulator() {
    let app = spawn_app(SimConfig {
        subaccounts: 2,
        ..small_sim()
    })
    .await;
    let cn = app.sim.config().connect_app_sid.clone();
    let (mut serve, base) = spawn_serve(&app, "warn").await;
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let main = app.sim.main_account_sids()[0].clone();
    let connect = app.sim.granted_sid(&main).unwrap();
    // Each attempt starts at `/` (a state is used once).
    let go = |account: String| {
        let (http, base) = (&http, &base);
        async move {
            let home = http.get(format!("{base}/")).send().await.unwrap();
            let cookie = home.headers()["set-cookie"].to_str().unwrap().to_owned();
            let state = cookie
                .split(';')
                .next()
                .unwrap()
                .split_once('=')
                .unwrap()
                .1
                .to_owned();
            http.get(format!(
                "{base}/connect/authorize?AccountSid={account}&state={state}"
            ))
            .header("cookie", format!("{STATE_COOKIE}={state}"))
            .send()
            .await
        }
    };

    let rejected = go("AC0123456789abcdef0123456789abcdef".to_owned())
        .await
        .unwrap();
    assert_eq!(rejected.status(), StatusCode::FORBIDDEN);
    let accepted = go(connect.clone()).await.unwrap();
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);

    let listed = app.accounts_json().await;
    let mut sids: Vec<&str> = listed.iter().map(|a| a["sid"].as_str().unwrap()).collect();
    sids.sort();
    let want: Vec<String> = tree(&app, &main).into_iter().map(|t| t.0).collect();
    assert_eq!(sids, want);
    assert!(listed
        .iter()
        .all(|a| a["credential_sid"] == json!(connect) && a["status"] == json!("active")));

    let url = format!("{base}/connect/deauthorize");
    let deauth = |extra: Option<&'static str>| {
        let mut a = vec![
            "sim",
            "deauthorize",
            "--url",
            url.as_str(),
            "--account",
            connect.as_str(),
            "--app",
            cn.as_str(),
            // The user revokes at Twilio first: the receiver tries the grant.
            "--sim",
            app.base.as_str(),
        ];
        a.extend(extra);
        let a: Vec<String> = a.into_iter().map(str::to_owned).collect();
        let app = &app;
        async move {
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            app.cli_with(&a, &[("TWILIO_SIM_AUTH_TOKEN", TOKEN)]).await
        }
    };
    assert_eq!(deauth(Some("--bad-signature")).await.status.code(), Some(1));
    let still = app.cli(&["accounts", "list", "--json"]).await;
    assert!(!stdout(&still).contains("\"deauthorized\""));
    assert_success(&deauth(None).await);
    assert!(app
        .accounts_json()
        .await
        .iter()
        .all(|a| a["status"] == json!("deauthorized") && a["deauthorized_at"].is_string()));

    serve.kill().await.unwrap();
}

#[tokio::test]
async fn serve_without_a_token_or_an_app_is_a_usage_error() {
    let app = spawn_app(small_sim()).await;
    let cn = app.sim.config().connect_app_sid.clone();
    let run = |env: Vec<(&'static str, String)>| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_twilio-export"));
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .kill_on_drop(true)
            .env_clear()
            .env("DATABASE_URL", app.database_url())
            .envs(env);
        async move { cmd.output().await.unwrap() }
    };

    let no_token = run(vec![("TWILIO_CONNECT_APP_SID", cn.clone())]).await;
    assert_eq!(no_token.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_token.stderr).contains("no auth token"));
    let no_app = run(vec![("TWILIO_AUTH_TOKEN", TOKEN.to_owned())]).await;
    assert_eq!(no_app.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_app.stderr).contains("no Connect App"));
    // An address the receiver's paths cannot be added to, or that holds a password.
    for (option, url, says) in [
        (
            "TWILIO_EXPORT_PUBLIC_URL",
            "https://x.example/?q=1",
            "query or fragment",
        ),
        (
            "TWILIO_EXPORT_PUBLIC_URL",
            "https://x.example/#f",
            "query or fragment",
        ),
        (
            "TWILIO_CONNECT_BASE",
            "https://me:s3cret@x.example",
            "user or password",
        ),
        (
            "TWILIO_EXPORT_PUBLIC_URL",
            "ftp://x.example",
            "not an http(s) URL",
        ),
        ("TWILIO_EXPORT_PUBLIC_URL", "http://h.example:0/", "port 0"),
    ] {
        let refused = run(vec![
            ("TWILIO_AUTH_TOKEN", TOKEN.to_owned()),
            ("TWILIO_CONNECT_APP_SID", cn.clone()),
            (option, url.to_owned()),
        ]);
        let out = tokio::time::timeout(std::time::Duration::from_secs(20), refused)
            .await
            .unwrap_or_else(|_| panic!("{url}: serve started instead of refusing it"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {err}");
        assert!(
            err.contains(says) && !err.contains("s3cret"),
            "{url}: {err}"
        );
    }
    assert!(
        !app.dir.path().join("registry.db").exists(),
        "nothing opened"
    );
}

// ---- the browser round trip ------------------------------------------------------------

/// The whole Connect round trip in headless Chromium: open `/`, click Connect, press
/// Authorize on the simulator's consent page, land on the success page.
#[tokio::test]
async fn browser_round_trip_connects_an_account() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (app, r) = connect_env(2, true).await;
    let main = app.sim.main_account_sids()[0].clone();

    browser.goto(&format!("{}/", r.base)).await;
    let connect = browser.wait_for("#connect").await;
    browser.click(&connect).await;
    let authorize = browser.wait_for("#authorize").await;
    assert!(browser
        .current_url()
        .await
        .starts_with(&format!("{}/authorize/CN", app.base)));
    browser.click(&authorize).await;
    let outcome = browser.wait_for("#outcome").await;
    let text = browser.text(&outcome).await;
    let final_url = browser.current_url().await;
    browser.quit().await;

    assert_eq!(text, "Your Twilio account is connected");
    assert!(final_url.starts_with(&format!("{}/connect/connected", r.base)));
    assert!(!final_url.contains("AC"), "no sid in {final_url}");
    assert_eq!(summary(&r.accounts().await), tree(&app, &main));
}

#[tokio::test]
async fn serve_says_what_stopping_means_for_it() {
    let app = spawn_app(small_sim()).await;
    let (serve, _base) = spawn_serve(&app, "info").await;

    let out = terminated(serve).await;

    assert_success(&out);
    let said = stderr(&out);
    assert!(
        said.contains(
            "Stop requested: no new connections; requests in progress get up to 10 s to finish"
        ),
        "{said}"
    );
    assert!(!said.contains("partitions"), "{said}");
}

/// A second SIGTERM ends the process at once (exit 1) while the first one's stop waits for a
/// request in progress; the first alone would let it finish and exit 0.
#[tokio::test]
async fn a_second_stop_request_exits_at_once() {
    let app = spawn_app(slowed(Duration::from_secs(20), small_sim())).await;
    let (serve, base) = spawn_serve(&app, "info").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(&base).send().await.unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    let state = cookie
        .split(';')
        .next()
        .and_then(|c| c.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap();
    let sid = app.sim.account_sids()[0].clone();
    let slow = http
        .get(format!(
            "{base}/connect/authorize?AccountSid={sid}&state={state}"
        ))
        .header("cookie", format!("{STATE_COOKIE}={state}"))
        .send();
    let slow = tokio::spawn(slow);
    let metrics = format!("{base}/metrics");
    eventually("the authorization in progress", || {
        let (http, metrics) = (http.clone(), metrics.clone());
        async move {
            let text = http.get(&metrics).send().await.ok()?.text().await.ok()?;
            text.contains("\ntwilio_export_receiver_connections 2\n")
                .then_some(())
        }
    })
    .await;
    let pid = serve.id().unwrap().to_string();
    let kill = || {
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
    };
    assert!(kill().unwrap().success());
    eventually("the listener closed by the first stop request", || {
        let (http, base) = (http.clone(), base.clone());
        async move {
            http.get(format!("{base}/healthz"))
                .send()
                .await
                .is_err()
                .then_some(())
        }
    })
    .await;
    assert!(kill().unwrap().success());

    let out = tokio::time::timeout(Duration::from_secs(30), serve.wait_with_output())
        .await
        .expect("exited")
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Second stop request"));
    slow.abort();
}
