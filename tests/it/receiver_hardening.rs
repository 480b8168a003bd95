//! The receiver under hostile clients: silent, slow and idle connections are closed, the number
//! of connections is capped, a stop does not wait for slow clients, and forged, altered,
//! expired or replayed `state`s, or too many authorizations at once, never reach the API.
//!
//! Timeouts are shortened through `ReceiverLimits`; tests wait for connections to close (each
//! wait bounded by [`BOUND`], far above the timeouts and far below the defaults they replace).

use std::future::Future;
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use twilio_export::domain::AuthToken;
use twilio_export::receiver::state::StateKey;
use twilio_export::receiver::{GrantCheckRate, ReceiverLimits};

use crate::support::{connect_env_with, Receiver, TestApp, TOKEN};

/// The longest any test here waits for something that the limits make happen in well under a
/// second.
const BOUND: Duration = Duration::from_secs(15);
const SHORT: Duration = Duration::from_millis(200);
const LONG: Duration = Duration::from_secs(3600);

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(BOUND, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: not within {BOUND:?}"),
    }
}

/// Reads until the server closes the connection (end of stream or reset); what was read.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    within("the server closes the connection", async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    seen
}

/// Reads until `needle` has arrived.
async fn until_seen(stream: &mut TcpStream, needle: &str) -> String {
    let mut seen = Vec::new();
    within(needle, async {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains(needle) {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "closed before {needle:?}: {:?}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    String::from_utf8(seen).unwrap()
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: receiver\r\n\r\n";

/// A kept-alive connection that has been served one request.
async fn served_connection(r: &Receiver) -> TcpStream {
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    s.write_all(HEALTHZ).await.unwrap();
    let answer = until_seen(&mut s, "ok\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    s
}

/// `n` kept-alive connections, each served one request.
async fn held_open(r: &Receiver, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(served_connection(r).await);
    }
    held
}

/// One more connection from this address is answered 503 (if anything) and closed.
async fn assert_refused(r: &Receiver) {
    let mut extra = TcpStream::connect(r.addr).await.unwrap();
    let _ = extra.write_all(HEALTHZ).await;
    let seen = String::from_utf8_lossy(&until_closed(&mut extra).await).into_owned();
    assert!(
        seen.is_empty() || seen.starts_with("HTTP/1.1 503"),
        "refused: {seen}"
    );
}

/// The answer on `s` is 413, and the deauthorize callback's bad request is counted once.
async fn assert_too_large_and_counted(r: &Receiver, s: &mut TcpStream) {
    let answer = until_seen(s, "\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let metrics = r.metrics().await;
    assert!(
        metrics.contains("callback=\"deauthorize\",outcome=\"bad_request\"} 1\n"),
        "{metrics}"
    );
}

async fn env(limits: ReceiverLimits) -> (TestApp, Receiver) {
    connect_env_with(0, true, limits).await
}

// ---- slow clients (item: header-read and idle timeouts, connection cap, shutdown) ---------

#[tokio::test]
async fn silent_and_slow_header_clients_are_disconnected() {
    let (_app, r) = env(ReceiverLimits {
        header_read_timeout: SHORT,
        idle_timeout: LONG,
        ..ReceiverLimits::default()
    })
    .await;
    let mut clients = Vec::new();
    for i in 0..60 {
        let stream = TcpStream::connect(r.addr).await.unwrap();
        clients.push(tokio::spawn(async move {
            let (mut read, mut write) = stream.into_split();
            if i % 3 == 0 {
                // One header byte at a time, for as long as the server listens.
                write
                    .write_all(b"GET /healthz HTTP/1.1\r\nHost: receiver\r\nX-Slow: ")
                    .await
                    .unwrap();
                tokio::spawn(async move {
                    while write.write_all(b"a").await.is_ok() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                });
            }
            let mut buf = [0u8; 1024];
            let mut seen = Vec::new();
            loop {
                match read.read(&mut buf).await {
                    Ok(0) | Err(_) => break seen,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
        }));
    }

    for c in clients {
        let seen = within("every slow client is disconnected", c)
            .await
            .unwrap();
        assert!(!String::from_utf8_lossy(&seen).contains(" 200 "));
    }
    let health = r
        .http
        .get(format!("{}/healthz", r.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn kept_alive_connections_are_closed_once_idle() {
    let (_app, r) = env(ReceiverLimits {
        header_read_timeout: LONG,
        idle_timeout: SHORT,
        ..ReceiverLimits::default()
    })
    .await;
    let mut kept = Vec::new();
    for _ in 0..20 {
        kept.push(served_connection(&r).await);
    }
    for mut s in kept {
        assert_eq!(until_closed(&mut s).await, b"", "nothing more was sent");
    }
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_and_freed_slots_are_used_again() {
    let (_app, r) = env(ReceiverLimits {
        header_read_timeout: LONG,
        idle_timeout: LONG,
        max_connections: 3,
        ..ReceiverLimits::default()
    })
    .await;
    let mut held = held_open(&r, 3).await;

    for _ in 0..5 {
        assert_refused(&r).await;
    }

    // A slot comes back when a connection ends.
    drop(held.pop());
    let mut answered = None;
    for _ in 0..300 {
        if let Ok(resp) = r.http.get(format!("{}/metrics", r.base)).send().await {
            if resp.status() == StatusCode::OK {
                answered = Some(resp.text().await.unwrap());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = answered.expect("served again once a connection closed");
    assert!(
        metrics.contains("\ntwilio_export_receiver_connections 3\n"),
        "{metrics}"
    );
    let refused: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("twilio_export_receiver_connections_refused_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(refused >= 5, "{metrics}");
}

/// One address holding its share of the connections open (reconnecting each one the
/// receiver cuts off) leaves room for others: a health probe from another address is served.
#[tokio::test]
async fn one_peer_cannot_take_every_connection() {
    let (_app, r) = env(ReceiverLimits {
        header_read_timeout: LONG,
        idle_timeout: LONG,
        max_connections: 6,
        max_connections_per_peer: 4,
        ..ReceiverLimits::default()
    })
    .await;
    let _held = held_open(&r, 4).await;
    assert_refused(&r).await;

    let other = tokio::net::TcpSocket::new_v4().unwrap();
    other.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut probe = other.connect(r.addr).await.unwrap();
    probe.write_all(HEALTHZ).await.unwrap();
    let answer = until_seen(&mut probe, "ok\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_stop_does_not_wait_for_slow_clients_beyond_the_deadline() {
    let (_app, mut r) = env(ReceiverLimits {
        header_read_timeout: LONG,
        idle_timeout: LONG,
        request_timeout: LONG,
        shutdown_timeout: SHORT,
        ..ReceiverLimits::default()
    })
    .await;
    let mut idle = served_connection(&r).await;
    // A request whose body never finishes: the handler is reading it once `100 Continue`
    // has been sent.
    let mut slow = TcpStream::connect(r.addr).await.unwrap();
    slow.write_all(
        b"POST /connect/deauthorize HTTP/1.1\r\nHost: receiver\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\
          Expect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    until_seen(&mut slow, "100 Continue").await;
    slow.write_all(b"AccountSid").await.unwrap();

    r.stop.cancel();

    within("serve returns", r.served.take().unwrap())
        .await
        .unwrap();
    assert_eq!(until_closed(&mut idle).await, b"");
    let cut = String::from_utf8_lossy(&until_closed(&mut slow).await).into_owned();
    assert!(!cut.contains("HTTP/1.1 200"), "{cut}");
    assert!(
        TcpStream::connect(r.addr).await.is_err(),
        "the listener is closed"
    );
}

// ---- forged authorize callbacks (item: server-issued, single-use, rate-limited states) ------

fn key() -> StateKey {
    StateKey::derive(&AuthToken::new(TOKEN.to_owned()).unwrap())
}

/// Asserts a 400 "did not start here" page that clears the state cookie.
async fn assert_refused_state(resp: reqwest::Response, case: &str) {
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{case}");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Max-Age=0"), "{case}: {cookie}");
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("This authorization did not start here"),
        "{case}"
    );
}

#[tokio::test]
async fn forged_altered_expired_and_foreign_states_never_reach_the_api() {
    let (app, r) = env(ReceiverLimits::default()).await;
    let sid = app
        .sim
        .granted_sid(&app.sim.main_account_sids()[0])
        .unwrap();
    let now = SystemTime::now();
    let issued = r.begin().await;
    // One character in the middle of the tag.
    let mut altered = issued.clone().into_bytes();
    let at = altered.len() - 10;
    altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let other_key = StateKey::derive(&AuthToken::new("another-token".to_owned()).unwrap());
    let cases = [
        ("chosen by the client", "forged-by-the-client".to_owned()),
        ("altered tag", altered),
        ("expired", key().issue(now - Duration::from_secs(11 * 60))),
        (
            "from the future",
            key().issue(now + Duration::from_secs(5 * 60)),
        ),
        ("signed with another token", other_key.issue(now)),
    ];
    for (case, state) in &cases {
        let resp = r
            .authorize(&format!("AccountSid={sid}&state={state}"), Some(state))
            .await;
        assert_refused_state(resp, case).await;
    }
    // Our own state, but not this browser's cookie.
    let other = r.begin().await;
    let resp = r
        .authorize(&format!("AccountSid={sid}&state={issued}"), Some(&other))
        .await;
    assert_refused_state(resp, "cookie of another attempt").await;

    assert!(app.sim.requests().is_empty(), "{:?}", app.sim.requests());
    assert!(r.accounts().await.is_empty());
    assert!(r
        .metrics()
        .await
        .contains("callback=\"authorize\",outcome=\"bad_state\"} 6\n"));
    // A state that was only refused is still good for its own attempt.
    let resp = r
        .authorize(&format!("AccountSid={sid}&state={issued}"), Some(&issued))
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_state_is_used_once_whatever_the_outcome() {
    let (app, r) = env(ReceiverLimits::default()).await;
    let main = app.sim.main_account_sids()[0].clone();
    let api_calls = || {
        app.sim
            .requests()
            .iter()
            .filter(|q| q.path.starts_with("/2010-04-01/"))
            .count()
    };

    // Connected: replaying the same return trip asks nothing more.
    let state = r.begin().await;
    let query = format!("AccountSid={main}&state={state}");
    assert_eq!(
        r.authorize(&query, Some(&state)).await.status(),
        StatusCode::SEE_OTHER
    );
    let after_connect = api_calls();
    assert!(after_connect > 0);
    assert_refused_state(r.authorize(&query, Some(&state)).await, "replay").await;
    assert_eq!(api_calls(), after_connect);

    // Refused by the API: the state is spent too.
    let state = r.begin().await;
    let forged = "AC0123456789abcdef0123456789abcdef";
    let resp = r
        .authorize(&format!("AccountSid={forged}&state={state}"), Some(&state))
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(api_calls(), after_connect + 1);
    let replay = r
        .authorize(&format!("AccountSid={main}&state={state}"), Some(&state))
        .await;
    assert_refused_state(replay, "replay after a refusal").await;
    assert_eq!(api_calls(), after_connect + 1);
}

#[tokio::test]
async fn a_flood_of_forged_callbacks_makes_no_api_call() {
    let (app, r) = env(ReceiverLimits::default()).await;
    let sid = app
        .sim
        .granted_sid(&app.sim.main_account_sids()[0])
        .unwrap();
    let genuine = r.begin().await;
    let (prefix, _) = genuine.rsplit_once('.').unwrap();
    const N: usize = 3000;
    let statuses: Vec<StatusCode> = futures::stream::iter(0..N)
        .map(|i| {
            // Well-formed, with our issue time and nonce, but tags of the client's choosing.
            let state = format!(
                "{prefix}.{}",
                URL_SAFE_TAG[i % URL_SAFE_TAG.len()].repeat(43)
            );
            let r = &r;
            let sid = &sid;
            async move {
                r.authorize(&format!("AccountSid={sid}&state={state}"), Some(&state))
                    .await
                    .status()
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;

    assert!(statuses.iter().all(|s| *s == StatusCode::BAD_REQUEST));
    assert!(app.sim.requests().is_empty());
    let metrics = r.metrics().await;
    assert!(
        metrics.contains(&format!("outcome=\"bad_state\"}} {N}\n")),
        "{metrics}"
    );
    assert!(r.accounts().await.is_empty());
}

const URL_SAFE_TAG: [&str; 4] = ["A", "b", "-", "_"];

#[tokio::test]
async fn beyond_the_rate_grant_checks_are_throttled_before_the_api() {
    let (app, r) = env(ReceiverLimits {
        grant_checks: GrantCheckRate {
            burst: NonZeroU32::new(3).unwrap(),
            interval: LONG,
        },
        ..ReceiverLimits::default()
    })
    .await;
    let forged = "AC0123456789abcdef0123456789abcdef";
    let mut states = Vec::new();
    for _ in 0..10 {
        states.push(r.begin().await);
    }

    let mut statuses = Vec::new();
    for state in &states {
        let resp = r
            .authorize(&format!("AccountSid={forged}&state={state}"), Some(state))
            .await;
        statuses.push(resp.status());
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(resp.headers()["retry-after"], "60");
            let html = resp.text().await.unwrap();
            assert!(html.contains("Too many authorizations right now"));
        }
    }

    assert_eq!(statuses[..3], [StatusCode::FORBIDDEN; 3]);
    assert_eq!(statuses[3..], [StatusCode::TOO_MANY_REQUESTS; 7]);
    assert_eq!(app.sim.requests().len(), 3, "{:?}", app.sim.requests());
    let metrics = r.metrics().await;
    assert!(metrics.contains("outcome=\"throttled\"} 7\n"), "{metrics}");
    assert!(
        metrics.contains("outcome=\"not_granted\"} 3\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_body_announced_too_large_is_refused_before_any_of_it_arrives() {
    let (_app, r) = env(ReceiverLimits::default()).await;
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    // The head promises a terabyte and nothing of it follows: waiting for it would hold the
    // connection until the handler's timeout.
    s.write_all(
        b"POST /connect/deauthorize HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000000000\r\n\r\nabc",
    )
    .await
    .unwrap();
    assert_too_large_and_counted(&r, &mut s).await;
}

/// A chunked body, which announces no length, is refused once it grows past the limit, and
/// counted as the callback's bad request like one announced too large.
#[tokio::test]
async fn a_chunked_body_too_large_is_refused_and_counted() {
    let (_app, r) = env(ReceiverLimits::default()).await;
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    let mut request = b"POST /connect/deauthorize HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..5 {
        request.extend_from_slice(b"1000\r\n");
        request.extend_from_slice(&[b'a'; 0x1000]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let _ = s.write_all(&request).await;
    assert_too_large_and_counted(&r, &mut s).await;
}
