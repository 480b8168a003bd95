//! The Usage Records lists against the Calls list and the daily ground truth.

use std::collections::HashSet;

use chrono::TimeDelta;
use serde_json::Value;

use super::*;

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
