//! [`ReceiverError`]: every way a receiver request can fail, with its status code, its metric
//! label and what the client is told.
//!
//! Each error is logged once, here, with its cause; the client sees only a short public message
//! (a 500 says nothing of its cause). This module does not decide when to fail.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::pages;
use super::state::StateRejection;
use crate::domain::AccountSid;
use crate::fetch::FetchError;
use crate::registry::RegistryError;

/// Why a request was not served as asked.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    /// A parameter is missing, repeated or malformed.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The `state` of an authorization is missing, forged, expired, used or not the cookie's.
    #[error("refused state: {0}")]
    BadState(StateRejection),
    /// Too many authorizations are being checked; nothing was asked of the API.
    #[error("too many authorizations to check right now")]
    Throttled,
    /// The API did not accept the sid with our token: the grant is forged, stale or revoked.
    #[error("Twilio did not confirm the grant of {account}: {cause}")]
    NotGranted {
        account: AccountSid,
        cause: FetchError,
    },
    /// The sid is our own account or one of its subaccounts (`ReceiverConfig::owner_account_sid`),
    /// which our token reaches without any grant.
    #[error(
        "{account} is the app owner's own account or one of its subaccounts, not a Connect grant"
    )]
    OwnAccount { account: AccountSid },
    /// The API could not be asked (timeouts, 5xx, retries used up).
    #[error("cannot confirm the grant with the Twilio API: {0}")]
    Unavailable(FetchError),
    /// A deauthorize callback without `X-Twilio-Signature`.
    #[error("the X-Twilio-Signature header is missing")]
    MissingSignature,
    /// A deauthorize callback whose signature does not match our token.
    #[error("the X-Twilio-Signature header does not match")]
    BadSignature,
    /// A deauthorize callback for a Connect App that is not ours (or none).
    #[error("the callback is not for our Connect App")]
    ForeignApp,
    /// The handler did not finish in time.
    #[error("the request timed out")]
    Timeout,
    /// Our own fault; the cause is logged, never shown.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

impl ReceiverError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::BadState(_) => StatusCode::BAD_REQUEST,
            Self::Throttled => StatusCode::TOO_MANY_REQUESTS,
            Self::NotGranted { .. }
            | Self::OwnAccount { .. }
            | Self::MissingSignature
            | Self::BadSignature
            | Self::ForeignApp => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::BAD_GATEWAY,
            Self::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            Self::Registry(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `outcome` label of `twilio_export_connect_callbacks_total`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::BadState(_) => "bad_state",
            Self::Throttled => "throttled",
            Self::NotGranted { .. } => "not_granted",
            Self::OwnAccount { .. } => "own_account",
            Self::Unavailable(_) => "api_unavailable",
            Self::MissingSignature => "missing_signature",
            Self::BadSignature => "bad_signature",
            Self::ForeignApp => "foreign_app",
            Self::Timeout => "timeout",
            Self::Registry(_) => "error",
        }
    }

    /// Title and explanation shown to the user.
    fn public(&self) -> (&'static str, &'static str) {
        match self {
            Self::BadRequest(_) => (
                "This link is not valid",
                "The address is incomplete or malformed, so nothing was connected. Start again from the Connect page.",
            ),
            Self::BadState(_) => (
                "This authorization did not start here",
                "It expired, was already used or was started in another window, so nothing was connected. Start again from the Connect page.",
            ),
            Self::Throttled => (
                "Too many authorizations right now",
                "Nothing was connected. Please wait a minute, then start again from the Connect page.",
            ),
            Self::NotGranted { .. } | Self::OwnAccount { .. } => (
                "Twilio did not confirm this authorization",
                "Nothing was connected. If you did authorize the app, start again from the Connect page.",
            ),
            Self::Unavailable(_) | Self::Timeout => (
                "We could not reach Twilio",
                "Nothing was connected. Please try again in a few minutes.",
            ),
            Self::MissingSignature | Self::BadSignature | Self::ForeignApp => {
                ("Forbidden", "This request is not accepted.")
            }
            Self::Registry(_) => (
                "Something went wrong on our side",
                "Nothing was changed. Please try again later.",
            ),
        }
    }
}

impl IntoResponse for ReceiverError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(stage = "receiving", error_code = self.outcome(), error = %error_chain(&self), "Connect request failed");
        } else if matches!(
            self,
            Self::BadRequest(_) | Self::BadState(_) | Self::Throttled
        ) {
            // Refused before any work, as any client can make us do at will: counted in
            // /metrics, logged only at debug, so a flood cannot flood the log.
            tracing::debug!(stage = "receiving", error_code = self.outcome(), error = %error_chain(&self), "Connect request refused");
        } else if matches!(
            self,
            Self::MissingSignature | Self::BadSignature | Self::ForeignApp
        ) {
            // Any client can send these at will; the first ones show a `--public-url` mistake.
            if let Some(left_out) = super::log_budget::UNSIGNED.take() {
                tracing::warn!(stage = "receiving", error_code = self.outcome(), error = %error_chain(&self), left_out, "Connect request refused");
            }
        } else {
            tracing::warn!(stage = "receiving", error_code = self.outcome(), error = %error_chain(&self), "Connect request refused");
        }
        let (title, message) = self.public();
        let home = !matches!(
            self,
            Self::MissingSignature | Self::BadSignature | Self::ForeignApp
        );
        let mut resp = (
            status,
            [(header::CACHE_CONTROL, "no-store")],
            axum::response::Html(pages::error(title, message, home)),
        )
            .into_response();
        if matches!(self, Self::Throttled) {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        }
        resp
    }
}

/// The error and its causes, `: `-separated.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        let text = cause.to_string();
        // thiserror's `{0}` already shows the first cause; do not repeat it.
        if !s.ends_with(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        src = cause.source();
    }
    s
}
