//! The Twilio Connect callback receiver (axum): the Connect page, the Authorize URL, the
//! signed Deauthorize callback, `/healthz` and `/metrics` (README, "Connect your users").
//!
//! - `GET /` issues a fresh signed `state` ([`state`]), sets it in an HttpOnly, SameSite=Lax
//!   cookie and links to `{connect_base}/authorize/{CN…}?state=…`.
//! - `GET /connect/authorize` ([`connect`]) has the state checked ([`guard`]: ours, unexpired,
//!   equal to the cookie, unused, within the rate of grant checks), proves the grant with the
//!   API before storing anything, registers the account (and, with discovery, every account the
//!   grant can read), then answers 303 to `/connect/connected`, a URL without the sid.
//! - `GET|POST /connect/deauthorize` ([`deauthorize`]) checks `X-Twilio-Signature`
//!   ([`signature`]) and our Connect App sid before it changes anything.
//!
//! Every request is bounded: bodies by [`MAX_BODY_BYTES`], URIs by [`MAX_URI_BYTES`], handlers,
//! connections and shutdown by [`ReceiverLimits`] ([`serve`]). Errors go through
//! [`ReceiverError`], logged once and answered opaquely. This module does not export anything:
//! it only writes accounts to the registry.

mod connect;
mod deauthorize;
mod error;
mod guard;
mod log_budget;
mod metrics;
mod pages;
mod server;
pub mod signature;
pub mod state;

pub use error::ReceiverError;
pub use guard::GrantCheckRate;
pub use server::serve;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use url::Url;

use self::guard::Guard;
use self::metrics::Metrics;
use self::state::{StateKey, STATE_TTL};
use crate::domain::{AccountSid, AuthToken, ConnectAppSid};
use crate::fetch::TwilioClient;
use crate::registry::Registry;

/// Largest request body accepted (a deauthorize callback is two parameters).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest request URI accepted.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The cookie that carries the `state` between `/` and the Authorize URL.
pub const STATE_COOKIE: &str = "twx_connect_state";

/// How `serve` bounds its clients and its work. `Default` is what `serve` the command uses;
/// tests shorten them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiverLimits {
    /// Longest wait for a complete request head, including the wait for the next request on a
    /// kept-alive connection.
    pub header_read_timeout: Duration,
    /// A connection with no request in progress and no byte moving for this long is closed.
    pub idle_timeout: Duration,
    /// Longest a handler may take, reading the body included; the authorize check calls the
    /// Twilio API.
    pub request_timeout: Duration,
    /// Connections open at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// Connections open at once from one address; one more is answered 503 and closed, so
    /// that one client holding sockets open leaves room for others (a health probe).
    pub max_connections_per_peer: usize,
    /// After a stop is asked, how long requests in progress may still take.
    pub shutdown_timeout: Duration,
    /// How many authorizations may be checked against the API.
    pub grant_checks: GrantCheckRate,
    /// How long a grant the API confirmed live stays so for deauthorize callbacks naming it:
    /// a recorded callback replayed in a loop costs one API request per period, not one each
    /// (those requests share the account's quota with its exports). A real revocation in that
    /// period is met by the next export's 401.
    pub live_grant_memory: Duration,
}

impl Default for ReceiverLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            max_connections: 128,
            max_connections_per_peer: 96,
            shutdown_timeout: Duration::from_secs(10),
            grant_checks: GrantCheckRate::default(),
            live_grant_memory: Duration::from_secs(10),
        }
    }
}

/// What the receiver needs to know beyond its collaborators.
#[derive(Clone, Debug)]
pub struct ReceiverConfig {
    /// The address Twilio and browsers use to reach us (scheme, host, optional port and path
    /// prefix); callback signatures are checked against it.
    pub public_url: Url,
    /// Where the Connect consent page lives (`https://www.twilio.com`, or the simulator).
    pub connect_base: Url,
    /// Our Connect App.
    pub connect_app_sid: ConnectAppSid,
    /// Register the other accounts a new grant can read (the user's parent and subaccounts).
    pub discover: bool,
    /// Our own account, the Connect App's owner: our token is its credential, so the API
    /// proves nothing of a grant for it or its subaccounts, and they are refused.
    pub owner_account_sid: Option<AccountSid>,
    pub limits: ReceiverLimits,
}

/// Shared state of the handlers. Cheap to clone.
#[derive(Clone)]
pub struct ReceiverState {
    inner: Arc<Inner>,
}

struct Inner {
    config: ReceiverConfig,
    client: TwilioClient,
    registry: Registry,
    /// Our Auth Token, the key of callback signatures.
    token: AuthToken,
    /// Issues and admits `state`s (its key is derived from the token).
    guard: Guard,
    metrics: Metrics,
    /// When the API last confirmed each grant a deauthorize callback named (`deauthorize`): a
    /// replayed callback within `live_grant_memory` is not asked about again.
    confirmed_live: std::sync::Mutex<std::collections::HashMap<AccountSid, std::time::Instant>>,
    /// The grant check of an account in progress, which other callbacks for it wait for.
    check_turns:
        std::sync::Mutex<std::collections::HashMap<AccountSid, Arc<tokio::sync::Mutex<()>>>>,
}

impl ReceiverState {
    pub fn new(
        config: ReceiverConfig,
        client: TwilioClient,
        registry: Registry,
        token: AuthToken,
    ) -> Self {
        let guard = Guard::new(StateKey::derive(&token), config.limits.grant_checks);
        Self {
            inner: Arc::new(Inner {
                config,
                client,
                registry,
                token,
                guard,
                metrics: Metrics::default(),
                confirmed_live: Default::default(),
                check_turns: Default::default(),
            }),
        }
    }

    pub fn config(&self) -> &ReceiverConfig {
        &self.inner.config
    }

    /// The URL of `GET /` as Twilio and browsers reach it.
    pub fn public_route(&self, route: &str) -> String {
        format!(
            "{}{route}",
            self.inner.config.public_url.as_str().trim_end_matches('/')
        )
    }
}

impl ReceiverState {
    /// Notes that the API just confirmed `sid`'s grant live (the map keeps one entry per
    /// registered account at most: only those reach the check).
    pub(crate) fn confirmed_live(&self, sid: &AccountSid) {
        let mut live = self
            .inner
            .confirmed_live
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        live.insert(sid.clone(), std::time::Instant::now());
    }

    /// Whether the API confirmed `sid`'s grant live within `live_grant_memory`.
    pub(crate) fn confirmed_live_lately(&self, sid: &AccountSid) -> bool {
        let memory = self.inner.config.limits.live_grant_memory;
        let live = self
            .inner
            .confirmed_live
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        live.get(sid).is_some_and(|at| at.elapsed() < memory)
    }

    /// The turn to check `sid`'s grant: one check of an account at a time, so that callbacks
    /// replayed at once wait for the one in progress and read its answer, instead of queueing
    /// on the account's quota until the last ones run out of time (and would take the
    /// callback at its word).
    pub(crate) async fn check_turn(&self, sid: &AccountSid) -> tokio::sync::OwnedMutexGuard<()> {
        let turn = {
            let mut turns = self
                .inner
                .check_turns
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            // Turns no one holds or waits for are dropped.
            turns.retain(|_, t| Arc::strong_count(t) > 1);
            turns.entry(sid.clone()).or_default().clone()
        };
        turn.lock_owned().await
    }

    /// What is left of a request's time (`request_timeout`, after which its answer is a
    /// timeout whatever the handler did) for a call to Twilio that started at `started`, less
    /// a quarter of it kept for what follows the call and for answering.
    pub(crate) fn time_left(&self, started: std::time::Instant) -> Duration {
        let whole = self.inner.config.limits.request_timeout;
        (whole - whole / 4).saturating_sub(started.elapsed())
    }
}

/// The receiver's routes with their limits.
pub fn router(state: ReceiverState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/connect/authorize", get(connect::authorize))
        .route("/connect/connected", get(connect::connected))
        .route(
            "/connect/deauthorize",
            get(deauthorize::deauthorize).post(deauthorize::deauthorize),
        )
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), limits))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// `GET /`: the Connect button with a fresh `state`, also set in the cookie.
async fn index(State(state): State<ReceiverState>) -> Response {
    let issued = state.inner.guard.issue(SystemTime::now());
    let cfg = &state.inner.config;
    let mut href = match Url::parse(&format!(
        "{}/authorize/{}",
        cfg.connect_base.as_str().trim_end_matches('/'),
        cfg.connect_app_sid
    )) {
        Ok(u) => u,
        Err(e) => {
            // connect_base is a validated URL, so this cannot happen; answer opaquely if it does.
            tracing::error!(stage = "receiving", error = %e, "Cannot build the Connect link");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    href.query_pairs_mut().append_pair("state", &issued);
    let mut resp = Html(pages::connect(href.as_str())).into_response();
    set_cookie(
        &mut resp,
        &state_cookie(&state, &issued, STATE_TTL.as_secs()),
    );
    resp
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(state): State<ReceiverState>) -> Response {
    let counts = match state.inner.registry.account_counts().await {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!(stage = "receiving", error = %e, "Cannot count accounts for the metrics");
            None
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.inner.metrics.render(counts.as_deref()),
    )
        .into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(pages::error(
            "Page not found",
            "There is nothing at this address.",
            false,
        )),
    )
        .into_response()
}

/// Refuses overlong URIs, and bodies announced larger than [`MAX_BODY_BYTES`] before any of
/// them is read; bounds each handler's time (a handler that runs out of time is dropped, so
/// its callback is counted here).
async fn limits(State(state): State<ReceiverState>, req: Request, next: Next) -> Response {
    if req.uri().to_string().len() > MAX_URI_BYTES {
        return StatusCode::URI_TOO_LONG.into_response();
    }
    let callback = match req.uri().path() {
        "/connect/authorize" => Some("authorize"),
        "/connect/deauthorize" => Some("deauthorize"),
        _ => None,
    };
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        if let Some(cb) = callback {
            state.inner.metrics.record(cb, "bad_request");
        }
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    let timeout = state.inner.config.limits.request_timeout;
    match tokio::time::timeout(timeout, next.run(req)).await {
        // A body that grew past the limit as it came (chunked, no length announced) is refused
        // by the body's reader before the handler could count it.
        Ok(resp) if resp.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            if let Some(cb) = callback {
                state.inner.metrics.record(cb, "bad_request");
            }
            resp
        }
        Ok(resp) => resp,
        Err(_) => {
            if let Some(cb) = callback {
                state.inner.metrics.record(cb, "timeout");
            }
            match callback {
                // Twilio's server calls back, not a browser: no page that speaks of connecting.
                Some("deauthorize") => {
                    (StatusCode::SERVICE_UNAVAILABLE, "timeout\n").into_response()
                }
                _ => ReceiverError::Timeout.into_response(),
            }
        }
    }
}

/// Headers every answer carries: no sniffing, no framing, and no Referer that could carry an
/// account sid to a third party.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    resp
}

/// The `Set-Cookie` value for the state (`max_age` 0 clears it).
fn state_cookie(state: &ReceiverState, nonce: &str, max_age: u64) -> String {
    let secure = if state.inner.config.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    format!("{STATE_COOKIE}={nonce}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

fn set_cookie(resp: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The value of cookie `name`, if the request has exactly one.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned());
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; twx_connect_state=abc ; b=2"),
        );
        assert_eq!(cookie(&h, STATE_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        h.append(
            header::COOKIE,
            HeaderValue::from_static("twx_connect_state=other"),
        );
        assert_eq!(cookie(&h, STATE_COOKIE), None, "ambiguous");
    }
}
