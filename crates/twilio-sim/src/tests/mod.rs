//! End-to-end tests of the simulator over real HTTP (server on 127.0.0.1:0, reqwest client).
//!
//! They check the behaviours clients depend on: auth failures, paging walks, day-filter edges,
//! page-token rejection, and agreement between the API and the ground-truth accessors. Pure
//! helpers are tested next to their code instead. This file is the harness; the tests are
//! grouped by list: `calls`, `usage` and `accounts` (accounts, Connect Apps, seeds, faults).

mod accounts;
mod calls;
mod replay;
mod usage;

use chrono::NaiveDate;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{serve, Faults, SimConfig, Simulator};

pub(super) const TODAY: &str = "2026-03-10";

pub(super) fn day(s: &str) -> NaiveDate {
    s.parse().expect("valid date")
}

pub(super) fn config(accounts: usize, days: u32, calls_per_day: u32) -> SimConfig {
    SimConfig {
        accounts,
        days,
        calls_per_day,
        today: day(TODAY),
        ..SimConfig::with_seed(42)
    }
}

pub(super) struct Running {
    sim: Simulator,
    base: String,
    client: reqwest::Client,
    cancel: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

pub(super) async fn start(cfg: SimConfig) -> Running {
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
    pub(super) async fn get(&self, user: &str, path_and_query: &str) -> (u16, Value) {
        let token = self.sim.config().auth_token.clone();
        self.get_with(Some((user, token.as_str())), path_and_query)
            .await
    }

    pub(super) async fn get_with(
        &self,
        auth: Option<(&str, &str)>,
        path_and_query: &str,
    ) -> (u16, Value) {
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
    pub(super) async fn walk(&self, user: &str, first: &str, key: &str) -> (Vec<Value>, usize) {
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

    pub(super) async fn stop(self) {
        self.cancel.cancel();
        self.server
            .await
            .expect("server task")
            .expect("server result");
    }
}

pub(super) fn sids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["sid"].as_str().expect("sid").to_owned())
        .collect()
}

pub(super) fn calls_path(account: &str) -> String {
    format!("/2010-04-01/Accounts/{account}/Calls.json")
}
