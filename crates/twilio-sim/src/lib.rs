//! An in-process, deterministic fake of Twilio's 2010 REST API: the parts twilio-export reads.
//!
//! It is a crate of its own and shares no code with the exporter — sids, days, paging and
//! callback signatures are all implemented again here from `docs/twilio-api.md` — so a test
//! passes only when both readings of Twilio's behaviour agree.
//!
//! [`Simulator`] serves Accounts, Calls, Usage Records and AuthorizedConnectApps over HTTP with
//! Twilio's Basic auth, paging envelope, page tokens and error bodies, following
//! `docs/twilio-api.md` §3–§6 and §10. All data derives from [`SimConfig::seed`] and
//! is generated lazily per (account, day), so a large history costs CPU on demand, not memory.
//! The ground-truth accessors ([`Simulator::calls_on`], [`Simulator::daily_usage_on`]) return
//! exactly the JSON the API serves, so tests can compare an export against them.
//!
//! It does not: serve XML or any write endpoint, or change calls
//! except as its clock moves ([`Simulator::set_now`]: new calls arrive, recent ones settle and
//! get their price, today's usage grows; see `data` for the rules).
//!
//! Twilio Connect (`connect`): the consent page `/authorize/{CN…}` that redirects to
//! [`SimConfig::authorize_url`], an optional account tree ([`SimConfig::subaccounts`]; flat by
//! default, every account owning itself) whose Connect subaccount reads its parent and
//! siblings, and [`send_deauthorize`] for signed deauthorize callbacks.
//!
//! Faults (latency, 429 past per-account limits, 5xx, dropped connections, truncated bodies,
//! revocation after N requests) are opt-in through [`SimConfig::faults`]; see `faults` (each
//! draw follows from the seed, the account, the path and query and the attempt number). So
//! is one [`Hostile`] mode (redirects, links to other accounts or in loops, records of other
//! accounts, gzip bombs, oversized pages); see `hostile`.
//!
//! Layout: `listener` lets raw `<`/`>` in URLs through hyper; `routes` matches paths and
//! dispatches; `auth` checks credentials; `query` and `paging` implement the parameter and
//! envelope rules; `data` generates accounts and calls; `calls`, `usage` and `accounts` filter
//! and render each resource; `rng` is the deterministic hashing everything derives from;
//! `error` renders Twilio's error bodies; `sign` computes `X-Twilio-Signature` (§7).

mod accounts;
mod auth;
mod calls;
mod connect;
mod data;
mod error;
mod faults;
mod hostile;
mod listener;
mod paging;
mod query;
mod replay;
mod rng;
mod routes;
mod sign;
#[cfg(test)]
mod tests;
mod usage;

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use self::auth::{Credentials, Gate, Target};
use self::data::Dataset;
use self::error::SimError;
use self::usage::UsageBook;

pub use self::connect::{revoke_at, send_deauthorize, DeauthorizeCallback, Signing};
pub use self::faults::{AccountStats, Faults};
pub use self::hostile::Hostile;
pub use self::sign::signature;

/// What the simulator generates. `seed`, `accounts`, `days`, `calls_per_day` and `today`
/// determine the data; a past day's calls depend only on the seed, the account and the day.
#[derive(Clone)]
pub struct SimConfig {
    /// Seeds every generated value; equal configs give identical data.
    pub seed: u64,
    /// Number of connected accounts generated.
    pub accounts: usize,
    /// Days of history ending at `today`, inclusive.
    pub days: u32,
    /// Average calls per account per day. The actual count per (account, day) varies between
    /// half and one and a half times this, and about one day in twelve has no calls.
    pub calls_per_day: u32,
    /// The simulator's first "today" (UTC): its clock starts at the day's last second, and
    /// no data lies after the clock. [`Simulator::set_now`] moves it forward.
    pub today: NaiveDate,
    /// The Connect app owner's token: the Basic-auth password for every account.
    pub auth_token: String,
    /// Our Connect app, `CN` + 32 hex; [`SimConfig::with_seed`] derives it from the seed.
    pub connect_app_sid: String,
    /// Faults to inject (none by default); see `faults`.
    pub faults: Faults,
    /// Subaccounts per generated account (0: flat, the default); the first of each is the
    /// Connect subaccount our app is granted. See `connect`.
    pub subaccounts: usize,
    /// Where the consent page sends the browser (our receiver's Authorize URL); without it the
    /// consent page cannot redirect.
    pub authorize_url: Option<String>,
    /// Calls pages misbehave as a server whose paging shifts might: each page repeats its
    /// first call at its end, and the last page of a list filtered by `StartTime>` also
    /// returns the newest call that started before that bound (another day's). Off by default.
    pub sloppy_pages: bool,
    /// Calls lists are not in order of start time throughout, which Twilio never promises:
    /// a list's second-newest call is held back from its first page and returned on its last
    /// (when that page has room for it), after older days' calls. Off by default.
    pub late_call: bool,
    /// Accounts Twilio reports suspended or closed, by index (main accounts in order, then
    /// the subaccounts). Their Account resource shows the status (also in `Accounts.json`);
    /// their Calls and Usage Records answer 401 (code 20003), as Twilio does.
    pub inactive_accounts: Vec<(usize, AccountState)>,
    /// Keeps every successful answer as first served and serves it again to the same request
    /// (credentials and URI) until the clock moves or a grant is revoked: for benchmarks, so
    /// that an exporter, not the simulator's rendering, sets the pace. Off by default.
    pub cache_pages: bool,
}

/// Twilio's status of a simulated account that is not `active`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountState {
    Suspended,
    Closed,
}

impl AccountState {
    fn as_str(self) -> &'static str {
        match self {
            AccountState::Suspended => "suspended",
            AccountState::Closed => "closed",
        }
    }
}

impl SimConfig {
    /// The defaults with another seed, including a connect app SID derived from that seed.
    pub fn with_seed(seed: u64) -> Self {
        SimConfig {
            seed,
            connect_app_sid: data::connect_app_sid_for_seed(seed),
            ..SimConfig::default()
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        let seed = 42;
        SimConfig {
            seed,
            accounts: 3,
            days: 7,
            calls_per_day: 40,
            today: chrono::Utc::now().date_naive(),
            auth_token: "sim-auth-token".to_owned(),
            connect_app_sid: data::connect_app_sid_for_seed(seed),
            faults: Faults::default(),
            subaccounts: 0,
            authorize_url: None,
            sloppy_pages: false,
            late_call: false,
            inactive_accounts: Vec::new(),
            cache_pages: false,
        }
    }
}

impl fmt::Debug for SimConfig {
    // The token is fake, but house style keeps tokens out of Debug output everywhere.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("seed", &self.seed)
            .field("accounts", &self.accounts)
            .field("days", &self.days)
            .field("calls_per_day", &self.calls_per_day)
            .field("today", &self.today)
            .field("auth_token", &"<redacted>")
            .field("connect_app_sid", &self.connect_app_sid)
            .field("faults", &self.faults)
            .field("subaccounts", &self.subaccounts)
            .field("authorize_url", &self.authorize_url)
            .field("sloppy_pages", &self.sloppy_pages)
            .field("late_call", &self.late_call)
            .field("inactive_accounts", &self.inactive_accounts)
            .field("cache_pages", &self.cache_pages)
            .finish()
    }
}

/// One request the simulator answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, still percent-encoded, empty if none. Raw `<`/`>` appear as
    /// `%3C`/`%3E` when served through [`serve`].
    pub query: String,
    /// The Basic-auth username, if the request carried a parseable Basic header.
    pub username: Option<String>,
    pub status: u16,
}

/// The simulator: cheap to clone, shared between the server and the test that inspects it.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: SimConfig,
    data: Dataset,
    usage: UsageBook,
    /// Usernames whose grant was revoked; they answer 401 from then on.
    revoked: RwLock<HashSet<String>>,
    log: Mutex<Vec<LoggedRequest>>,
    faults: faults::FaultState,
    replay: replay::Replay,
}

impl Simulator {
    pub fn new(cfg: SimConfig) -> Self {
        let mut data = Dataset::new(
            cfg.seed,
            cfg.accounts,
            cfg.days,
            cfg.calls_per_day,
            cfg.today,
        );
        connect::add_subaccounts(&mut data, cfg.subaccounts);
        for (idx, state) in &cfg.inactive_accounts {
            if let Some(a) = data.accounts.get_mut(*idx) {
                a.status = state.as_str();
            }
        }
        let replay = replay::Replay::new(cfg.cache_pages);
        Simulator {
            inner: Arc::new(Inner {
                replay,
                cfg,
                data,
                usage: UsageBook::default(),
                revoked: RwLock::new(HashSet::new()),
                log: Mutex::new(Vec::new()),
                faults: faults::FaultState::default(),
            }),
        }
    }

    pub fn config(&self) -> &SimConfig {
        &self.inner.cfg
    }

    /// The simulator's clock: calls created after it do not exist yet, and each call shows
    /// its state at this instant. Starts at the last second of [`SimConfig::today`].
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.data.now()
    }

    /// The UTC day of [`Simulator::now`], the last day of history (it grows as time moves).
    pub fn today(&self) -> NaiveDate {
        self.inner.data.today()
    }

    /// Moves the clock forward to `now` (an earlier instant changes nothing): new calls arrive,
    /// recent ones change status, end time, duration and price, today's usage grows. Past
    /// days settle deterministically, so the ground-truth accessors give the API's answer at
    /// the new `now`. Returns the clock after the move.
    pub fn set_now(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let now = self.inner.data.set_now(now);
        self.inner.replay.forget();
        now
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: TimeDelta) -> DateTime<Utc> {
        self.set_now(self.now() + by)
    }

    /// The API as an axum router; every response is JSON and every request is logged.
    pub fn router(&self) -> Router {
        Router::new()
            .fallback(routes::dispatch)
            .layer(middleware::from_fn_with_state(self.clone(), hostile::apply))
            .layer(middleware::from_fn_with_state(self.clone(), faults::inject))
            // The Connect consent page (HTML) is added after the fault layer: faults model the API.
            .route(
                "/authorize/{cn}",
                axum::routing::get(connect::consent).post(connect::decide),
            )
            .route(
                "/authorize/{cn}/revoke",
                axum::routing::post(connect::revoke),
            )
            .layer(middleware::from_fn_with_state(self.clone(), log_request))
            .layer(middleware::from_fn_with_state(self.clone(), date_header))
            .with_state(self.clone())
    }

    /// Ground truth: the account SIDs, in a stable order.
    pub fn account_sids(&self) -> Vec<String> {
        self.inner
            .data
            .accounts
            .iter()
            .map(|a| a.sid.clone())
            .collect()
    }

    /// Ground truth: exactly the JSON objects the API serves for calls of `account` whose
    /// `start_time` is on `day` (UTC), newest first. Empty for an unknown account.
    pub fn calls_on(&self, account: &str, day: NaiveDate) -> Vec<Value> {
        let data = &self.inner.data;
        let Some(acct) = data.account_by_sid(account) else {
            return Vec::new();
        };
        data.day_calls(acct.idx, day)
            .iter()
            .filter(|c| c.start_time.is_some())
            .map(|c| calls::render(acct, c))
            .collect()
    }

    /// Ground truth: the Daily usage records of `account` for `day` with
    /// `IncludeSubaccounts=false`, one per category, as the API serves them.
    pub fn daily_usage_on(&self, account: &str, day: NaiveDate) -> Vec<Value> {
        let data = &self.inner.data;
        match data.account_by_sid(account) {
            Some(acct) => self.inner.usage.daily_records(data, acct, day),
            None => Vec::new(),
        }
    }

    /// Every request served so far, in completion order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.inner
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// What the simulator saw of `account`'s requests: counts, most in flight, most per second.
    pub fn stats(&self, account: &str) -> AccountStats {
        self.inner.faults.stats(account)
    }

    /// Revokes `account`'s Connect grant: its credentials answer 401 (code 20003) from now on.
    pub fn revoke(&self, account: &str) {
        self.inner
            .revoked
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(account.to_owned());
        self.inner.replay.forget();
    }

    /// Checks the request's credential against `target`; see `auth` for the rules.
    fn authorize(
        &self,
        headers: &axum::http::HeaderMap,
        target: Target<'_>,
        path: &str,
    ) -> Result<(usize, usize), SimError> {
        let revoked = self
            .inner
            .revoked
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let gate = Gate {
            data: &self.inner.data,
            auth_token: &self.inner.cfg.auth_token,
            revoked: &revoked,
        };
        gate.check(headers, target, path)
    }
}

/// Serves `sim` on `listener` until `cancel` fires, then finishes in-flight requests.
/// The caller binds the listener (port 0 in tests). Unlike serving [`Simulator::router`]
/// directly, this also accepts the legacy raw `StartTime>=…` spelling (see `listener`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    sim: Simulator,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener::LenientListener(listener), sim.router())
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
}

/// Every answer's `Date` is the simulator's clock ([`Simulator::now`]), as Twilio's is its own:
/// an exporter whose clock reads a later day can tell.
async fn date_header(State(sim): State<Simulator>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let date = sim.now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    if let Ok(value) = axum::http::HeaderValue::from_str(&date) {
        response
            .headers_mut()
            .insert(axum::http::header::DATE, value);
    }
    response
}

async fn log_request(State(sim): State<Simulator>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let username = Credentials::from_headers(req.headers()).map(|c| c.username);
    let response = next.run(req).await;
    let status = response.status().as_u16();
    tracing::debug!(%method, %path, status, "Simulator served a request");
    sim.inner
        .log
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(LoggedRequest {
            method,
            path,
            query,
            username,
            status,
        });
    response
}
