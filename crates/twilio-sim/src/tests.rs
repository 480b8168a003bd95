//! End-to-end tests of the simulator over real HTTP (server on 127.0.0.1:0, reqwest client).
//!
//! They check the behaviours clients depend on: auth failures, paging walks, day-filter edges,
//! page-token rejection, and agreement between the API and the ground-truth accessors. Pure
//! helpers are tested next to their code instead.

use std::collections::{BTreeSet, HashSet};

use chrono::{NaiveDate, TimeDelta};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{serve, Faults, SimConfig, Simulator};

const TODAY: &str = "2026-03-10";

fn day(s: &str) -> NaiveDate {
    s.parse().expect("valid date")
}

fn config(accounts: usize, days: u32, calls_per_day: u32) -> SimConfig {
    SimConfig {
        accounts,
        days,
        calls_per_day,
        today: day(TODAY),
        ..SimConfig::with_seed(42)
    }
}

struct Running {
    sim: Simulator,
    base: String,
    client: reqwest::Client,
    cancel: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

async fn start(cfg: SimConfig) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let sim = Simulator::new(cfg);
    let cancel = CancellationToken::new();
    let server = tokio::spawn(serve(listener, sim.clone(), cancel.clone()));
    Running {
        sim,
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        cancel,
        server,
    }
}

impl Running {
    /// GET `path_and_query` as `user` with the configured token.
    async fn get(&self, user: &str, path_and_query: &str) -> (u16, Value) {
        let token = self.sim.config().auth_token.clone();
        self.get_with(Some((user, token.as_str())), path_and_query)
            .await
    }

    async fn get_with(&self, auth: Option<(&str, &str)>, path_and_query: &str) -> (u16, Value) {
        let mut req = self.client.get(format!("{}{path_and_query}", self.base));
        if let Some((user, pass)) = auth {
            req = req.basic_auth(user, Some(pass));
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let ctype = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(ctype, "application/json", "{path_and_query}");
        let bytes = resp.bytes().await.expect("body");
        (status, serde_json::from_slice(&bytes).expect("json body"))
    }

    /// Follows `next_page_uri` from `first` and returns every record under `key`, checking the
    /// envelope bookkeeping on the way.
    async fn walk(&self, user: &str, first: &str, key: &str) -> (Vec<Value>, usize) {
        let mut out = Vec::new();
        let mut next = Some(first.to_owned());
        let mut pages = 0;
        while let Some(uri) = next {
            let (status, body) = self.get(user, &uri).await;
            assert_eq!(status, 200, "{uri}: {body}");
            assert_eq!(body["page"], pages);
            let size = body["page_size"].as_u64().expect("page_size") as usize;
            let records = body[key].as_array().expect("records").clone();
            assert_eq!(body["start"], pages * size);
            if pages == 0 {
                assert!(body["previous_page_uri"].is_null());
            } else {
                assert!(body["previous_page_uri"].is_string());
            }
            assert!(records.len() <= size);
            out.extend(records);
            next = body["next_page_uri"].as_str().map(str::to_owned);
            pages += 1;
            assert!(pages < 10_000, "runaway paging");
        }
        (out, pages)
    }

    async fn stop(self) {
        self.cancel.cancel();
        self.server
            .await
            .expect("server task")
            .expect("server result");
    }
}

fn sids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["sid"].as_str().expect("sid").to_owned())
        .collect()
}

fn calls_path(account: &str) -> String {
    format!("/2010-04-01/Accounts/{account}/Calls.json")
}

#[tokio::test]
async fn auth_failures_answer_twilio_401_body() {
    let app = start(config(2, 2, 5)).await;
    let [a, b] = <[String; 2]>::try_from(app.sim.account_sids()).expect("two accounts");
    let expected = json!({
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401
    });
    let path = calls_path(&a);
    for auth in [
        None,
        Some((a.as_str(), "wrong-token")),
        Some(("ACnobody", "sim-auth-token")),
    ] {
        let (status, body) = app.get_with(auth, &path).await;
        assert_eq!(status, 401);
        assert_eq!(body, expected);
    }
    // Another connected account's valid credential cannot read this one.
    let (status, body) = app.get(&b, &path).await;
    assert_eq!((status, &body), (401, &expected));
    // A valid credential and an unknown account in the path: 404.
    let ghost = format!("AC{}", "0".repeat(32));
    let (status, body) = app.get(&a, &calls_path(&ghost)).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], 20404);
    // Revocation takes effect immediately and only for that account.
    assert_eq!(app.get(&a, &path).await.0, 200);
    app.sim.revoke(&a);
    assert_eq!(app.get(&a, &path).await, (401, expected.clone()));
    assert_eq!(app.get(&b, &calls_path(&b)).await.0, 200);

    let log = app.sim.requests();
    assert_eq!(log.len(), 8);
    assert_eq!(log[0].username, None);
    assert_eq!(log[1].username.as_deref(), Some(a.as_str()));
    assert_eq!(log[0].path, path);
    assert_eq!(
        log.iter().map(|r| r.status).collect::<Vec<_>>(),
        [401, 401, 401, 401, 404, 200, 401, 200]
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_paths_answer_twilio_404_body() {
    let app = start(config(1, 1, 5)).await;
    let a = app.sim.account_sids()[0].clone();
    for path in [
        format!("/2010-04-01/Accounts/{a}/Calls"),
        format!("/2010-04-01/Accounts/{a}/Messages.json"),
        format!("/2010-04-01/Accounts/{a}/Calls/CA{}.json", "f".repeat(32)),
        format!(
            "/2010-04-01/Accounts/{a}/AuthorizedConnectApps/CN{}.json",
            "0".repeat(32)
        ),
        "/2010-04-01/Nope.json".to_owned(),
    ] {
        let (status, body) = app.get(&a, &path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["code"], 20404);
        assert_eq!(body["status"], 404);
        assert_eq!(
            body["message"],
            format!("The requested resource {path} was not found")
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn paging_walk_returns_each_call_of_a_day_once() {
    let app = start(config(1, 3, 150)).await;
    let a = app.sim.account_sids()[0].clone();
    let d = day(TODAY) - TimeDelta::days(1);
    let truth = app.sim.calls_on(&a, d);
    assert!(truth.len() > 30, "want several pages, got {}", truth.len());
    let first = format!(
        "{}?StartTime%3E={d}&StartTime%3C={}&PageSize=10",
        calls_path(&a),
        d + TimeDelta::days(1)
    );
    let (calls, pages) = app.walk(&a, &first, "calls").await;
    assert_eq!(pages, truth.len().div_ceil(10));
    // Same objects, same (newest-first) order, each exactly once.
    assert_eq!(calls, truth);
    let unique: HashSet<String> = sids(&calls).into_iter().collect();
    assert_eq!(unique.len(), calls.len());

    // Links repeat the caller's filters verbatim and carry a PA<sid> token.
    let (_, page0) = app.get(&a, &first).await;
    let next = page0["next_page_uri"].as_str().expect("next");
    let last_sid = page0["calls"][9]["sid"].as_str().expect("sid");
    assert_eq!(
        next,
        format!(
            "{}?StartTime%3E={d}&StartTime%3C={}&PageSize=10&Page=1&PageToken=PA{last_sid}",
            calls_path(&a),
            d + TimeDelta::days(1)
        )
    );
    // The previous link of page 1 leads back to page 0.
    let (_, page1) = app.get(&a, next).await;
    let prev = page1["previous_page_uri"].as_str().expect("prev");
    let (_, back) = app.get(&a, prev).await;
    assert_eq!(back["calls"], page0["calls"]);
    app.stop().await;
}

#[tokio::test]
async fn unfiltered_walk_matches_ground_truth_and_covers_variety() {
    let app = start(config(3, 7, 40)).await;
    let mut statuses = BTreeSet::new();
    let mut directions = BTreeSet::new();
    let mut durations = BTreeSet::new();
    let (mut unpriced, mut children, mut unicode_names, mut no_start) = (0, 0, 0, 0);
    for a in app.sim.account_sids() {
        let (calls, _) = app
            .walk(&a, &format!("{}?PageSize=1000", calls_path(&a)), "calls")
            .await;
        let mut truth: Vec<Value> = Vec::new();
        let mut d = day(TODAY);
        while d > day(TODAY) - TimeDelta::days(7) {
            truth.extend(app.sim.calls_on(&a, d));
            d -= TimeDelta::days(1);
        }
        let started: Vec<Value> = calls
            .iter()
            .filter(|c| !c["start_time"].is_null())
            .cloned()
            .collect();
        assert_eq!(started, truth);
        let all_sids: HashSet<String> = sids(&calls).into_iter().collect();
        for c in &calls {
            statuses.insert(c["status"].as_str().expect("status").to_owned());
            directions.insert(c["direction"].as_str().expect("direction").to_owned());
            durations.insert(c["duration"].to_string());
            unpriced += usize::from(c["price"].is_null());
            no_start += usize::from(c["start_time"].is_null());
            if let Some(p) = c["parent_call_sid"].as_str() {
                children += 1;
                assert!(
                    all_sids.contains(p),
                    "parent of a child leg is a call of the account"
                );
            }
            if c["caller_name"].as_str().is_some_and(|n| !n.is_ascii()) {
                unicode_names += 1;
            }
            assert_eq!(c["subresource_uris"].as_object().expect("map").len(), 9);
            // Fetching one call serves the identical object.
            if c["sid"].as_str().is_some_and(|s| s.ends_with('0')) {
                let (status, one) = app.get(&a, c["uri"].as_str().expect("uri")).await;
                assert_eq!((status, &one), (200, c));
            }
        }
    }
    assert_eq!(statuses.len(), 8, "{statuses:?}");
    assert_eq!(directions.len(), 5, "{directions:?}");
    for d in ["null", "\"\"", "\"0\""] {
        assert!(durations.contains(d), "duration {d} missing");
    }
    assert!(unpriced > 0 && children > 0 && unicode_names > 0 && no_start > 0);
    app.stop().await;
}

#[tokio::test]
async fn start_time_filters_have_whole_day_semantics_at_the_edges() {
    let app = start(config(3, 7, 40)).await;
    // Find a day whose calls include both edges, with a 23:59:59 call the day before.
    let mut found = None;
    'search: for a in app.sim.account_sids() {
        for back in 1..6 {
            let d = day(TODAY) - TimeDelta::days(back);
            let at = |day: NaiveDate, hms: &str| {
                app.sim.calls_on(&a, day).into_iter().find(|c| {
                    c["start_time"]
                        .as_str()
                        .is_some_and(|s| s.ends_with(&format!("{hms} +0000")))
                })
            };
            if let (Some(first), Some(_), Some(prev_last)) = (
                at(d, "00:00:00"),
                at(d, "23:59:59"),
                at(d - TimeDelta::days(1), "23:59:59"),
            ) {
                found = Some((a.clone(), d, first, prev_last));
                break 'search;
            }
        }
    }
    let (a, d, first, prev_last) = found.expect("seed 42 has edge calls on adjacent days");
    let next = d + TimeDelta::days(1);
    let query = |q: String| {
        let app = &app;
        let a = a.clone();
        async move {
            let (status, body) = app
                .get(&a, &format!("{}?{q}&PageSize=1000", calls_path(&a)))
                .await;
            assert_eq!(status, 200, "{q}: {body}");
            sids(body["calls"].as_array().expect("calls"))
        }
    };
    let truth = sids(&app.sim.calls_on(&a, d));
    assert_eq!(
        query(format!("StartTime%3E={d}&StartTime%3C={next}")).await,
        truth
    );
    assert_eq!(query(format!("StartTime={d}")).await, truth);
    let sid = |c: &Value| c["sid"].as_str().expect("sid").to_owned();
    let from_d = query(format!("StartTime%3E={d}")).await;
    assert!(from_d.contains(&sid(&first)));
    assert!(!from_d.contains(&sid(&prev_last)));
    let before_d = query(format!("StartTime%3C={d}")).await;
    assert!(!before_d.contains(&sid(&first)));
    assert!(before_d.contains(&sid(&prev_last)));
    // The SDKs' instant form compares at that instant.
    let instant = query(format!(
        "StartTime%3E={d}T00:00:00Z&StartTime%3C={d}T00:00:01Z"
    ))
    .await;
    assert!(instant.contains(&sid(&first)));
    assert!(instant.iter().all(|s| truth.contains(s)));
    // Other filters combine with the day.
    let status = first["status"].as_str().expect("status");
    let by_status = query(format!("StartTime={d}&Status={status}")).await;
    assert!(by_status.contains(&sid(&first)));
    assert!(by_status.len() <= truth.len());
    app.stop().await;
}

#[tokio::test]
async fn legacy_raw_operator_spelling_is_understood() {
    let app = start(config(1, 3, 40)).await;
    let a = app.sim.account_sids()[0].clone();
    let d = day(TODAY) - TimeDelta::days(1);
    let next = d + TimeDelta::days(1);
    // reqwest would percent-encode `>`; send the raw spelling by hand.
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let auth = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("{a}:sim-auth-token"))
    };
    let request = format!(
        "GET {}?StartTime>={d}&StartTime<={next}&PageSize=1000 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n",
        calls_path(&a)
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8(raw).expect("utf8");
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let body: Value = serde_json::from_str(body).expect("json (no chunking for small bodies)");
    assert_eq!(
        sids(body["calls"].as_array().expect("calls")),
        sids(&app.sim.calls_on(&a, d))
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_page_tokens_answer_21481() {
    let app = start(config(2, 2, 20)).await;
    let sids_ = app.sim.account_sids();
    let a = &sids_[0];
    let other_call = app.sim.calls_on(&sids_[1], day(TODAY))[0]["sid"]
        .as_str()
        .expect("sid")
        .to_owned();
    let usage = format!("/2010-04-01/Accounts/{a}/Usage/Records/Daily.json");
    for uri in [
        format!("{}?PageSize=5&Page=1&PageToken=PAbogus", calls_path(a)),
        format!(
            "{}?PageSize=5&Page=1&PageToken=PA{other_call}",
            calls_path(a)
        ),
        format!("{}?PageSize=5&Page=1&PageToken=CA123", calls_path(a)),
        format!("{usage}?PageSize=5&Page=1&PageToken=PAbogus"),
        format!("{usage}?PageSize=5&Page=1&PageToken=PAMTA6MDAwMDAwMDA%3D"),
    ] {
        let (status, body) = app.get(a, &uri).await;
        assert_eq!(status, 400, "{uri}");
        assert_eq!(body["code"], 21481, "{uri}");
        assert_eq!(body["status"], 400);
    }
    let (status, body) = app.get(a, &format!("{}?PageSize=abc", calls_path(a))).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], 20001);
    app.stop().await;
}

/// A call's charge in 1/10000 USD (a positive magnitude), `None` if it has no price.
fn price_of(call: &Value) -> Option<i64> {
    match &call["price"] {
        Value::String(p) => {
            let (i, f) = p
                .trim_start_matches('-')
                .split_once('.')
                .expect("4 decimals");
            Some(i.parse::<i64>().expect("int") * 10_000 + f.parse::<i64>().expect("frac"))
        }
        // Trunk calls: a double, within rounding of four decimals.
        Value::Number(n) => Some((n.as_f64().expect("f64").abs() * 1e4).round() as i64),
        _ => None,
    }
}

#[tokio::test]
async fn daily_usage_calls_agree_with_the_calls_list() {
    let app = start(config(2, 5, 40)).await;
    for a in app.sim.account_sids() {
        let mut total_count = 0u64;
        for back in 0..5 {
            let d = day(TODAY) - TimeDelta::days(back);
            let uri = format!(
                "/2010-04-01/Accounts/{a}/Usage/Records/Daily.json?Category=calls&StartDate={d}&EndDate={d}&IncludeSubaccounts=false"
            );
            let (status, body) = app.get(&a, &uri).await;
            assert_eq!(status, 200, "{body}");
            let records = body["usage_records"].as_array().expect("records");
            assert_eq!(records.len(), 1);
            let rec = &records[0];
            let calls = app.sim.calls_on(&a, d);
            assert_eq!(rec["count"], calls.len().to_string());
            let minutes: u64 = calls
                .iter()
                .filter_map(|c| c["duration"].as_str()?.parse::<u64>().ok())
                .map(|s| s.div_ceil(60))
                .sum();
            assert_eq!(rec["usage"], minutes.to_string());
            let price: i64 = calls.iter().filter_map(price_of).sum();
            let expected_price = if price == 0 {
                "0".to_owned()
            } else {
                format!("{}.{:04}", price / 10_000, price % 10_000)
            };
            assert_eq!(rec["price"], expected_price);
            assert_eq!(rec["start_date"], d.to_string());
            assert_eq!(rec["price_unit"], "usd");
            let truth = app.sim.daily_usage_on(&a, d);
            assert!(truth.contains(rec));
            total_count += calls.len() as u64;
        }
        // Aggregates are exact sums of the days.
        let (_, all) = app
            .get(
                &a,
                &format!("/2010-04-01/Accounts/{a}/Usage/Records/AllTime.json?Category=calls"),
            )
            .await;
        assert_eq!(all["usage_records"][0]["count"], total_count.to_string());
        let (_, monthly) = app
            .get(
                &a,
                &format!("/2010-04-01/Accounts/{a}/Usage/Records/Monthly.json?Category=calls"),
            )
            .await;
        let summed: u64 = monthly["usage_records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| {
                r["count"]
                    .as_str()
                    .expect("count")
                    .parse::<u64>()
                    .expect("n")
            })
            .sum();
        assert_eq!(summed, total_count);
    }
    app.stop().await;
}

#[tokio::test]
async fn usage_paging_walk_matches_daily_ground_truth() {
    let app = start(config(1, 3, 20)).await;
    let a = app.sim.account_sids()[0].clone();
    let first =
        format!("/2010-04-01/Accounts/{a}/Usage/Records/Daily.json?StartDate=-2days&PageSize=17");
    let (records, _) = app.walk(&a, &first, "usage_records").await;
    let mut truth = Vec::new();
    for back in (0..3).rev() {
        truth.extend(
            app.sim
                .daily_usage_on(&a, day(TODAY) - TimeDelta::days(back)),
        );
    }
    assert_eq!(records, truth);
    let categories: HashSet<&str> = truth
        .iter()
        .filter_map(|r| r["category"].as_str())
        .collect();
    for c in [
        "calls",
        "calls-inbound",
        "calls-outbound",
        "totalprice",
        "sms",
        "Usage-RCS-Messages",
    ] {
        assert!(categories.contains(c), "{c}");
    }
    let total = truth
        .iter()
        .find(|r| r["category"] == "totalprice")
        .expect("totalprice");
    assert_eq!(total["usage"], total["price"]);
    assert!(total["count"].is_null());
    assert_eq!(total["count_unit"], "");
    assert!(truth.iter().any(|r| r["usage"]
        .as_str()
        .is_some_and(|u| u.len() > 10 && u.contains('.'))));
    app.stop().await;
}

#[tokio::test]
async fn accounts_and_connect_apps_have_twilio_shapes() {
    let app = start(config(2, 1, 5)).await;
    let a = app.sim.account_sids()[0].clone();
    let cn = app.sim.config().connect_app_sid.clone();
    let (status, list) = app.get(&a, "/2010-04-01/Accounts.json").await;
    assert_eq!(status, 200);
    let accounts = list["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["sid"], a.as_str());
    assert_eq!(accounts[0]["owner_account_sid"], a.as_str());
    assert!(accounts[0]["auth_token"].is_string());
    let (_, one) = app.get(&a, &format!("/2010-04-01/Accounts/{a}.json")).await;
    assert_eq!(&one, &accounts[0]);
    let (_, apps) = app
        .get(
            &a,
            &format!("/2010-04-01/Accounts/{a}/AuthorizedConnectApps.json"),
        )
        .await;
    let listed = &apps["authorized_connect_apps"][0];
    assert_eq!(listed["connect_app_sid"], cn.as_str());
    assert_eq!(listed["permissions"], json!(["get-all"]));
    let (status, fetched) = app.get(&a, listed["uri"].as_str().expect("uri")).await;
    assert_eq!((status, &fetched), (200, listed));
    assert!(cn.starts_with("CN") && cn.len() == 34);
    app.stop().await;
}

#[test]
fn same_seed_same_data_different_seed_different_data() {
    let a = Simulator::new(config(2, 3, 30));
    let b = Simulator::new(config(2, 3, 30));
    let c = Simulator::new(SimConfig {
        seed: 7,
        ..config(2, 3, 30)
    });
    assert_eq!(a.account_sids(), b.account_sids());
    assert_ne!(a.account_sids(), c.account_sids());
    let sid = &a.account_sids()[1];
    assert_eq!(a.calls_on(sid, day(TODAY)), b.calls_on(sid, day(TODAY)));
    assert_eq!(
        a.daily_usage_on(sid, day(TODAY)),
        b.daily_usage_on(sid, day(TODAY))
    );
    assert!(a.calls_on(sid, day(TODAY) + TimeDelta::days(1)).is_empty());
    assert!(a.calls_on("ACunknown", day(TODAY)).is_empty());
    assert!(!format!("{:?}", a.config()).contains("sim-auth-token"));
}

/// Faults follow each account's own sequence of requests: the same requests of one account
/// meet the same faults whether or not another account's requests come in between.
#[tokio::test]
async fn faults_of_an_account_do_not_depend_on_other_accounts_requests() {
    let faults = Faults {
        server_error: 0.25,
        dropped_connection: 0.15,
        truncated_body: 0.15,
        ..Faults::default()
    };
    let mine = |a: &str| {
        let list = format!("{}?StartTime=2026-03-09&PageSize=5", calls_path(a));
        vec![
            list.clone(),
            list.clone(),
            format!("/2010-04-01/Accounts/{a}.json"),
            list.clone(),
            format!("/2010-04-01/Accounts/{a}/Usage/Records/Daily.json"),
            list,
        ]
    };
    let mut seen = Vec::new();
    for interleaved in [false, true] {
        let app = start(SimConfig {
            faults: faults.clone(),
            ..config(2, 3, 30)
        })
        .await;
        let (a, b) = (
            app.sim.account_sids()[0].clone(),
            app.sim.account_sids()[1].clone(),
        );
        let mut outcomes = Vec::new();
        for (i, uri) in mine(&a).iter().enumerate() {
            if interleaved {
                // The other account's requests, some to paths like ours.
                app.outcome(&b, &mine(&b)[i]).await;
                app.outcome(&b, &mine(&b)[0]).await;
            }
            outcomes.push(app.outcome(&a, uri).await);
        }
        app.stop().await;
        seen.push(outcomes);
    }
    assert_eq!(seen[0], seen[1]);
    assert!(
        seen[0].iter().any(|o| o.0 == 200 && o.1 == "whole"),
        "{seen:?}"
    );
    assert!(
        seen[0].iter().any(|o| o.0 != 200 || o.1 != "whole"),
        "{seen:?}"
    );
}

impl Running {
    /// The status of a GET as `user` (0 if none arrived), and whether its body arrived whole
    /// as JSON, was cut short or broke off.
    async fn outcome(&self, user: &str, path_and_query: &str) -> (u16, &'static str) {
        let token = self.sim.config().auth_token.clone();
        // A new connection each time: one a dropped body broke is never reused.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        let sent = client
            .get(format!("{}{path_and_query}", self.base))
            .basic_auth(user, Some(token))
            .send()
            .await;
        // A dropped connection may break before the head is flushed.
        let Ok(resp) = sent else {
            return (0, "broken");
        };
        let status = resp.status().as_u16();
        let body = match resp.bytes().await {
            Ok(b) if serde_json::from_slice::<Value>(&b).is_ok() => "whole",
            Ok(_) => "cut",
            Err(_) => "broken",
        };
        (status, body)
    }
}
