//! Accounts and Connect Apps, seeds, and the faults of each account.

use chrono::TimeDelta;
use serde_json::{json, Value};

use super::*;

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
