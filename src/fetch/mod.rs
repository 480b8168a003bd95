//! The rate-limited paging client for the Twilio REST API. The only module that makes
//! outbound HTTP.
//!
//! - [`client`]: [`TwilioClient`], one `reqwest::Client`, Basic auth with the connected
//!   account's sid and our token sent to the configured base only (redirects are never
//!   followed), bodies read up to [`client::MAX_BODY_BYTES`].
//! - [`links`]: [`PageWalk`], the page links one list follows (its own, each once, bounded).
//! - [`limiter`]: per-account and global quotas every request passes.
//! - [`retry`]: what is retried, how often and how long to wait.
//! - [`waits`]: [`NetWaits`], how many of a run's requests wait on Twilio right now.

pub mod client;
pub mod limiter;
pub mod links;
pub mod retry;
pub mod waits;

pub use client::{AccountInfo, FetchCounts, PageUri, TwilioClient};
pub use limiter::{Limits, Quotas};
pub use links::PageWalk;
pub use waits::{Lately, NetWaits};

use crate::domain::AccountSid;

/// How a request ended, shaped by what the caller does next.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// 401/403: the grant is gone or the credentials are wrong; stop this account. (A 403
    /// may also deny one resource to credentials that read the account: the account is
    /// checked again before it is taken for lost.)
    #[error("{} (HTTP {status}{}): {message}", unauthorized(account, *status), code_suffix(*.code))]
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
    /// 400 with code 21481: a page token the API did not issue or no longer takes. Reading the
    /// list again from its first page gets fresh ones.
    #[error("Twilio no longer takes the page token of {path} (HTTP 400, code 21481): {message}")]
    StalePageToken { path: String, message: String },
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
    /// A 3xx answer. The Twilio API does not redirect, and following one would send our
    /// credentials to wherever it points.
    #[error(
        "{path} answered HTTP {status} redirecting to {location:?}; redirects are not followed"
    )]
    Redirected {
        path: String,
        status: u16,
        location: String,
    },
    /// A body that inflated past [`client::MAX_BODY_BYTES`]; reading stopped there.
    #[error("{path}: the response body is larger than {} MiB", client::MAX_BODY_BYTES >> 20)]
    BodyTooLarge { path: String },
    /// A page holding more records than the `PageSize` asked for.
    #[error("{path}: a page holds more than the {max} records asked for")]
    TooManyRecords { path: String, max: usize },
    /// A page link that leaves the window's own list (another account's, another resource).
    #[error("refusing to follow page link {link:?}: it leaves the list {list}")]
    ForeignLink { link: String, list: String },
    /// A page link already followed in this window.
    #[error("page link {0:?} came back; the list would never end")]
    LinkLoop(String),
    /// More pages than one day's records can fill.
    #[error("{path}: more than {max} pages, more than one day can hold")]
    TooManyPages { path: String, max: u64 },
    /// A record of an account other than the one whose list it came in (`found`), or of none.
    #[error("{path}: {} in the list of {expected}", record_of(.found.as_deref()))]
    ForeignRecord {
        path: String,
        expected: AccountSid,
        found: Option<String>,
    },
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

fn record_of(account: Option<&str>) -> String {
    match account {
        Some(sid) => format!("a record of account {sid}"),
        None => "a record without an account_sid".to_owned(),
    }
}

/// What a 401 or a 403 says: the credentials were refused, or they were and this request was
/// not allowed (a permission or a feature the account lacks, as far as a 403 tells).
fn unauthorized(account: &AccountSid, status: u16) -> String {
    match status {
        401 => format!("Twilio refused the credentials for {account}"),
        _ => format!("Twilio denied this request to the credentials for {account}"),
    }
}

fn code_suffix(code: Option<i64>) -> String {
    code.map(|c| format!(", code {c}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_403_is_not_told_as_refused_credentials() {
        let refused = |status| {
            FetchError::Unauthorized {
                account: "AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80".parse().unwrap(),
                status,
                code: Some(20003),
                message: "Authenticate".to_owned(),
            }
            .to_string()
        };
        assert_eq!(
            refused(401),
            "Twilio refused the credentials for AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80 (HTTP 401, code 20003): Authenticate"
        );
        let forbidden = refused(403);
        assert!(
            forbidden.starts_with("Twilio denied this request to the credentials for AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80 (HTTP 403"),
            "{forbidden}"
        );
    }
}
