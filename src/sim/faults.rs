//! Fault injection and per-account accounting for the simulator (`shared/twilio/README.md`
//! §6 and §10.7): latency, 429s beyond a per-account concurrency or rate limit (with and
//! without `Retry-After`), random 500/503, connections dropped mid-body, bodies cut short, and
//! an account revoked after N requests. Every choice derives from the seed and a request
//! counter, so a run with the same request order sees the same faults.
//!
//! It also measures what the client did — the most requests in flight and the most requests
//! within any one second, per account — so tests can prove the client kept its quotas.
//!
//! It does not touch the data: a faulted request changes nothing, as a real 429/5xx does not.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::rng::hash;
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
}

/// Mutable fault state shared by all requests.
#[derive(Default)]
pub(crate) struct FaultState {
    counter: AtomicU64,
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
}

enum Injected {
    Throttle { retry_after: bool },
    ServerError(StatusCode),
    Drop,
    Truncate,
    None,
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

/// A uniform number in 0.0..1.0 from the seed, the request number and a salt.
fn chance(seed: u64, n: u64, salt: u64) -> f64 {
    (hash(&[seed, n, salt]) >> 11) as f64 / (1u64 << 53) as f64
}

/// Axum middleware: accounts for the request and injects the configured faults.
pub(crate) async fn inject(State(sim): State<Simulator>, req: Request, next: Next) -> Response {
    let faults = &sim.inner.cfg.faults;
    let Some(account) = account_of(req.uri().path()) else {
        return next.run(req).await;
    };
    let state = &sim.inner.faults;
    let n = state.counter.fetch_add(1, Ordering::Relaxed);
    let seed = sim.inner.cfg.seed;

    // Accounting and the limits, under one lock so concurrent requests see each other.
    let (decision, requests) = {
        let mut map = state
            .accounts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let t = map.entry(account.clone()).or_default();
        let now = Instant::now();
        while t
            .recent
            .front()
            .is_some_and(|&at| now.duration_since(at) >= Duration::from_secs(1))
        {
            t.recent.pop_front();
        }
        t.recent.push_back(now);
        t.in_flight += 1;
        t.stats.requests += 1;
        t.stats.max_in_flight = t.stats.max_in_flight.max(t.in_flight);
        t.stats.max_per_second = t.stats.max_per_second.max(t.recent.len());
        let over = faults.max_in_flight.is_some_and(|m| t.in_flight > m)
            || faults.max_per_second.is_some_and(|m| t.recent.len() > m);
        let decision = if over {
            t.stats.throttled += 1;
            Injected::Throttle {
                retry_after: chance(seed, n, 1) < faults.retry_after_share,
            }
        } else {
            let roll = chance(seed, n, 2);
            let mut edge = faults.server_error;
            if roll < edge {
                t.stats.faulted += 1;
                Injected::ServerError(if chance(seed, n, 3) < 0.5 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                })
            } else if roll < {
                edge += faults.dropped_connection;
                edge
            } {
                t.stats.faulted += 1;
                Injected::Drop
            } else if roll < {
                edge += faults.truncated_body;
                edge
            } {
                t.stats.faulted += 1;
                Injected::Truncate
            } else {
                Injected::None
            }
        };
        (decision, t.stats.requests)
    };

    if faults.revoke_after.is_some_and(|limit| requests > limit) {
        sim.revoke(&account);
    }
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let response = match decision {
        Injected::Throttle { retry_after } => {
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
        Injected::ServerError(status) => (
            status,
            [("content-type", "application/json")],
            format!(
                r#"{{"code":null,"message":"Simulated server error","more_info":null,"status":{}}}"#,
                status.as_u16()
            ),
        )
            .into_response(),
        Injected::Drop | Injected::Truncate | Injected::None => {
            let response = next.run(req).await;
            match decision {
                Injected::Drop => cut(response, true).await,
                Injected::Truncate => cut(response, false).await,
                _ => response,
            }
        }
    };
    if let Some(t) = state
        .accounts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_mut(&account)
    {
        t.in_flight -= 1;
    }
    response
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

    #[test]
    fn chance_is_uniform_enough_and_deterministic() {
        let rolls: Vec<f64> = (0..10_000).map(|n| chance(7, n, 2)).collect();
        assert!(rolls.iter().all(|r| (0.0..1.0).contains(r)));
        let below = rolls.iter().filter(|&&r| r < 0.1).count();
        assert!((800..1200).contains(&below), "{below}");
        assert_eq!(chance(7, 5, 2), chance(7, 5, 2));
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
