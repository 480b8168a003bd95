//! The Connect receiver (issue 4): the browser round trip through the simulator's consent
//! page, the Authorize URL's checks (state, API-proven grant, malformed input), discovery of
//! the user's accounts, signed deauthorize callbacks, metrics, and the real `serve` binary.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;
use twilio_export::domain::AuthToken;
use twilio_export::domain::ConnectAppSid;
use twilio_export::fetch::Limits;
use twilio_export::fetch::{Quotas, TwilioClient};
use twilio_export::receiver::{self, ReceiverConfig, ReceiverLimits, ReceiverState, STATE_COOKIE};
use twilio_export::registry::{Account, AccountStatus, Registry};
use twilio_sim::{send_deauthorize, DeauthorizeCallback, Signing, SimConfig};
use url::Url;

use crate::helpers::{
    assert_rows_match, assert_success, backfill, day, partition_file, read_parquet, rows_of,
    small_sim, spawn_app, stderr, stdout, TestApp, CALL_COLUMNS, TOKEN,
};

/// A receiver running in-process on port 0 against the app's simulator and database.
pub(crate) struct Receiver {
    pub(crate) base: String,
    pub(crate) addr: std::net::SocketAddr,
    registry: Registry,
    pub(crate) http: reqwest::Client,
    /// Stops `serve` (and cancels its API calls).
    pub(crate) stop: CancellationToken,
    /// `serve` itself; it ends once stopped.
    pub(crate) served: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The simulator (with `subaccounts` per account, its consent page redirecting to the
/// receiver) and the receiver. The receiver's port is bound first so each knows the other.
async fn connect_env(subaccounts: usize, discover: bool) -> (TestApp, Receiver) {
    connect_env_with(subaccounts, discover, ReceiverLimits::default()).await
}

/// [`connect_env`] with other limits.
pub(crate) async fn connect_env_with(
    subaccounts: usize,
    discover: bool,
    limits: ReceiverLimits,
) -> (TestApp, Receiver) {
    let cfg = SimConfig {
        subaccounts,
        ..small_sim()
    };
    connect_env_from(cfg, discover, limits).await
}

/// The receiver in front of a simulator started from `cfg` (its consent page redirecting to
/// the receiver).
pub(crate) async fn connect_env_from(
    cfg: SimConfig,
    discover: bool,
    limits: ReceiverLimits,
) -> (TestApp, Receiver) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let app = spawn_app(SimConfig {
        authorize_url: Some(format!("{base}/connect/authorize")),
        ..cfg
    })
    .await;
    let token = AuthToken::new(TOKEN.to_owned()).unwrap();
    let stop = CancellationToken::new();
    let client = TwilioClient::new(
        Url::parse(&app.base).unwrap(),
        token.clone(),
        Quotas::new(Limits::default()),
    )
    .unwrap();
    let registry = Registry::connect(&app.database_url()).await.unwrap();
    let config = ReceiverConfig {
        public_url: Url::parse(&base).unwrap(),
        connect_base: Url::parse(&app.base).unwrap(),
        connect_app_sid: ConnectAppSid::parse(&app.sim.config().connect_app_sid).unwrap(),
        discover,
        limits,
    };
    let state = ReceiverState::new(config, client, registry.clone(), token);
    let served = tokio::spawn(receiver::serve(listener, state, stop.clone()));
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let receiver = Receiver {
        base,
        addr,
        registry,
        http,
        stop,
        served: Some(served),
    };
    (app, receiver)
}

impl Receiver {
    /// `GET /`: the state in the Connect link, which must equal the cookie's.
    pub(crate) async fn begin(&self) -> String {
        let resp = self.http.get(&self.base).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let set_cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(set_cookie.contains(attr), "{set_cookie}");
        }
        let cookie_nonce = set_cookie
            .strip_prefix(&format!("{STATE_COOKIE}="))
            .and_then(|s| s.split(';').next())
            .unwrap()
            .to_owned();
        let html = resp.text().await.unwrap();
        let href = html
            .split("id=\"connect\" class=\"button\" href=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .replace("&amp;", "&");
        let link = Url::parse(&href).unwrap();
        assert!(link.path().starts_with("/authorize/CN"), "{href}");
        let state = link
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        assert_eq!(state, cookie_nonce);
        state
    }

    pub(crate) async fn authorize(
        &self,
        query: &str,
        state_cookie: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .get(format!("{}/connect/authorize?{query}", self.base));
        if let Some(c) = state_cookie {
            req = req.header("cookie", format!("{STATE_COOKIE}={c}"));
        }
        req.send().await.unwrap()
    }

    /// The whole flow over HTTP: `/`, the consent page's Authorize, back to the receiver.
    pub(crate) async fn connect(&self, app: &TestApp, main: &str) -> reqwest::Response {
        let state = self.begin().await;
        let location = consent(app, &state, main, "authorize").await;
        let query = Url::parse(&location).unwrap().query().unwrap().to_owned();
        self.authorize(&query, Some(&state)).await
    }

    async fn deauthorize(&self, account: &str, app_sid: &str, post: bool, signing: Signing) -> u16 {
        send_deauthorize(
            &DeauthorizeCallback {
                url: format!("{}/connect/deauthorize", self.base),
                account_sid: account.to_owned(),
                connect_app_sid: app_sid.to_owned(),
                post,
                signing,
            },
            TOKEN,
        )
        .await
        .unwrap()
    }

    pub(crate) async fn accounts(&self) -> Vec<Account> {
        self.registry.accounts().await.unwrap()
    }

    pub(crate) async fn metrics(&self) -> String {
        let resp = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.text().await.unwrap()
    }
}

/// Presses a button on the simulator's consent page; returns where it redirects.
async fn consent(app: &TestApp, state: &str, main: &str, decision: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let page_url = format!(
        "{}/authorize/{}?state={state}",
        app.base,
        app.sim.config().connect_app_sid
    );
    let page = http.get(&page_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("value=\"{state}\"")), "state kept");
    let resp = http
        .post(format!(
            "{}/authorize/{}",
            app.base,
            app.sim.config().connect_app_sid
        ))
        .form(&[("state", state), ("account", main), ("decision", decision)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    resp.headers()["location"].to_str().unwrap().to_owned()
}

/// (sid, credential, status) of every registered account, sorted.
fn summary(accounts: &[Account]) -> Vec<(String, String, AccountStatus)> {
    accounts
        .iter()
        .map(|a| (a.sid.to_string(), a.credential_sid.to_string(), a.status))
        .collect()
}

/// The accounts a grant of `connect` on `main`'s tree reaches: (sid, credential) sorted.
fn tree(app: &TestApp, main: &str) -> Vec<(String, String, AccountStatus)> {
    let connect = app.sim.granted_sid(main).unwrap();
    let mut want: Vec<_> = std::iter::once(main.to_owned())
        .chain(app.sim.subaccount_sids(main))
        .map(|s| (s, connect.clone(), AccountStatus::Active))
        .collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    want
}

#[tokio::test]
async fn an_api_proven_grant_is_stored_with_the_accounts_it_can_read() {
    let (app, r) = connect_env(2, true).await;
    let main = app.sim.main_account_sids()[0].clone();
    let connect = app.sim.granted_sid(&main).unwrap();
    assert_ne!(connect, main, "a tree hands out the Connect subaccount");

    let resp = r.connect(&app, &main).await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "connected?accounts=3");
    assert!(!location.contains("AC"));
    let page = r
        .http
        .get(format!("{}/connect/{location}", r.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Your Twilio account is connected"));
    assert!(!html.contains(&connect), "no sid on the page");
    // The Connect account, its parent (where the calls are) and the parent's other subaccount,
    // all reached with the Connect sid's credentials.
    let accounts = r.accounts().await;
    assert_eq!(summary(&accounts), tree(&app, &main));
    assert!(accounts.iter().all(|a| a.verified_at.is_some()));
    let parent = accounts.iter().find(|a| a.sid.as_str() == main).unwrap();
    assert_eq!(parent.owner_account_sid.as_deref(), Some(main.as_str()));
    // The grant was proven before anything was stored, with the Connect sid as username.
    let log = app.sim.requests();
    let first = log
        .iter()
        .find(|q| q.path.starts_with("/2010-04-01/"))
        .unwrap();
    assert_eq!(first.path, format!("/2010-04-01/Accounts/{connect}.json"));
    assert_eq!(first.username.as_deref(), Some(connect.as_str()));
    // The other main accounts were not touched.
    let others = &app.sim.main_account_sids()[1..];
    assert!(accounts
        .iter()
        .all(|a| !others.contains(&a.sid.to_string())));
}

#[tokio::test]
async fn discovery_can_be_turned_off() {
    let (app, r) = connect_env(2, false).await;
    let main = app.sim.main_account_sids()[0].clone();
    let connect = app.sim.granted_sid(&main).unwrap();

    let resp = r.connect(&app, &main).await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        summary(&r.accounts().await),
        vec![(connect.clone(), connect, AccountStatus::Active)]
    );
    assert!(!app
        .sim
        .requests()
        .iter()
        .any(|q| q.path == "/2010-04-01/Accounts.json"));
}

#[tokio::test]
async fn forged_and_revoked_sids_are_refused_and_nothing_is_stored() {
    let (app, r) = connect_env(0, true).await;
    let forged = "AC0123456789abcdef0123456789abcdef";
    let revoked = app.sim.main_account_sids()[1].clone();
    app.sim.revoke(&revoked);

    for account in [forged, revoked.as_str()] {
        let state = r.begin().await;
        let resp = r
            .authorize(&format!("AccountSid={account}&state={state}"), Some(&state))
            .await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{account}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("Twilio did not confirm this authorization"));
        assert!(!html.contains(account), "the page does not echo the sid");
    }

    assert!(r.accounts().await.is_empty());
    assert!(r
        .metrics()
        .await
        .contains("callback=\"authorize\",outcome=\"not_granted\"} 2\n"));
}

#[tokio::test]
async fn malformed_sids_and_bad_states_are_400_before_the_api_is_asked() {
    let (app, r) = connect_env(0, true).await;
    let good = app.sim.main_account_sids()[0].clone();
    let state = r.begin().await;
    let cases: Vec<(String, Option<&str>)> = vec![
        // Malformed or missing sids.
        (
            format!("AccountSid=ACnot-a-sid&state={state}"),
            Some(&state),
        ),
        (
            format!("AccountSid=CN{}&state={state}", &good[2..]),
            Some(&state),
        ),
        (format!("state={state}"), Some(&state)),
        (
            format!("AccountSid={good}&AccountSid={good}&state={state}"),
            Some(&state),
        ),
        // State mismatch, missing state, missing cookie.
        (format!("AccountSid={good}&state=forged"), Some(&state)),
        (format!("AccountSid={good}"), Some(&state)),
        (format!("AccountSid={good}&state={state}"), None),
        (format!("AccountSid={good}&state="), Some("")),
    ];
    for (query, cookie) in &cases {
        let resp = r.authorize(query, *cookie).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{query} {cookie:?}");
    }

    assert!(r.accounts().await.is_empty());
    assert!(
        app.sim.requests().is_empty(),
        "nothing reached the API: {:?}",
        app.sim.requests()
    );
    let metrics = r.metrics().await;
    assert!(
        metrics.contains("outcome=\"bad_request\"} 4\n"),
        "{metrics}"
    );
    assert!(metrics.contains("outcome=\"bad_state\"} 4\n"), "{metrics}");
}

#[tokio::test]
async fn a_denied_authorization_shows_not_connected_and_stores_nothing() {
    let (app, r) = connect_env(2, true).await;
    let main = app.sim.main_account_sids()[0].clone();
    let state = r.begin().await;

    let location = consent(&app, &state, &main, "deny").await;
    let query = Url::parse(&location).unwrap().query().unwrap().to_owned();
    assert_eq!(query, "error=unauthorized_client");
    let resp = r.authorize(&query, Some(&state)).await;

    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Your Twilio account was not connected"));
    assert!(r.accounts().await.is_empty());
}

#[tokio::test]
async fn repeated_authorization_is_idempotent_and_reactivates_a_deauthorized_grant() {
    let (app, r) = connect_env(2, true).await;
    let main = app.sim.main_account_sids()[0].clone();
    let connect = app.sim.granted_sid(&main).unwrap();
    let cn = app.sim.config().connect_app_sid.clone();

    assert_eq!(r.connect(&app, &main).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.connect(&app, &main).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(summary(&r.accounts().await), tree(&app, &main));

    assert_eq!(
        r.deauthorize(&connect, &cn, true, Signing::Valid).await,
        200
    );
    app.sim.revoke(&connect);
    assert!(r
        .accounts()
        .await
        .iter()
        .all(|a| a.status == AccountStatus::Deauthorized));

    // Authorizing again restores the grant on Twilio's side and here.
    assert_eq!(r.connect(&app, &main).await.status(), StatusCode::SEE_OTHER);
    let accounts = r.accounts().await;
    assert_eq!(summary(&accounts), tree(&app, &main));
    assert!(accounts
        .iter()
        .all(|a| a.status_reason.is_none() && a.deauthorized_at.is_none()));
}

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
    assert!(r
        .accounts()
        .await
        .iter()
        .all(|a| a.status == AccountStatus::Active));

    let good = run(args(&["--method", "get"])).await;
    assert_success(&good);
    assert!(stdout(&good).contains("HTTP 200"));
    let accounts = r.accounts().await;
    assert_eq!(accounts.len(), 2);
    assert!(accounts
        .iter()
        .all(|a| a.status == AccountStatus::Deauthorized));
}

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
    let mut serve = tokio::process::Command::new(env!("CARGO_BIN_EXE_twilio-export"))
        .args(["serve", "--listen", "127.0.0.1:0", "--connect-app-sid", &cn])
        .env_clear()
        .env("DATABASE_URL", app.database_url())
        .env("TWILIO_API_BASE", &app.base)
        .env("TWILIO_CONNECT_BASE", &app.base)
        .env("TWILIO_AUTH_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let base = first
        .strip_prefix("Connect receiver on ")
        .unwrap()
        .to_owned();
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

/// A minimal WebDriver client (chromedriver from Debian's `chromium-driver`) over reqwest,
/// which the crate already has; a browser-automation crate would add much for five calls.
struct Browser {
    http: reqwest::Client,
    session: String,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// `None` (with a message) when Chromium is not installed, unless in CI, where it must be.
    async fn start() -> Option<Self> {
        let found = (find_program("chromium"), find_program("chromedriver"));
        let (Some(chromium), Some(chromedriver)) = found else {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !ci,
                "CI must have chromium and chromedriver (.ci/run installs them)"
            );
            eprintln!("SKIPPED browser_round_trip_connects_an_account: chromium or chromedriver is not installed (apt-get install chromium chromium-driver)");
            return None;
        };
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let driver = tokio::process::Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Browser {
            http: reqwest::Client::new(),
            session: format!("http://127.0.0.1:{port}"),
            driver,
            _profile: profile,
        };
        // Wait (at most 30 s) until the driver answers; a bound, not a timing assertion.
        let mut ready = false;
        for _ in 0..600 {
            if let Ok(resp) = browser
                .http
                .get(format!("{}/status", browser.session))
                .send()
                .await
            {
                if resp.status().is_success() {
                    ready = true;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "chromedriver did not start");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", browser._profile.path().display()),
                ],
            },
        }}});
        let created = browser
            .call(reqwest::Method::POST, "/session", Some(caps))
            .await;
        let id = created["sessionId"].as_str().unwrap().to_owned();
        browser.session = format!("{}/session/{id}", browser.session);
        Some(browser)
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let v: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        assert!(status.is_success(), "WebDriver {path}: {status} {v}");
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn current_url(&self) -> String {
        let v = self.call(reqwest::Method::GET, "/url", None).await;
        v.as_str().unwrap().to_owned()
    }

    /// The element matching `css`, waiting (at most 30 s) for a navigation to bring it.
    async fn wait_for(&self, css: &str) -> String {
        for _ in 0..600 {
            let resp = self
                .http
                .post(format!("{}/element", self.session))
                .header("content-type", "application/json")
                .body(json!({"using": "css selector", "value": css}).to_string())
                .send()
                .await
                .unwrap();
            if resp.status().is_success() {
                let v: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
                return v["value"][ELEMENT].as_str().unwrap().to_owned();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no element {css} on {}", self.current_url().await);
    }

    async fn click(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn text(&self, element: &str) -> String {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{element}/text"),
                None,
            )
            .await;
        v.as_str().unwrap().to_owned()
    }

    async fn quit(mut self) {
        self.call(reqwest::Method::DELETE, "", None).await;
        let _ = self.driver.kill().await;
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
