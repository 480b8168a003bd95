//! The Authorize URL (`GET /connect/authorize`) and its success page.
//!
//! Twilio redirects the browser here with `AccountSid` and our `state` echoed back, or with
//! `error=unauthorized_client` (`docs/twilio-api.md` §2.1). The redirect is unsigned, so
//! the order is: parse the sid, have the `state` admitted (`guard`: issued by us, unexpired,
//! equal to the cookie set by `GET /`, not used before, within the rate of grant checks; it
//! is used up from then on), then prove the grant with `GET /Accounts/{sid}.json` as (sid,
//! our token). Only then is anything stored. Every answer clears the state cookie. With
//! discovery on, every account the grant can read (§2.2: the user's parent and its
//! subaccounts) is registered too, reached with the Connect sid's credentials. The answer is a
//! 303 to `connected`, so the sid never stays in the address bar or the history.
//!
//! This module does not handle revocation (`deauthorize` does).

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use std::time::{Duration, Instant, SystemTime};

use super::guard::Refusal;
use super::{cookie, pages, set_cookie, state_cookie, ReceiverError, ReceiverState, STATE_COOKIE};
use crate::domain::AccountSid;
use crate::fetch::FetchError;
use crate::registry::{AccountStatus, NewAccount};

/// The parameters of the Authorize URL; each may appear at most once.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct AuthorizeQuery {
    pub account_sid: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

impl AuthorizeQuery {
    /// Parses a raw query string; unknown parameters are ignored, repeated known ones refused.
    pub(super) fn parse(raw: &str) -> Result<Self, ReceiverError> {
        let mut q = Self::default();
        for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
            let slot = match k.as_ref() {
                "AccountSid" => &mut q.account_sid,
                "state" => &mut q.state,
                "error" => &mut q.error,
                _ => continue,
            };
            if slot.replace(v.into_owned()).is_some() {
                return Err(ReceiverError::BadRequest(format!("{k} is repeated")));
            }
        }
        Ok(q)
    }
}

/// What a successful authorize request did.
enum Authorized {
    /// The grant was proven and stored; `accounts` are now exported through it.
    Connected { accounts: u64 },
    /// The user declined on Twilio's side.
    Denied,
}

/// `GET /connect/authorize`.
pub(super) async fn authorize(
    State(state): State<ReceiverState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let result = handle(&state, query.as_deref().unwrap_or_default(), &headers).await;
    let outcome = match &result {
        Ok(Authorized::Connected { .. }) => "connected",
        Ok(Authorized::Denied) => "denied",
        Err(e) => e.outcome(),
    };
    state.inner.metrics.record("authorize", outcome);
    let mut resp = match result {
        Ok(Authorized::Connected { accounts }) => {
            // Relative, so that it works under any prefix a proxy adds.
            let mut resp = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("connected?accounts={accounts}")) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Ok(Authorized::Denied) => Html(pages::not_connected()).into_response(),
        Err(e) => e.into_response(),
    };
    // Whatever the outcome, this attempt is over; a new one starts at `GET /`.
    set_cookie(&mut resp, &state_cookie(&state, "", 0));
    resp
}

async fn handle(
    state: &ReceiverState,
    raw_query: &str,
    headers: &HeaderMap,
) -> Result<Authorized, ReceiverError> {
    let started = Instant::now();
    let q = AuthorizeQuery::parse(raw_query)?;
    if let Some(error) = &q.error {
        if let Some(left_out) = super::log_budget::DECLINED.take() {
            let shown: String = error.chars().take(64).collect();
            tracing::info!(error = %shown, left_out, "Connect authorization declined on Twilio");
        }
        return Ok(Authorized::Denied);
    }
    let sid = q
        .account_sid
        .as_deref()
        .ok_or_else(|| ReceiverError::BadRequest("AccountSid is missing".to_owned()))
        .and_then(|s| AccountSid::parse(s).map_err(|e| ReceiverError::BadRequest(e.to_string())))?;
    let cookie = cookie(headers, STATE_COOKIE);
    state
        .inner
        .guard
        .admit(q.state.as_deref(), cookie.as_deref(), SystemTime::now())
        .map_err(|refusal| match refusal {
            Refusal::State(why) => ReceiverError::BadState(why),
            Refusal::Throttled => ReceiverError::Throttled,
        })?;

    // Our token is our own account's credential: for it, the API proves no grant.
    let owner = state.inner.config.owner_account_sid.as_ref();
    if owner == Some(&sid) {
        return Err(ReceiverError::OwnAccount { account: sid });
    }
    // The redirect is unsigned: only the API can say whether this sid is ours to read.
    let info = match state.inner.client.fetch_account(&sid, &sid).await {
        Ok(info) => info,
        Err(
            e @ (FetchError::Unauthorized { .. }
            | FetchError::NotFound { .. }
            | FetchError::Rejected { .. }),
        ) => {
            return Err(ReceiverError::NotGranted {
                account: sid,
                cause: e,
            })
        }
        Err(e) => return Err(ReceiverError::Unavailable(e)),
    };
    if owner.is_some_and(|o| info.owner_account_sid.as_deref() == Some(o.as_str())) {
        return Err(ReceiverError::OwnAccount { account: sid });
    }
    let registry = &state.inner.registry;
    registry
        .upsert_account(&NewAccount::confirmed(sid.clone(), sid.clone(), info))
        .await?;
    let discovered = if state.inner.config.discover {
        discover(state, &sid, state.time_left(started)).await?
    } else {
        0
    };
    tracing::info!(account = %sid, discovered, "Connect account authorized");
    Ok(Authorized::Connected {
        accounts: 1 + discovered,
    })
}

/// Registers the other accounts `connect_sid` can read, reached with its credentials, if
/// Twilio lists them within `budget`. An account already exported through another working
/// credential keeps it. A failed or late listing is logged and leaves the grant itself
/// connected.
async fn discover(
    state: &ReceiverState,
    connect_sid: &AccountSid,
    budget: Duration,
) -> Result<u64, ReceiverError> {
    let listing = state.inner.client.list_accounts(connect_sid);
    let listed = match tokio::time::timeout(budget, listing).await {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => {
            tracing::warn!(stage = "receiving", account = %connect_sid, error = %e, "Cannot list the accounts of a new grant; only the Connect account is exported");
            return Ok(0);
        }
        Err(_) => {
            tracing::warn!(stage = "receiving", account = %connect_sid, "Twilio did not list the accounts of a new grant in time; only the Connect account is exported (authorizing again lists them)");
            return Ok(0);
        }
    };
    let registry = &state.inner.registry;
    let mut added = 0;
    let owner = state
        .inner
        .config
        .owner_account_sid
        .as_ref()
        .map(AccountSid::as_str);
    for a in listed {
        if &a.sid == connect_sid {
            continue;
        }
        if owner.is_some_and(|o| a.sid.as_str() == o || a.owner_account_sid.as_deref() == Some(o)) {
            tracing::warn!(account = %a.sid, via = %connect_sid, "A grant lists the app owner's own account or one of its subaccounts: not registered");
            continue;
        }
        if let Some(known) = registry.account(&a.sid).await? {
            if known.status == AccountStatus::Active && &known.credential_sid != connect_sid {
                tracing::info!(account = %a.sid, via = %known.credential_sid, "Discovered account is already exported through another credential");
                continue;
            }
        }
        let new = NewAccount::confirmed(a.sid.clone(), connect_sid.clone(), a);
        registry.upsert_account(&new).await?;
        added += 1;
    }
    Ok(added)
}

/// `GET /connect/connected`: the success page.
pub(super) async fn connected(RawQuery(query): RawQuery) -> Response {
    let accounts = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "accounts")
        .and_then(|(_, v)| v.parse::<u64>().ok());
    Html(pages::connected(accounts)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_parameters_and_refuses_repeats() {
        let q = AuthorizeQuery::parse("AccountSid=AC1&state=a%2Bb&x=1").unwrap();
        assert_eq!(q.account_sid.as_deref(), Some("AC1"));
        assert_eq!(q.state.as_deref(), Some("a+b"));
        assert_eq!(q.error, None);
        assert!(AuthorizeQuery::parse("state=a&state=a").is_err());
        assert_eq!(
            AuthorizeQuery::parse("").unwrap(),
            AuthorizeQuery::default()
        );
        assert_eq!(
            AuthorizeQuery::parse("error=unauthorized_client")
                .unwrap()
                .error
                .as_deref(),
            Some("unauthorized_client")
        );
    }
}
