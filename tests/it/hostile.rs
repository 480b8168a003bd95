//! A hostile API: redirects, links and records of other accounts, link loops, endless pages,
//! gzip bombs and oversized pages. Each fails its windows with a message saying what happened,
//! and the partitions an honest run wrote before stay exactly as they were. Also what an honest
//! API may do that looks alike: records of the day after a window (`StartTime<` read as
//! inclusive) and a page token that stops being taken.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Uri};
use axum::response::IntoResponse;
use twilio_sim::{Faults, Hostile, SimConfig, Simulator};

use crate::support::*;

const DAY: &str = "2026-02-28";

/// The partitions an honest run exported, before a hostile one.
struct Exported {
    app: TestApp,
    files: BTreeMap<String, Vec<u8>>,
    /// The accounts with a partition (those registered and active).
    accounts: Vec<String>,
}

impl Exported {
    /// Registers `accounts` (all when empty) and exports `resource` for [`DAY`] honestly.
    async fn new(cfg: SimConfig, resource: &str, accounts: &[String]) -> Self {
        let app = spawn_app(cfg).await;
        if accounts.is_empty() {
            app.add_all_accounts().await;
        } else {
            let mut args = vec!["accounts", "add"];
            args.extend(accounts.iter().map(String::as_str));
            assert_success(&app.cli(&args).await);
        }
        assert_success(&app.cli(&backfill(resource, DAY, DAY)).await);
        let files = Self::read(&app);
        let accounts: Vec<String> = files
            .keys()
            .filter_map(|f| f.split("account_sid=").nth(1)?.split('/').next())
            .map(str::to_owned)
            .collect();
        assert!(accounts.len() >= 2, "{:?}", files.keys());
        Exported {
            app,
            files,
            accounts,
        }
    }

    fn read(app: &TestApp) -> BTreeMap<String, Vec<u8>> {
        files_below(&app.output())
            .into_iter()
            .map(|f| {
                let bytes = std::fs::read(app.output().join(&f)).unwrap();
                (f, bytes)
            })
            .collect()
    }

    /// Runs the same backfill against `base`; every window must fail (exit 1) and leave its
    /// partition as it was. Returns stdout.
    async fn rerun_against(&self, base: &str, resource: &str) -> String {
        let out = self
            .app
            .cli_with(&backfill(resource, DAY, DAY), &[("TWILIO_API_BASE", base)])
            .await;
        assert_eq!(
            out.status.code(),
            Some(1),
            "stdout:\n{}\nstderr:\n{}",
            stdout(&out),
            stderr(&out)
        );
        assert_eq!(Self::read(&self.app), self.files, "a partition changed");
        stdout(&out)
    }
}

/// The failure line of one account's window (`    {resource} {account} {day}: {error}`).
fn failure_of<'a>(out: &'a str, account: &str) -> &'a str {
    out.lines()
        .find(|l| l.trim_start().split(' ').nth(1) == Some(account) && l.contains(DAY))
        .unwrap_or_else(|| panic!("no failure for {account} in:\n{out}"))
}

/// Serves `router` on a port of its own for the rest of the test; its base URL.
async fn serve_router(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

/// A server answering every list with one page of `records(account)` under `key`.
async fn one_page_of<F>(key: &'static str, records: F) -> String
where
    F: Fn(&str) -> Vec<serde_json::Value> + Clone + Send + Sync + 'static,
{
    serve_router(axum::Router::new().fallback(move |uri: Uri| {
        let records = records.clone();
        async move {
            let account = uri.path().split('/').nth(3).unwrap_or_default().to_owned();
            axum::Json(serde_json::json!({key: records(&account), "next_page_uri": null}))
        }
    }))
    .await
}

/// The same simulator, misbehaving.
async fn hostile(cfg: &SimConfig, mode: Hostile) -> TestApp {
    spawn_app(SimConfig {
        faults: Faults {
            hostile: Some(mode),
            ..Faults::default()
        },
        ..cfg.clone()
    })
    .await
}

/// Requests the simulator got for `account`'s lists.
fn list_requests(app: &TestApp, account: &str) -> usize {
    app.sim
        .requests()
        .iter()
        .filter(|r| {
            r.path
                .starts_with(&format!("/2010-04-01/Accounts/{account}/"))
        })
        .count()
}

/// Another host that answers every request with an empty page and notes who asked, and
/// whether with credentials.
async fn elsewhere() -> (String, Arc<Mutex<Vec<(String, bool)>>>) {
    let seen: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let log = seen.clone();
    let router = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
        let log = log.clone();
        async move {
            let auth = headers.contains_key(axum::http::header::AUTHORIZATION);
            log.lock().unwrap().push((uri.to_string(), auth));
            axum::Json(serde_json::json!({"calls": [], "usage_records": [], "next_page_uri": null}))
        }
    });
    let base = serve_router(router).await;
    (base, seen)
}

#[tokio::test]
async fn a_redirect_is_never_followed_and_fails_the_window_naming_its_location() {
    let cfg = small_sim();
    let before = Exported::new(cfg.clone(), "calls", &[]).await;
    let (other, seen) = elsewhere().await;
    let evil = hostile(&cfg, Hostile::RedirectTo(other.clone())).await;

    let out = before.rerun_against(&evil.base, "calls").await;

    for account in &before.accounts {
        let line = failure_of(&out, account);
        assert!(line.contains("HTTP 302"), "{line}");
        assert!(
            line.contains(&format!("{other}/2010-04-01/Accounts/{account}/Calls.json")),
            "{line}"
        );
        assert!(line.contains("redirects are not followed"), "{line}");
    }
    // The other host was never asked, with or without our credentials; the API base was.
    assert_eq!(*seen.lock().unwrap(), Vec::<(String, bool)>::new());
    assert!(evil.sim.requests().iter().all(|r| r.username.is_some()));
}

#[tokio::test]
async fn a_link_to_another_accounts_list_is_not_followed() {
    // Each Connect subaccount can read its parent: a link there would be answered.
    let cfg = SimConfig {
        subaccounts: 1,
        ..small_sim()
    };
    let sim = Simulator::new(cfg.clone());
    let mains = sim.main_account_sids();
    let grants: Vec<String> = mains.iter().map(|m| sim.granted_sid(m).unwrap()).collect();
    let before = Exported::new(cfg.clone(), "calls", &grants).await;
    let evil = hostile(&cfg, Hostile::ForeignLink).await;

    let out = before.rerun_against(&evil.base, "calls").await;

    for (main, grant) in mains.iter().zip(&grants) {
        let line = failure_of(&out, grant);
        assert!(
            line.contains(&format!("/2010-04-01/Accounts/{main}/Calls.json")),
            "{line}"
        );
        assert!(
            line.contains(&format!(
                "leaves the list /2010-04-01/Accounts/{grant}/Calls.json"
            )),
            "{line}"
        );
        assert_eq!(list_requests(&evil, main), 0, "{main}'s list was requested");
    }
}

#[tokio::test]
async fn a_record_of_another_account_fails_the_window_naming_both() {
    let cfg = small_sim();
    let before = Exported::new(cfg.clone(), "calls", &[]).await;
    let evil = hostile(&cfg, Hostile::ForeignRecord).await;

    let out = before.rerun_against(&evil.base, "calls").await;

    let sids = evil.sim.account_sids();
    for account in &before.accounts {
        // The simulator plants the next account's sid (flat accounts read only themselves).
        let i = sids.iter().position(|s| s == account).unwrap();
        let other = &sids[(i + 1) % sids.len()];
        let line = failure_of(&out, account);
        assert!(
            line.contains(&format!(
                "a record of account {other} in the list of {account}"
            )),
            "{line}"
        );
    }
}

#[tokio::test]
async fn the_same_page_link_again_fails_the_window() {
    let cfg = small_sim();
    let before = Exported::new(cfg.clone(), "calls", &[]).await;
    let evil = hostile(&cfg, Hostile::LinkLoop).await;

    let out = before.rerun_against(&evil.base, "calls").await;

    for account in &before.accounts {
        let line = failure_of(&out, account);
        assert!(
            line.contains("came back; the list would never end"),
            "{line}"
        );
        // The first page, then its own link once; the second time it is refused.
        assert_eq!(list_requests(&evil, account), 2);
    }
}

#[tokio::test]
async fn pages_without_end_stop_at_what_a_day_can_hold() {
    let cfg = small_sim();
    let before = Exported::new(cfg.clone(), "usage-records", &[]).await;
    let evil = hostile(&cfg, Hostile::EndlessPages).await;

    let out = before.rerun_against(&evil.base, "usage-records").await;

    for account in &before.accounts {
        let line = failure_of(&out, account);
        // 10,000 usage records a day at 1000 a page, plus the last (empty) page.
        assert!(line.contains("more than 11 pages"), "{line}");
        assert_eq!(list_requests(&evil, account), 11);
    }
}

#[tokio::test]
async fn a_gzip_bomb_stops_at_the_body_cap() {
    let cfg = small_sim();
    let before = Exported::new(cfg.clone(), "calls", &[]).await;
    // 256 MiB inflated from about 256 KiB sent; the exporter stops reading at 64 MiB.
    let evil = hostile(&cfg, Hostile::GzipBomb { inflated_mib: 256 }).await;

    let out = before.rerun_against(&evil.base, "calls").await;

    for account in &before.accounts {
        let line = failure_of(&out, account);
        assert!(
            line.contains("the response body is larger than 64 MiB"),
            "{line}"
        );
        // Final: not fetched again.
        assert_eq!(list_requests(&evil, account), 1);
    }
}

#[tokio::test]
async fn a_page_with_more_records_than_asked_for_fails_the_window() {
    let cfg = small_sim();
    let before = Exported::new(cfg.clone(), "calls", &[]).await;
    let evil = hostile(&cfg, Hostile::OversizedPage).await;

    let out = before.rerun_against(&evil.base, "calls").await;

    for account in &before.accounts {
        let line = failure_of(&out, account);
        assert!(
            line.contains("a page holds more than the 1000 records asked for"),
            "{line}"
        );
        assert_eq!(list_requests(&evil, account), 1);
    }
}

/// A server that answers a day with records of another day only (or without a day): not what
/// Twilio's filter gives. The window fails; the day's partition is not emptied.
#[tokio::test]
async fn records_of_other_days_only_leave_the_partition_as_it_was() {
    let cfg = small_sim();
    let before = Exported::new(cfg.clone(), "calls", &[]).await;
    let sim = before.app.sim.clone();
    let base = one_page_of("calls", move |account| {
        let calls = sim.calls_on(account, day(DAY)).into_iter().enumerate();
        calls
            .map(|(i, mut call)| {
                call["start_time"] = if i % 2 == 0 {
                    "Fri, 27 Feb 2026 10:00:00 +0000".into()
                } else {
                    serde_json::Value::Null
                };
                call
            })
            .collect()
    })
    .await;

    let out = before.rerun_against(&base, "calls").await;

    for account in &before.accounts {
        let line = failure_of(&out, account);
        assert!(line.contains("none on the requested days"), "{line}");
    }
}

/// A server that reads `StartTime<` as inclusive (of the next day's midnight, or of the whole
/// next day) answers a day without calls with records of the day after alone: the day is
/// empty, not failed, and those records are counted as left out.
#[tokio::test]
async fn records_of_the_day_after_alone_leave_the_day_empty() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let sim = app.sim.clone();
    let base = one_page_of("calls", move |account| {
        let calls = sim.calls_on(account, day(DAY)).into_iter().enumerate();
        calls
            .map(|(i, mut call)| {
                call["start_time"] = if i % 2 == 0 {
                    "Sun, 01 Mar 2026 00:00:00 +0000".into()
                } else {
                    "Sun, 01 Mar 2026 10:00:00 +0000".into()
                };
                call
            })
            .collect()
    })
    .await;

    let out = app
        .cli_with(&backfill("calls", DAY, DAY), &[("TWILIO_API_BASE", &base)])
        .await;

    assert_success(&out);
    let text = stdout(&out);
    assert!(text.contains(": 0 rows in 0 files"), "{text}");
    assert!(
        text.contains("records outside the days asked for"),
        "{text}"
    );
    assert_eq!(files_below(&app.output()), Vec::<String>::new());
}

/// Usage records of the day after alone are no reading of `StartDate`/`EndDate` (both
/// inclusive): the window fails and the day's partition stays as it was.
#[tokio::test]
async fn usage_records_of_the_day_after_alone_leave_the_partition_as_it_was() {
    let before = Exported::new(small_sim(), "usage-records", &[]).await;
    let sim = before.app.sim.clone();
    let base = one_page_of("usage_records", move |account| {
        let records = sim.daily_usage_on(account, day(DAY)).into_iter();
        records
            .map(|mut record| {
                record["start_date"] = "2026-03-01".into();
                record["end_date"] = "2026-03-01".into();
                record
            })
            .collect()
    })
    .await;

    let out = before.rerun_against(&base, "usage-records").await;

    for account in &before.accounts {
        let line = failure_of(&out, account);
        assert!(line.contains("none on the requested days"), "{line}");
    }
}

/// A page token the API stops taking mid-list (400, code 21481, as a token that expired would
/// get): the window is read again from its first page, and every call is exported once, what
/// the first reading read dropped. A token refused again fails the window.
#[tokio::test]
async fn a_page_token_no_longer_taken_reads_the_window_again_from_its_first_page() {
    let cfg = SimConfig {
        accounts: 1,
        days: 2,
        calls_per_day: 2500,
        ..small_sim()
    };
    let app = spawn_app(cfg).await;
    app.add_all_accounts().await;
    let (sim_base, refused) = (app.base.clone(), Arc::new(Mutex::new(Vec::<String>::new())));
    let seen = refused.clone();
    let always = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let refuse_every_token = always.clone();
    let client = reqwest::Client::new();
    let router = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
        let (client, sim_base, refused) = (client.clone(), sim_base.clone(), refused.clone());
        let always = always.load(std::sync::atomic::Ordering::SeqCst);
        async move {
            let query = uri.query().unwrap_or_default().to_owned();
            if query.contains("PageToken") && (always || refused.lock().unwrap().is_empty()) {
                refused.lock().unwrap().push(uri.to_string());
                let body = serde_json::json!({"code": 21481, "message": "Invalid PageToken", "status": 400});
                return (axum::http::StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
            }
            let answer = client
                .get(format!("{sim_base}{uri}"))
                .header("authorization", headers["authorization"].clone())
                .send()
                .await
                .unwrap();
            let status = axum::http::StatusCode::from_u16(answer.status().as_u16()).unwrap();
            (status, answer.bytes().await.unwrap()).into_response()
        }
    });
    let base = serve_router(router).await;

    let (first, last) = ("2026-03-01", "2026-03-02");
    let out = app
        .cli_with(
            &backfill("calls", first, last),
            &[("TWILIO_API_BASE", &base)],
        )
        .await;

    assert_success(&out);
    assert_eq!(seen.lock().unwrap().len(), 1, "no page token was refused");
    let account = app.sim.account_sids()[0].clone();
    let expected: usize = [day(first), day(last)]
        .iter()
        .map(|d| app.sim.calls_on(&account, *d).len())
        .sum();
    assert!(expected > 1000, "{expected} calls fit one page");
    let text = stdout(&out);
    assert!(text.contains(&format!(": {expected} rows in ")), "{text}");
    assert!(!text.contains("repeated while paging"), "{text}");
    assert_eq!(
        files_below(&app.output().join("_staging")),
        Vec::<String>::new()
    );

    refuse_every_token.store(true, std::sync::atomic::Ordering::SeqCst);
    let out = app
        .cli_with(
            &backfill("calls", first, last),
            &[("TWILIO_API_BASE", &base)],
        )
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("no longer takes the page token"), "{text}");
}

/// A server that takes an account sid in any case, as a lenient one might, and answers the
/// account check with its lower-case spelling.
async fn case_blind() -> String {
    let router = axum::Router::new().fallback(|uri: Uri| async move {
        let sid = (uri.path().trim_end_matches(".json").rsplit('/').next())
            .unwrap_or_default()
            .to_lowercase()
            .replacen("ac", "AC", 1);
        axum::Json(serde_json::json!({"sid": sid, "status": "active", "friendly_name": "x"}))
    });
    let base = serve_router(router).await;
    base
}

#[tokio::test]
async fn an_account_check_answered_for_another_spelling_of_the_sid_registers_nothing() {
    let app = spawn_app(small_sim()).await;
    let base = case_blind().await;
    let asked = "ACABCDEF0123456789ABCDEF0123456789";
    let answered = asked.to_lowercase().replacen("ac", "AC", 1);
    let env = [("TWILIO_API_BASE", base.as_str())];

    let out = app.cli_with(&["accounts", "add", asked], &env).await;
    assert!(!out.status.success(), "{}", stdout(&out));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains(asked) && said.contains(&answered), "{said}");
    let listed = app.cli(&["accounts", "list"]).await;
    assert!(!stdout(&listed).contains(asked), "{}", stdout(&listed));

    // The sid as the API spells it is an account like any other.
    assert_success(&app.cli_with(&["accounts", "add", &answered], &env).await);
}
