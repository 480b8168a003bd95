//! The simulator's error type and its Twilio-shaped JSON body.
//!
//! Each variant is one answer the real API gives (`docs/twilio-api.md` §6):
//! status code, Twilio error code and message. This module only renders errors; deciding
//! which one applies is up to the handlers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub(crate) enum SimError {
    /// Bad or missing Basic credentials, a revoked grant, or an account the credential may not read.
    #[error("authenticate")]
    Unauthenticated,
    /// Unknown path, unknown SID, or an account that does not exist.
    #[error("the requested resource {path} was not found")]
    NotFound { path: String },
    /// A `PageToken` we did not issue (`docs/twilio-api.md` §3: code 21481).
    #[error("invalid page token")]
    BadPageToken,
    /// A parameter value we cannot parse (`PageSize=abc`, `StartTime=yesterday`).
    #[error("invalid value {value:?} for parameter {name}")]
    InvalidParameter { name: String, value: String },
    /// Only GET is served; the exporter never writes.
    #[error("method not allowed")]
    MethodNotAllowed,
}

impl SimError {
    pub(crate) fn not_found(path: &str) -> Self {
        SimError::NotFound {
            path: path.to_owned(),
        }
    }

    pub(crate) fn invalid(name: &str, value: &str) -> Self {
        SimError::InvalidParameter {
            name: name.to_owned(),
            value: value.to_owned(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            SimError::Unauthenticated => StatusCode::UNAUTHORIZED,
            SimError::NotFound { .. } => StatusCode::NOT_FOUND,
            SimError::BadPageToken | SimError::InvalidParameter { .. } => StatusCode::BAD_REQUEST,
            SimError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    fn code(&self) -> u32 {
        match self {
            SimError::Unauthenticated => 20003,
            SimError::NotFound { .. } => 20404,
            SimError::BadPageToken => 21481,
            // Twilio's code for a malformed parameter value is not documented
            // (unverified); 20001 is the generic "invalid parameter" family.
            SimError::InvalidParameter { .. } => 20001,
            SimError::MethodNotAllowed => 20004,
        }
    }

    fn message(&self) -> String {
        match self {
            // The exact text Twilio sends with code 20003; clients may compare it.
            SimError::Unauthenticated => "Authenticate".to_owned(),
            SimError::NotFound { path } => format!("The requested resource {path} was not found"),
            SimError::BadPageToken => "Invalid PageToken".to_owned(),
            SimError::InvalidParameter { name, value } => {
                format!("Invalid value '{value}' for parameter {name}")
            }
            SimError::MethodNotAllowed => "Method not allowed".to_owned(),
        }
    }
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        let body = json!({
            "code": code,
            "message": self.message(),
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status.as_u16(),
        });
        (status, Json(body)).into_response()
    }
}
