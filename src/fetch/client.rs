//! [`TwilioClient`]: authenticated GETs against the 2010 API with quotas and retries.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, TimeDelta, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;
use url::Url;

use super::limiter::Quotas;
use super::retry;
use super::waits::NetWaits;
use super::FetchError;
use crate::decode::DecodeError;
use crate::domain::AccountSid;
use crate::domain::AuthToken;

/// Characters left as they are in query names and values; `<`, `>`, `:`, `+` and the rest are
/// encoded, so `StartTime>` goes out as `StartTime%3E` (`docs/twilio-api.md` §4.1).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The most bytes a response body may inflate to: 32 times the ~2 MB of JSON of a full
/// 1000-record calls page, the largest page Twilio sends. A body is read chunk by chunk and
/// reading stops at this size, so a gzip bomb costs at most this much memory.
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// A path and query on the API, relative to the base URL: either built by us or a
/// `next_page_uri` the API gave, accepted only if it stays on the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageUri(String);

impl PageUri {
    /// A first page: `path` plus the query parameters, names and values percent-encoded.
    pub fn build(path: &str, params: &[(&str, String)]) -> Self {
        let mut s = path.to_owned();
        for (i, (k, v)) in params.iter().enumerate() {
            s.push(if i == 0 { '?' } else { '&' });
            s.extend(utf8_percent_encode(k, QUERY));
            s.push('=');
            s.extend(utf8_percent_encode(v, QUERY));
        }
        Self(s)
    }

    /// A link from a page, taken verbatim. An absolute link keeps only its path and query, which
    /// are requested from `base`: a server that writes `https://api.twilio.com/2010-04-01/…`
    /// links (a simulator, a proxy) is followed, and our credentials never go to another host.
    pub fn from_link(link: &str, base: &Url) -> Result<Self, FetchError> {
        let bad = || FetchError::BadLink(link.chars().take(200).collect());
        if let Some(rest) = link.strip_prefix('/') {
            if rest.starts_with('/') {
                return Err(bad());
            }
            return Ok(Self(link.to_owned()));
        }
        let url = Url::parse(link).map_err(|_| bad())?;
        let same_origin = url.origin() == base.origin();
        let api_path =
            matches!(url.scheme(), "http" | "https") && url.path().starts_with("/2010-04-01/");
        if !(same_origin || api_path) {
            return Err(bad());
        }
        let mut s = url.path().to_owned();
        if let Some(q) = url.query() {
            s.push('?');
            s.push_str(q);
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path without the query, for messages.
    pub fn path(&self) -> &str {
        self.0.split('?').next().unwrap_or(&self.0)
    }
}

/// The parts of an Account resource we keep. The resource also carries the account's own
/// `auth_token`, which is never read into memory here, let alone logged or stored. Its texts
/// are kept with control characters escaped: they are shown in terminals and logs.
#[derive(Debug, Clone, Deserialize)]
pub struct AccountInfo {
    pub sid: AccountSid,
    #[serde(default, deserialize_with = "printable")]
    pub owner_account_sid: Option<String>,
    #[serde(default, deserialize_with = "printable")]
    pub friendly_name: Option<String>,
    #[serde(default, deserialize_with = "printable")]
    pub status: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "printable")]
    pub kind: Option<String>,
}

/// Text from the API as it may be shown: control characters escaped (no forged lines, no
/// terminal escapes), at most 500 characters.
fn printable_text(text: &str) -> String {
    crate::telemetry::escape_controls(text)
        .chars()
        .take(500)
        .collect()
}

fn printable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(|t| printable_text(&t)))
}

/// Twilio's error body (`docs/twilio-api.md` §6); every key may be missing.
#[derive(Deserialize, Default)]
struct ErrorBody {
    code: Option<i64>,
    message: Option<String>,
    detail: Option<String>,
}

/// The client. Cheap to clone. It has no cancellation of its own: a caller stops a request
/// by dropping its future (the exporter does so per run and per account).
#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    base: Url,
    token: AuthToken,
    quotas: Quotas,
    /// Time one request may spend waiting out 429s.
    retry_budget: Duration,
    /// Shared by every clone: what this client has sent since it was built.
    stats: Arc<FetchStats>,
}

/// Counts of what a client (and its clones) did, for the metrics of a run.
#[derive(Debug)]
pub struct FetchStats {
    requests: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
    /// How far this machine's clock read ahead of the `Date` of the latest answer that had one
    /// (a refusal's too), in milliseconds, taken as it arrived; `i64::MIN`: none yet.
    clock_skew_ms: AtomicI64,
}

/// A reading of [`FetchStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchCounts {
    /// HTTP requests sent (every attempt).
    pub requests: u64,
    /// Answers that were HTTP 429.
    pub throttled: u64,
    /// Attempts repeated after a 429 or a transient failure.
    pub retries: u64,
}

impl Default for FetchStats {
    fn default() -> Self {
        Self {
            requests: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            clock_skew_ms: AtomicI64::new(i64::MIN),
        }
    }
}

impl FetchStats {
    pub fn read(&self) -> FetchCounts {
        FetchCounts {
            requests: self.requests.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}

impl TwilioClient {
    pub fn new(base: Url, token: AuthToken, quotas: Quotas) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("twilio-export/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .pool_idle_timeout(Duration::from_secs(60))
            // The API does not redirect; a 3xx fails the request (see `FetchError::Redirected`).
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            base,
            token,
            quotas,
            retry_budget: super::limiter::DEFAULT_RETRY_BUDGET,
            stats: Arc::default(),
        })
    }

    /// The same client with another budget for waiting out 429s.
    pub fn with_retry_budget(mut self, budget: Duration) -> Self {
        self.retry_budget = budget;
        self
    }

    /// What this client and its clones have sent so far.
    pub fn stats(&self) -> FetchCounts {
        self.stats.read()
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// How far this machine's clock read ahead of the API's when the latest answer with a
    /// `Date` arrived (negative: behind), to the answer's second and its latency; `None`
    /// before any.
    pub fn clock_skew(&self) -> Option<TimeDelta> {
        match self.stats.clock_skew_ms.load(Ordering::Relaxed) {
            i64::MIN => None,
            ms => Some(TimeDelta::milliseconds(ms)),
        }
    }

    /// Requests of `account` allowed in flight now (`--max-in-flight`, less what 429s took).
    pub fn allowed_in_flight(&self, account: &AccountSid) -> usize {
        self.quotas.allowed(account)
    }

    /// GETs `uri` as `credential` and hands the body to `handle`, retrying per [`retry`].
    /// `handle` must act all or nothing: a malformed body is fetched again.
    pub async fn get_with<T>(
        &self,
        credential: &AccountSid,
        target: &AccountSid,
        uri: &PageUri,
        handle: impl FnMut(&Bytes) -> Result<T, DecodeError>,
    ) -> Result<T, FetchError> {
        self.get_counted(credential, target, uri, &mut 0, None, handle)
            .await
    }

    /// [`TwilioClient::get_with`], adding each attempt it repeats to `retries`, and counting in
    /// `net` each wait on Twilio: for the account's quotas and the answer, up to the end of
    /// the body, and before a retry.
    pub async fn get_counted<T>(
        &self,
        credential: &AccountSid,
        target: &AccountSid,
        uri: &PageUri,
        retries: &mut u64,
        net: Option<&NetWaits>,
        mut handle: impl FnMut(&Bytes) -> Result<T, DecodeError>,
    ) -> Result<T, FetchError> {
        let url = format!(
            "{}{}",
            self.base.as_str().trim_end_matches('/'),
            uri.as_str()
        );
        let path = uri.path();
        let mut waits = retry::Waits::new(retry::full_jitter);
        let mut attempts = 0u32;
        let mut throttled = Duration::ZERO;
        loop {
            attempts += 1;
            let once = self.get_once(credential, target, &url, path, net).await?;
            let (wait, last) = match once {
                Once::Body(body) => match off_runtime(|| handle(&body)) {
                    Ok(v) => return Ok(v),
                    Err(DecodeError::Malformed(e)) => {
                        (waits.faulted(), format!("malformed page: {e}"))
                    }
                    Err(DecodeError::TooManyRecords { max }) => {
                        return Err(FetchError::TooManyRecords {
                            path: path.to_owned(),
                            max,
                        })
                    }
                    Err(source) => {
                        return Err(FetchError::Decode {
                            path: path.to_owned(),
                            cause: source,
                        })
                    }
                },
                Once::Throttled(after) => {
                    self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                    let wait = waits.throttled(after);
                    throttled += wait;
                    if throttled > self.retry_budget {
                        return Err(FetchError::Exhausted {
                            path: path.to_owned(),
                            attempts,
                            last: "still rate limited (HTTP 429)".into(),
                        });
                    }
                    tracing::debug!(account = %target, wait_ms = wait.as_millis() as u64, "Rate limited by Twilio; waiting");
                    (Some(wait), String::new())
                }
                Once::Transient(why) => (waits.faulted(), why),
                Once::Final(err) => return Err(err),
            };
            let Some(wait) = wait else {
                return Err(FetchError::Exhausted {
                    path: path.to_owned(),
                    attempts,
                    last,
                });
            };
            if !last.is_empty() {
                tracing::warn!(account = %target, path, attempt = attempts, error = %last, "Retrying a request");
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            *retries += 1;
            let _waiting = net.map(NetWaits::enter);
            tokio::time::sleep(wait).await;
        }
    }

    async fn get_once(
        &self,
        credential: &AccountSid,
        target: &AccountSid,
        url: &str,
        path: &str,
        net: Option<&NetWaits>,
    ) -> Result<Once, FetchError> {
        let waiting = net.map(NetWaits::enter);
        let _permit = self.quotas.acquire(target).await;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let response = self
            .http
            .get(url)
            .basic_auth(credential.as_str(), Some(self.token.expose()))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => return Ok(Once::Transient(describe(&e))),
        };
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            return Ok(Once::Final(FetchError::Redirected {
                path: path.to_owned(),
                status,
                location: header(&response, reqwest::header::LOCATION)
                    .map(|l| l.chars().take(200).collect())
                    .unwrap_or_else(|| "(no Location)".to_owned()),
            }));
        }
        let retry_after = header(&response, reqwest::header::RETRY_AFTER);
        self.note_api_date(&response);
        let body = read_capped(response).await;
        drop(waiting);
        let body = match body {
            Ok(Some(b)) => b,
            Ok(None) => {
                return Ok(Once::Final(FetchError::BodyTooLarge {
                    path: path.to_owned(),
                }))
            }
            Err(e) => {
                return Ok(Once::Transient(format!(
                    "reading the body: {}",
                    describe(&e)
                )))
            }
        };
        tracing::trace!(
            status,
            ms = started.elapsed().as_millis() as u64,
            bytes = body.len(),
            "GET"
        );
        if (200..300).contains(&status) {
            self.quotas.succeeded(target);
            return Ok(Once::Body(body));
        }
        if status == 429 {
            self.quotas.throttled(target);
            return Ok(Once::Throttled(retry::retry_after(retry_after.as_deref())));
        }
        if retry::is_transient_status(status) {
            return Ok(Once::Transient(format!("HTTP {status}")));
        }
        Ok(Once::Final(refusal(target, path, status, &body)))
    }

    /// `GET /2010-04-01/Accounts/{sid}.json` as `credential`: proves the grant works.
    pub async fn fetch_account(
        &self,
        credential: &AccountSid,
        sid: &AccountSid,
    ) -> Result<AccountInfo, FetchError> {
        let uri = PageUri::build(&format!("/2010-04-01/Accounts/{sid}.json"), &[]);
        let info = self
            .get_with(credential, sid, &uri, |body| {
                serde_json::from_slice::<AccountInfo>(body).map_err(DecodeError::Malformed)
            })
            .await?;
        // The answer must be the account asked for, sid for sid: one registered under another
        // spelling (capital hex digits, which a lenient server may take) would then find every
        // record of its lists foreign and fail every window.
        if info.sid != *sid {
            return Err(FetchError::ForeignRecord {
                path: uri.path().to_owned(),
                expected: sid.clone(),
                found: Some(info.sid.to_string()),
            });
        }
        Ok(info)
    }

    /// `GET /2010-04-01/Accounts.json` as `credential`, every page: the accounts the credential
    /// can read. With a Connect grant of `get-all` that is the user's parent account and its
    /// subaccounts (`docs/twilio-api.md` §2.2). Each body's `auth_token` is never read.
    pub async fn list_accounts(
        &self,
        credential: &AccountSid,
    ) -> Result<Vec<AccountInfo>, FetchError> {
        #[derive(Deserialize)]
        struct AccountsPage {
            accounts: Vec<AccountInfo>,
            #[serde(default)]
            next_page_uri: Option<String>,
        }
        // A guard against a link loop; 10 000 pages of 1000 is far beyond any real user.
        const MAX_PAGES: usize = 10_000;
        let mut out = Vec::new();
        let mut uri = Some(PageUri::build(
            "/2010-04-01/Accounts.json",
            &[("PageSize", "1000".to_owned())],
        ));
        let mut pages = 0;
        while let Some(page_uri) = uri.take() {
            let page = self
                .get_with(credential, credential, &page_uri, |body| {
                    serde_json::from_slice::<AccountsPage>(body).map_err(DecodeError::Malformed)
                })
                .await?;
            out.extend(page.accounts);
            pages += 1;
            if pages >= MAX_PAGES {
                tracing::warn!(account = %credential, pages, "Stopped listing accounts: too many pages");
                break;
            }
            uri = page
                .next_page_uri
                .map(|link| PageUri::from_link(&link, &self.base))
                .transpose()?;
        }
        Ok(out)
    }
}

enum Once {
    Body(Bytes),
    Throttled(Option<Duration>),
    Transient(String),
    Final(FetchError),
}

impl TwilioClient {
    /// Keeps how far this machine's clock reads ahead of the answer's `Date` (an HTTP date,
    /// RFC 9110), now as it arrives.
    fn note_api_date(&self, response: &reqwest::Response) {
        let date = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok());
        if let Some(date) = date {
            let skew = Utc::now().signed_duration_since(date).num_milliseconds();
            self.stats
                .clock_skew_ms
                .store(skew.max(i64::MIN + 1), Ordering::Relaxed);
        }
    }
}

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    let value = response.headers().get(name)?;
    Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
}

/// The body, decompressed, read chunk by chunk; `None` once it grows past
/// [`MAX_BODY_BYTES`] (reading stops there, so memory stays bounded whatever the server sends).
/// The buffer starts at the announced length (at most [`PRESIZE_MAX`]), so a page is not read
/// by growing it from empty, each growth a copy of everything read so far.
async fn read_capped(mut response: reqwest::Response) -> Result<Option<Bytes>, reqwest::Error> {
    let announced = response
        .content_length()
        .unwrap_or(0)
        .min(PRESIZE_MAX as u64);
    let mut body = BytesMut::with_capacity(announced as usize);
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}

/// The most a body buffer is sized up front from `Content-Length` (a full page of 1000
/// calls is about 2 MB); a larger body grows past it as it arrives.
const PRESIZE_MAX: usize = 8 << 20;

/// Runs `decode` (CPU work on a whole page) where it does not hold up the runtime: on a
/// multi-threaded runtime the worker hands its other tasks (other windows' requests) to
/// another thread meanwhile; on a current-thread runtime (tests) it simply runs.
fn off_runtime<T>(decode: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(decode),
        _ => decode(),
    }
}

/// Twilio's error code for a `PageToken` it did not issue or no longer takes
/// (`docs/twilio-api.md` §3).
const STALE_PAGE_TOKEN: i64 = 21481;

/// A final answer (401/403/404/other 4xx) as the error it means.
fn refusal(target: &AccountSid, path: &str, status: u16, body: &[u8]) -> FetchError {
    let err: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let message = err
        .message
        .or(err.detail)
        .map(|m| printable_text(&m))
        .unwrap_or_else(|| "no message".to_owned());
    let path = path.to_owned();
    match status {
        401 | 403 => FetchError::Unauthorized {
            account: target.clone(),
            status,
            code: err.code,
            message,
        },
        404 => FetchError::NotFound {
            path,
            code: err.code,
            message,
        },
        400 if err.code == Some(STALE_PAGE_TOKEN) => FetchError::StalePageToken { path, message },
        _ => FetchError::Rejected {
            path,
            status,
            code: err.code,
            message,
        },
    }
}

/// A transport error in words, with its causes but without the URL (which carries no secret,
/// but is long) — reqwest puts credentials in headers, never in the URL.
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut s = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut src = e.source();
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

#[cfg(test)]
mod tests;
