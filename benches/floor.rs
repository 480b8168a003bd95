//! The end-to-end floor: what merely fetching the calls pages over HTTP and reading their JSON
//! costs, against which `benches/e2e.sh` compares the exporter's CPU per call.
//!
//! For each account and day, it pages through `Calls.json` with `StartTime>=day`,
//! `StartTime<day+1` and `PageSize=1000` (Basic auth: the account sid and the Auth Token),
//! following `next_page_uri`, one request at a time (or `FLOOR_IN_FLIGHT` account-days at
//! once, on two threads), and parses each body with `serde_json`
//! into `IgnoredAny` (only counting the calls and keeping the next link): no typing, no
//! Arrow, no Parquet, no registry. `benches/e2e.sh` runs it under `/usr/bin/time` against
//! the same simulator as the exporter.
//!
//! ```text
//! TWILIO_AUTH_TOKEN=… floor <api-base> <first-day> <last-day> <account-sid>…
//! ```

use std::fmt;

use chrono::NaiveDate;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

/// The part of a page the floor keeps: the number of calls and the next page's link.
#[derive(Deserialize)]
struct Page {
    calls: Counted,
    next_page_uri: Option<String>,
}

/// A JSON array's length; its elements are skipped as `IgnoredAny`.
struct Counted(u64);

impl<'de> Deserialize<'de> for Counted {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Count;
        impl<'de> Visitor<'de> for Count {
            type Value = Counted;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Counted, A::Error> {
                let mut n = 0;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Counted(n))
            }
        }
        d.deserialize_seq(Count)
    }
}

/// The command line: the API base, the first and last day, the accounts.
struct Args {
    base: String,
    first: NaiveDate,
    last: NaiveDate,
    accounts: Vec<String>,
    token: String,
}

fn args() -> anyhow::Result<Args> {
    let mut it = std::env::args().skip(1).filter(|a| a != "--bench");
    let usage = "usage: floor <api-base> <first-day> <last-day> <account-sid>...";
    let base = it.next().ok_or_else(|| anyhow::anyhow!(usage))?;
    let first = it.next().ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
    let last = it.next().ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
    let accounts: Vec<String> = it.collect();
    anyhow::ensure!(!accounts.is_empty(), usage);
    let token = std::env::var("TWILIO_AUTH_TOKEN")?;
    Ok(Args {
        base: base.trim_end_matches('/').to_owned(),
        first,
        last,
        accounts,
        token,
    })
}

/// One account-day: every page of it, one after the other; returns (calls, requests).
async fn day(
    client: &reqwest::Client,
    args: &Args,
    account: &str,
    day: NaiveDate,
) -> anyhow::Result<(u64, u64)> {
    let next = day.succ_opt().expect("a day after");
    let mut url = format!(
        "{}/2010-04-01/Accounts/{account}/Calls.json?StartTime%3E={day}&StartTime%3C={next}&PageSize=1000",
        args.base
    );
    let (mut calls, mut requests) = (0, 0);
    loop {
        let response = client
            .get(&url)
            .basic_auth(account, Some(&args.token))
            .send()
            .await?
            .error_for_status()?;
        let body = response.bytes().await?;
        let page: Page = serde_json::from_slice(&body)?;
        calls += page.calls.0;
        requests += 1;
        match page.next_page_uri {
            Some(link) => url = format!("{}{link}", args.base),
            None => return Ok((calls, requests)),
        }
    }
}

/// `FLOOR_IN_FLIGHT=n` (default 1): that many account-days at once, on a runtime of two
/// worker threads, as the exporter fetches several windows at once; with 1, one request at a
/// time on one thread.
fn in_flight() -> usize {
    std::env::var("FLOOR_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1)
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    let in_flight = in_flight();
    let runtime = if in_flight == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    }
    .enable_all()
    .build()?;
    runtime.block_on(async {
        use futures::stream::{self, StreamExt, TryStreamExt};
        let client = reqwest::Client::new();
        let days: Vec<(&String, NaiveDate)> = (args.accounts.iter())
            .flat_map(|a| {
                (args.first.iter_days())
                    .take_while(|d| *d <= args.last)
                    .map(move |d| (a, d))
            })
            .collect();
        let counts: Vec<(u64, u64)> = stream::iter(days)
            .map(|(account, d)| day(&client, &args, account, d))
            .buffer_unordered(in_flight)
            .try_collect()
            .await?;
        let (calls, requests) = counts
            .iter()
            .fold((0, 0), |(c, r), (dc, dr)| (c + dc, r + dr));
        println!("floor: {calls} calls in {requests} requests");
        Ok(())
    })
}
