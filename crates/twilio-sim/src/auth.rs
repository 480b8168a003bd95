//! Basic authentication the way Twilio Connect uses it (`docs/twilio-api.md` §1, §2, §10.1).
//!
//! The username is a connected account's SID and the password is always the Connect app owner's
//! token (`SimConfig::auth_token`). A credential reads its own account and, in an account tree,
//! what `get-all` shows it; [`visible`] (rules in `connect`) is the one place that decides.
//!
//! Decisions (documented for clients and tests):
//! - missing/malformed header, wrong token, unknown or revoked username, or one that is not a
//!   grant (in a tree, a user's main account or a subaccount other than the Connect one: the
//!   owner's token is not theirs) → 401 code 20003;
//! - valid credential, unknown account in the path → 404 code 20404;
//! - valid credential, a known account it may not read → 401 code 20003.

use std::collections::HashSet;

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use subtle::ConstantTimeEq;

use super::data::Dataset;
use super::error::SimError;

/// The Basic credential of a request.
pub(crate) struct Credentials {
    pub(crate) username: String,
    password: String,
}

impl Credentials {
    /// Parses `Authorization: Basic base64(user:password)`; `None` when absent or malformed.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, b64) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
        let (username, password) = decoded.split_once(':')?;
        Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        })
    }
}

/// What a request wants to read.
pub(crate) enum Target<'a> {
    /// `/Accounts.json`: any known account may list what it can see.
    AnyAccount,
    /// A resource under `/Accounts/{sid}`.
    Account(&'a str),
}

/// Who may read what.
pub(crate) struct Gate<'a> {
    pub(crate) data: &'a Dataset,
    pub(crate) auth_token: &'a str,
    pub(crate) revoked: &'a HashSet<String>,
}

impl Gate<'_> {
    /// Returns (credential account, target account) indexes, or the error to answer with.
    pub(crate) fn check(
        &self,
        headers: &HeaderMap,
        target: Target<'_>,
        path: &str,
    ) -> Result<(usize, usize), SimError> {
        let creds = Credentials::from_headers(headers).ok_or(SimError::Unauthenticated)?;
        let token_ok: bool = creds
            .password
            .as_bytes()
            .ct_eq(self.auth_token.as_bytes())
            .into();
        if !token_ok || self.revoked.contains(&creds.username) {
            return Err(SimError::Unauthenticated);
        }
        let cred = self
            .data
            .account_by_sid(&creds.username)
            .filter(|a| super::connect::is_grant(self.data, a.idx))
            .ok_or(SimError::Unauthenticated)?
            .idx;
        let target = match target {
            Target::AnyAccount => cred,
            Target::Account(sid) => {
                self.data
                    .account_by_sid(sid)
                    .ok_or_else(|| SimError::not_found(path))?
                    .idx
            }
        };
        if visible(self.data, cred).contains(&target) {
            Ok((cred, target))
        } else {
            Err(SimError::Unauthenticated)
        }
    }
}

/// The accounts a credential may read, itself first. With `get-all` the real API also shows the
/// user's parent account and its subaccounts (`docs/twilio-api.md` §2.2); add that here with the tree.
pub(crate) fn visible(data: &Dataset, cred: usize) -> Vec<usize> {
    // The tree rules live with the rest of Connect.
    super::connect::visible(data, cred)
}
