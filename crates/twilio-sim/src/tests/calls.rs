//! The Calls list: authentication, unknown paths, paging walks, day filters, page tokens.

use std::collections::{BTreeSet, HashSet};

use chrono::{NaiveDate, TimeDelta};
use serde_json::{json, Value};

use super::*;

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

#[tokio::test]
async fn a_late_call_comes_on_the_last_page_instead_of_the_first() {
    let app = start(SimConfig {
        late_call: true,
        ..config(1, 2, 40)
    })
    .await;
    let a = app.sim.account_sids()[0].clone();
    let d = day(TODAY) - TimeDelta::days(1);
    let truth = app.sim.calls_on(&a, d);
    // Pages of a size the day's calls do not fill exactly, so the last has room.
    let size = (7..10)
        .find(|s| !truth.len().is_multiple_of(*s))
        .expect("a size");
    assert!(
        truth.len() > 2 * size,
        "want several pages, got {}",
        truth.len()
    );
    let first = format!(
        "{}?StartTime%3E={d}&StartTime%3C={}&PageSize={size}",
        calls_path(&a),
        d + TimeDelta::days(1)
    );
    let (calls, pages) = app.walk(&a, &first, "calls").await;
    assert_eq!(pages, truth.len().div_ceil(size));
    let mut want = truth.clone();
    let late = want.remove(1);
    want.push(late);
    assert_eq!(calls, want, "the second-newest call last, every call once");
    app.stop().await;
}
