//! The Deauthorize callback (`GET` or `POST /connect/deauthorize`, README §2.3).
//!
//! Order matters: the `X-Twilio-Signature` is checked first (over `public_url` + the path and
//! query as received, plus the form parameters of a POST, §7), then the `ConnectAppSid` must
//! be ours; only then is `AccountSid` read. A bad, missing or foreign callback is answered 403
//! and changes nothing.
//!
//! A signature carries no nonce, so a callback recorded once verifies for ever: replayed
//! after the user authorized the app again, it would deauthorize a live grant (and, with
//! `--purge-deauthorized-after`, purge its data). So a callback is a hint and the API decides,
//! as at authorization: before an active account is marked, its grant is tried
//! (`GET /Accounts/{sid}.json` as the account). If Twilio still accepts it, nothing changes.
//! If Twilio refuses it, or cannot be asked, the account, with every account reached
//! through it, is marked deauthorized. Exports skip deauthorized accounts; a later
//! authorization re-activates them.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};

use super::{signature, ReceiverError, ReceiverState};
use crate::domain::{AccountSid, ConnectAppSid};
use crate::fetch::FetchError;
use crate::registry::{instant_text, AccountStatus};

/// The reason stored with the accounts a valid callback deauthorizes.
pub const REASON: &str = "the user revoked our Connect App (deauthorize callback)";

/// What a valid callback did.
enum Done {
    Deauthorized,
    UnknownAccount,
    AlreadyDeauthorized,
    /// The API still accepts the grant: a replayed (or early) callback; nothing changed.
    StillAuthorized,
    /// Another callback's check of the same grant did not end in this one's time: that
    /// check decides; nothing changed here.
    BeingChecked,
}

/// `GET|POST /connect/deauthorize`.
pub(super) async fn deauthorize(
    State(state): State<ReceiverState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let result = handle(&state, &method, &uri, &headers, &body, started).await;
    let outcome = match &result {
        Ok(Done::Deauthorized) => "deauthorized",
        Ok(Done::UnknownAccount) => "unknown_account",
        Ok(Done::AlreadyDeauthorized) => "already_deauthorized",
        Ok(Done::StillAuthorized) => "still_authorized",
        Ok(Done::BeingChecked) => "being_checked",
        Err(e) => e.outcome(),
    };
    state.inner.metrics.record("deauthorize", outcome);
    match result {
        Ok(_) => "ok\n".into_response(),
        Err(e) => e.into_response(),
    }
}

async fn handle(
    state: &ReceiverState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    started: Instant,
) -> Result<Done, ReceiverError> {
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let url = state.public_route(path_and_query);
    let query_params = pairs(uri.query().unwrap_or_default().as_bytes());
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    // Only form bodies are signed parameter by parameter; any other body is covered by
    // `bodySHA256` in the URL, if at all (§7).
    let (form_params, raw_body) = if *method == Method::POST && is_form {
        (pairs(body), None)
    } else {
        (Vec::new(), Some(body))
    };

    let sig = headers
        .get("x-twilio-signature")
        .ok_or(ReceiverError::MissingSignature)?
        .to_str()
        .map_err(|_| ReceiverError::BadSignature)?;
    if !signature::is_valid(
        state.inner.token.expose(),
        &url,
        &form_params,
        raw_body,
        sig,
    ) {
        return Err(ReceiverError::BadSignature);
    }

    // Body parameters first, then the query's.
    let get = |name: &str| -> Result<Option<&str>, ReceiverError> {
        let source = if form_params.iter().any(|(k, _)| k == name) {
            &form_params
        } else {
            &query_params
        };
        let mut values = source.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        let first = values.next();
        if values.next().is_some() {
            return Err(ReceiverError::BadRequest(format!("{name} is repeated")));
        }
        Ok(first.map(String::as_str))
    };
    let app = get("ConnectAppSid")?.and_then(|s| ConnectAppSid::parse(s).ok());
    if app.as_ref() != Some(&state.inner.config.connect_app_sid) {
        return Err(ReceiverError::ForeignApp);
    }
    let sid = get("AccountSid")?
        .ok_or_else(|| ReceiverError::BadRequest("AccountSid is missing".to_owned()))
        .and_then(|s| AccountSid::parse(s).map_err(|e| ReceiverError::BadRequest(e.to_string())))?;

    mark(state, &sid, started).await
}

/// Marks `sid` (and the accounts reached through it) deauthorized, unless it is unknown,
/// already marked, or the API still accepts its grant; a check that cannot finish in the
/// request's time ([`ReceiverState::time_left`]) counts as one Twilio could not answer.
async fn mark(
    state: &ReceiverState,
    sid: &AccountSid,
    started: Instant,
) -> Result<Done, ReceiverError> {
    let Ok(_turn) = tokio::time::timeout(state.time_left(started), state.check_turn(sid)).await
    else {
        tracing::debug!(account = %sid, "Deauthorize callback while another one's check of the grant goes on: that check decides");
        return Ok(Done::BeingChecked);
    };
    let registry = &state.inner.registry;
    let credential = match registry.account(sid).await? {
        None => {
            tracing::info!(account = %sid, "Deauthorize callback for an account we do not know");
            return Ok(Done::UnknownAccount);
        }
        Some(a) if a.status != AccountStatus::Active => {
            tracing::info!(account = %sid, status = %a.status, "Deauthorize callback for an account no longer exported: nothing changed");
            return Ok(Done::AlreadyDeauthorized);
        }
        // Tried as exports reach it: a discovered account through the grant that reads it.
        Some(a) => a.credential_sid,
    };
    // A new authorization after this instant wins over what the check below finds.
    let asked_at = instant_text(chrono::Utc::now());
    if state.confirmed_live_lately(sid) {
        if let Some(left_out) = super::log_budget::REPLAYED.take() {
            tracing::warn!(account = %sid, left_out, "Deauthorize callback for a grant Twilio confirmed live moments ago: nothing changed");
        }
        return Ok(Done::StillAuthorized);
    }
    let check = state.inner.client.fetch_account(&credential, sid);
    match tokio::time::timeout(state.time_left(started), check).await {
        Err(_) => {
            tracing::warn!(account = %sid, "Twilio did not say in time whether the grant is gone; the signed callback is taken at its word");
        }
        Ok(Ok(_)) => {
            state.confirmed_live(sid);
            tracing::warn!(account = %sid, "Deauthorize callback for a grant Twilio still accepts: nothing changed (a replayed or early callback; an export that meets the grant refused marks it then)");
            return Ok(Done::StillAuthorized);
        }
        Ok(Err(
            FetchError::Unauthorized { .. }
            | FetchError::NotFound { .. }
            | FetchError::Rejected { .. },
        )) => {}
        Ok(Err(e)) => {
            tracing::warn!(account = %sid, error = %e, "Cannot ask Twilio whether the grant is gone; the signed callback is taken at its word");
        }
    }
    let changed = registry
        .deauthorize_unless_verified_since(sid, REASON, Some(&asked_at))
        .await?;
    if changed > 0 {
        tracing::info!(account = %sid, accounts = changed, "Connect account deauthorized by the user");
        return Ok(Done::Deauthorized);
    }
    Ok(match registry.account(sid).await? {
        Some(a) if a.status == AccountStatus::Active => {
            tracing::warn!(account = %sid, "Deauthorize callback for a grant authorized again while it was checked: nothing changed");
            Done::StillAuthorized
        }
        _ => Done::AlreadyDeauthorized,
    })
}

fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
