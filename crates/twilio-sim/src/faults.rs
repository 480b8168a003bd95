//! Fault injection and per-account accounting for the simulator (`docs/twilio-api.md` §6
//! and §10.7): latency, 429s beyond a per-account concurrency or rate limit (with and without
//! `Retry-After`), random 500/503, connections dropped mid-body, bodies cut short, and an
//! account revoked after N requests.
//!
//! Every random choice derives from the seed, the account, the request's path and query, and
//! how many times that account has requested that path and query before (its attempt number),
//! so one account's sequence of requests meets the same faults whatever other accounts do in
//! between. Only the 429s of the limits depend on timing: they model concurrency.
//!
//! It also measures what the client did — the most requests in flight and the most requests
//! within any one second, per account — so tests can prove the client kept its quotas.
//!
//! It does not touch the data: a faulted request changes nothing, as a real 429/5xx does not.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::rng::{hash, hash_str};
use super::Simulator;

/// Which faults to inject. All off by default. Probabilities are per request, in 0.0..=1.0.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Extra latency added to every API request.
    pub latency: Duration,
    /// Answer 429 while more than this many requests of one account are in flight.
    pub max_in_flight: Option<usize>,
    /// Answer 429 when an account sends more than this many requests within one second.
    pub max_per_second: Option<usize>,
    /// Share of 429s that carry `Retry-After: 1`.
    pub retry_after_share: f64,
    /// Random 500 or 503.
    pub server_error: f64,
    /// 200 whose body stops half-way with a broken connection.
    pub dropped_connection: f64,
    /// 200 whose body is cut short (valid HTTP, invalid JSON).
    pub truncated_body: f64,
    /// Revoke an account's grant once it has made this many requests.
    pub revoke_after: Option<u64>,
    /// Misbehave on list pages as no real Twilio does; see `hostile`.
    pub hostile: Option<super::Hostile>,
}

impl Faults {
    pub fn any(&self) -> bool {
        *self != Faults::default()
    }
}

/// What the simulator saw of one account's requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountStats {
    pub requests: u64,
    pub max_in_flight: usize,
    /// The most requests that arrived within any window of one second.
    pub max_per_second: usize,
    pub throttled: u64,
    pub faulted: u64,
}

#[derive(Default)]
struct Tracked {
    stats: AccountStats,
    in_flight: usize,
    /// Arrival times within the last second.
    recent: VecDeque<Instant>,
    /// Requests so far per path and query: the attempt number of the next one.
    attempts: HashMap<String, u64>,
}

impl Tracked {
    /// Counts an arrival at `now`; returns whether it goes over a limit of `faults`.
    fn arrive(&mut self, faults: &Faults, now: Instant) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|&at| now.duration_since(at) >= Duration::from_secs(1))
        {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        self.in_flight += 1;
        self.stats.requests += 1;
        self.stats.max_in_flight = self.stats.max_in_flight.max(self.in_flight);
        self.stats.max_per_second = self.stats.max_per_second.max(self.recent.len());
        faults.max_in_flight.is_some_and(|m| self.in_flight > m)
            || faults.max_per_second.is_some_and(|m| self.recent.len() > m)
    }

    /// The attempt number of this request to `target` (0 for the first).
    fn attempt(&mut self, target: &str) -> u64 {
        let n = self.attempts.entry(target.to_owned()).or_default();
        let attempt = *n;
        *n += 1;
        attempt
    }
}

/// Mutable fault state shared by all requests.
#[derive(Default)]
pub(crate) struct FaultState {
    accounts: Mutex<HashMap<String, Tracked>>,
}

impl FaultState {
    pub(crate) fn stats(&self, account: &str) -> AccountStats {
        self.accounts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(account)
            .map(|t| t.stats.clone())
            .unwrap_or_default()
    }

    /// Accounts for a request of `account` to `target` (path and query) and decides its fault,
    /// under one lock so concurrent requests see each other. Returns the decision and the
    /// account's request count including this one. Pair with [`FaultState::leave`].
    fn admit(&self, faults: &Faults, seed: u64, account: &str, target: &str) -> (Injected, u64) {
        let mut map = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        let t = map.entry(account.to_owned()).or_default();
        let over = t.arrive(faults, Instant::now());
        let roll = Roll::new(seed, account, target, t.attempt(target));
        let decision = decide(faults, &roll, over);
        match decision {
            Injected::Throttle { .. } => t.stats.throttled += 1,
            Injected::None => {}
            _ => t.stats.faulted += 1,
        }
        (decision, t.stats.requests)
    }

    /// `account`'s request in flight until the guard is dropped: answered, or given up by its
    /// client (hyper then drops the request's future, and with it the guard).
    fn in_flight<'a>(&'a self, account: &str) -> InFlight<'a> {
        InFlight {
            state: self,
            account: account.to_owned(),
        }
    }

    /// The request of `account` is answered: it is no longer in flight.
    fn leave(&self, account: &str) {
        if let Some(t) = self
            .accounts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(account)
        {
            t.in_flight -= 1;
        }
    }
}

/// A request in flight, which leaves when dropped.
struct InFlight<'a> {
    state: &'a FaultState,
    account: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.state.leave(&self.account);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Injected {
    Throttle { retry_after: bool },
    ServerError(StatusCode),
    Drop,
    Truncate,
    None,
}

/// The random draws of one request: a function of the seed, the account, the path and query,
/// and the attempt number, nothing else.
struct Roll(u64);

impl Roll {
    fn new(seed: u64, account: &str, target: &str, attempt: u64) -> Self {
        Roll(hash(&[seed, hash_str(account), hash_str(target), attempt]))
    }

    /// A uniform number in 0.0..1.0 for the draw named `salt`.
    fn chance(&self, salt: u64) -> f64 {
        (hash(&[self.0, salt]) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The fault for one request; `over_limit` when it went over a per-account limit.
fn decide(faults: &Faults, roll: &Roll, over_limit: bool) -> Injected {
    if over_limit {
        return Injected::Throttle {
            retry_after: roll.chance(1) < faults.retry_after_share,
        };
    }
    let x = roll.chance(2);
    let drop_edge = faults.server_error + faults.dropped_connection;
    if x < faults.server_error {
        Injected::ServerError(if roll.chance(3) < 0.5 {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        })
    } else if x < drop_edge {
        Injected::Drop
    } else if x < drop_edge + faults.truncated_body {
        Injected::Truncate
    } else {
        Injected::None
    }
}

/// The account a path is about (`/2010-04-01/Accounts/{sid}…`).
fn account_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/2010-04-01/Accounts/")?;
    let sid: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    (sid.len() == 34).then_some(sid)
}

/// Axum middleware: accounts for the request and injects the configured faults.
pub(crate) async fn inject(State(sim): State<Simulator>, req: Request, next: Next) -> Response {
    let faults = &sim.inner.cfg.faults;
    let Some(account) = account_of(req.uri().path()) else {
        // A request of no one account (`/Accounts.json`) is slow like every other.
        if req.uri().path().starts_with("/2010-04-01/") && !faults.latency.is_zero() {
            tokio::time::sleep(faults.latency).await;
        }
        return next.run(req).await;
    };
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path(), |pq| pq.as_str())
        .to_owned();
    let state = &sim.inner.faults;
    let (decision, requests) = state.admit(faults, sim.inner.cfg.seed, &account, &target);
    let _in_flight = state.in_flight(&account);
    if faults.revoke_after.is_some_and(|limit| requests > limit) {
        sim.revoke(&account);
    }
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    respond(decision, req, next).await
}

/// The answer `decision` makes of the request: an error instead of it, or its response whole
/// or cut.
async fn respond(decision: Injected, req: Request, next: Next) -> Response {
    match decision {
        Injected::Throttle { retry_after } => throttled(retry_after),
        Injected::ServerError(status) => (
            status,
            [("content-type", "application/json")],
            format!(
                r#"{{"code":null,"message":"Simulated server error","more_info":null,"status":{}}}"#,
                status.as_u16()
            ),
        )
            .into_response(),
        Injected::Drop => cut(next.run(req).await, true).await,
        Injected::Truncate => cut(next.run(req).await, false).await,
        Injected::None => next.run(req).await,
    }
}

/// Twilio's 429 (code 20429), with `Retry-After: 1` or without.
fn throttled(retry_after: bool) -> Response {
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        [("content-type", "application/json")],
        r#"{"code":20429,"message":"Too Many Requests","more_info":"https://www.twilio.com/docs/errors/20429","status":429}"#,
    )
        .into_response();
    if retry_after {
        r.headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
    }
    r
}

/// Sends only the first half of the body: either cut cleanly (a short, invalid JSON body) or
/// followed by a broken connection (the declared length never arrives).
async fn cut(response: Response, drop_connection: bool) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(full) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let half = Bytes::copy_from_slice(&full[..full.len() / 2]);
    if drop_connection {
        parts
            .headers
            .insert("content-length", HeaderValue::from(full.len() as u64));
        let stream = futures::stream::iter(vec![
            Ok::<Bytes, std::io::Error>(half),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "simulated dropped connection",
            )),
        ]);
        Response::from_parts(parts, Body::from_stream(stream))
    } else {
        parts.headers.remove("content-length");
        Response::from_parts(parts, Body::from(half))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request whose client went away (its future dropped before the answer) leaves the
    /// account's requests in flight like an answered one: a limit of one is free again.
    #[tokio::test]
    async fn a_request_given_up_by_its_client_is_no_longer_in_flight() {
        let faults = Faults {
            max_in_flight: Some(1),
            ..Faults::default()
        };
        let state = FaultState::default();
        let given_up = async {
            let (decision, _) = state.admit(&faults, 7, "AC1", "/a");
            let _in_flight = state.in_flight("AC1");
            assert_eq!(decision, Injected::None);
            std::future::pending::<()>().await;
        };
        let timed_out = tokio::time::timeout(Duration::from_millis(1), given_up).await;
        assert!(timed_out.is_err());
        let (decision, _) = state.admit(&faults, 7, "AC1", "/b");
        assert_eq!(decision, Injected::None);
    }

    #[test]
    fn chance_is_uniform_enough_and_deterministic() {
        let rolls: Vec<f64> = (0..10_000)
            .map(|n| Roll::new(7, "AC1", "/p", n).chance(2))
            .collect();
        assert!(rolls.iter().all(|r| (0.0..1.0).contains(r)));
        let below = rolls.iter().filter(|&&r| r < 0.1).count();
        assert!((800..1200).contains(&below), "{below}");
        let roll = |account, target, attempt| Roll::new(7, account, target, attempt).chance(2);
        assert_eq!(roll("AC1", "/p", 5), roll("AC1", "/p", 5));
        assert_ne!(roll("AC1", "/p", 5), roll("AC2", "/p", 5));
        assert_ne!(roll("AC1", "/p", 5), roll("AC1", "/q", 5));
        assert_ne!(roll("AC1", "/p", 5), roll("AC1", "/p", 6));
    }

    /// One account's requests, each preceded by `others` requests of other accounts; returns
    /// the decisions for that account's requests.
    fn decisions(faults: &Faults, others: usize) -> Vec<Injected> {
        let state = FaultState::default();
        let mine = [
            "/a?Page=0",
            "/a?Page=1",
            "/a?Page=1",
            "/b",
            "/a?Page=1",
            "/b",
        ];
        let mut out = Vec::new();
        for (i, target) in mine.iter().enumerate() {
            for k in 0..others {
                let other = format!("AC{}", k % 2);
                state.admit(faults, 9, &other, target);
                state.leave(&other);
                state.admit(faults, 9, &other, &format!("/x{i}"));
                state.leave(&other);
            }
            out.push(state.admit(faults, 9, "ACmine", target).0);
            state.leave("ACmine");
        }
        out
    }

    #[test]
    fn an_accounts_faults_do_not_depend_on_other_accounts_requests() {
        let faults = Faults {
            server_error: 0.3,
            dropped_connection: 0.2,
            truncated_body: 0.2,
            ..Faults::default()
        };
        let alone = decisions(&faults, 0);
        assert_eq!(alone, decisions(&faults, 1));
        assert_eq!(alone, decisions(&faults, 3));
        assert!(alone.contains(&Injected::None), "{alone:?}");
        // Retrying the same page draws anew: the attempts of "/a?Page=1" are not all alike.
        let page1 = [alone[1], alone[2], alone[4]];
        assert!(page1.iter().any(|d| *d != page1[0]), "{alone:?}");
    }

    #[test]
    fn account_is_read_from_the_path() {
        assert_eq!(
            account_of("/2010-04-01/Accounts/AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80/Calls.json")
                .as_deref(),
            Some("AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80")
        );
        assert_eq!(
            account_of("/2010-04-01/Accounts/AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80.json").as_deref(),
            Some("AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80")
        );
        assert_eq!(account_of("/2010-04-01/Accounts.json"), None);
    }
}
