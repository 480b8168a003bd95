//! The rate-limited paging client for the Twilio REST API. The only module that makes
//! outbound HTTP.
//!
//! - [`client`]: [`TwilioClient`], one `reqwest::Client`, Basic auth with the connected
//!   account's sid and our token, page links followed verbatim.
//! - [`limiter`]: per-account and global quotas every request passes.
//! - [`retry`]: what is retried, how often and how long to wait.

pub mod client;
pub mod limiter;
pub mod retry;

pub use client::{AccountInfo, PageUri, TwilioClient};
pub use limiter::Quotas;

use crate::domain::AccountSid;

/// How a request ended, shaped by what the caller does next.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// 401/403: the grant is gone or the credentials are wrong; stop this account.
    #[error("Twilio refused the credentials for {account} (HTTP {status}{}): {message}", code_suffix(*.code))]
    Unauthorized {
        account: AccountSid,
        status: u16,
        code: Option<i64>,
        message: String,
    },
    /// 404: no such account or resource.
    #[error("not found: {path} (HTTP 404{}): {message}", code_suffix(*.code))]
    NotFound {
        path: String,
        code: Option<i64>,
        message: String,
    },
    /// Another answer that retrying will not change (400 and the like).
    #[error("Twilio rejected {path} (HTTP {status}{}): {message}", code_suffix(*.code))]
    Rejected {
        path: String,
        status: u16,
        code: Option<i64>,
        message: String,
    },
    /// Faults that were retried until the retry budget ran out.
    #[error("giving up on {path} after {attempts} attempts: {last}")]
    Exhausted {
        path: String,
        attempts: u32,
        last: String,
    },
    /// A page link that does not point back at the API we were configured with.
    #[error("refusing to follow page link {0:?}: not a relative API path")]
    BadLink(String),
    /// A record whose value cannot be typed; retrying would give the same.
    #[error("{path}: {cause}")]
    Decode {
        path: String,
        cause: crate::decode::DecodeError,
    },
    /// The run is shutting down.
    #[error("cancelled")]
    Cancelled,
}

fn code_suffix(code: Option<i64>) -> String {
    code.map(|c| format!(", code {c}")).unwrap_or_default()
}
