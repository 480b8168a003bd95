//! Twilio Connect, as the simulator plays it (`docs/twilio-api.md` §2, §10.10).
//!
//! - The consent page `GET /authorize/{CN…}?state=…`: the user picks one of their (main)
//!   accounts and presses Authorize or Deny; `POST /authorize/{CN…}` redirects the browser to
//!   [`SimConfig::authorize_url`] with `AccountSid` and the `state` it was given, or with only
//!   `error=unauthorized_client`. The Authorize URL is configuration (as on Twilio, where it is
//!   part of the Connect App), not a request parameter. Authorizing again restores a revoked
//!   grant.
//! - The account tree: with [`SimConfig::subaccounts`] > 0 every generated account gets that
//!   many subaccounts, the first being the Connect subaccount Twilio creates for our app. Its
//!   sid is what Authorize hands out; with `get-all` its credentials read its parent and the
//!   parent's other subaccounts ([`visible`]). With 0 (the default) accounts stay flat and
//!   Authorize hands out the account's own sid.
//! - `POST /authorize/{CN…}/revoke`: the user revokes the app; the grant answers 401 from then on.
//! - [`send_deauthorize`]: the deauthorize callback, signed per §7 (or deliberately not). It is
//!   the simulator's only outbound request, made on demand by `twilio-export sim deauthorize`.
//!
//! This module does not check Basic auth (`auth` does, through [`visible`]).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use std::sync::PoisonError;
use url::Url;

use super::data::{make_account, Dataset};
use super::sign;
use super::Simulator;

/// Adds `per_account` subaccounts under each generated (main) account; the first of each is
/// the Connect subaccount. Sids follow the flat numbering, so they are as deterministic.
pub(crate) fn add_subaccounts(data: &mut Dataset, per_account: usize) {
    let mains = data.accounts.len();
    for parent in 0..mains {
        let parent_name = data.accounts[parent].friendly_name.clone();
        for k in 0..per_account {
            let idx = data.accounts.len();
            let mut a = make_account(data.seed(), idx, data.first_day);
            a.parent = Some(parent);
            a.friendly_name = if k == 0 {
                format!("{parent_name} (twilio-export Connect)")
            } else {
                format!("{parent_name} subaccount {k}")
            };
            data.accounts.push(a);
        }
    }
}

/// The Connect subaccount of main account `parent`: its first subaccount.
fn connect_subaccount_of(data: &Dataset, parent: usize) -> Option<usize> {
    data.accounts
        .iter()
        .find(|a| a.parent == Some(parent))
        .map(|a| a.idx)
}

fn children(data: &Dataset, parent: usize) -> impl Iterator<Item = usize> + '_ {
    data.accounts
        .iter()
        .filter(move |a| a.parent == Some(parent))
        .map(|a| a.idx)
}

/// Whether `cred` may be the user name of a request made with the app owner's token: an
/// account Twilio created for the app's grant. In a tree that is a Connect subaccount only (a
/// user's main account, or another subaccount, has its own token, which we never hold); flat,
/// every account stands for its own grant.
pub(crate) fn is_grant(data: &Dataset, cred: usize) -> bool {
    match data.accounts.get(cred).map(|a| a.parent) {
        Some(Some(p)) => connect_subaccount_of(data, p) == Some(cred),
        Some(None) => children(data, cred).next().is_none(),
        None => false,
    }
}

/// The accounts credential `cred` may read, itself first: a Connect subaccount (granted
/// `get-all`) reads its parent and the parent's subaccounts; a main account reads its
/// subaccounts; any other subaccount only itself.
pub(crate) fn visible(data: &Dataset, cred: usize) -> Vec<usize> {
    let Some(a) = data.accounts.get(cred) else {
        return Vec::new();
    };
    let mut out = vec![cred];
    match a.parent {
        Some(p) if connect_subaccount_of(data, p) == Some(cred) => {
            out.push(p);
            out.extend(children(data, p).filter(|&c| c != cred));
        }
        Some(_) => {}
        None => out.extend(children(data, cred)),
    }
    out
}

impl Simulator {
    /// Ground truth: the main (top-level) accounts, in a stable order.
    pub fn main_account_sids(&self) -> Vec<String> {
        let data = &self.inner.data;
        data.accounts
            .iter()
            .filter(|a| a.parent.is_none())
            .map(|a| a.sid.clone())
            .collect()
    }

    /// Ground truth: the sid the consent page hands out for main account `main`: its Connect
    /// subaccount in a tree, the account itself when flat. `None` for an unknown account.
    pub fn granted_sid(&self, main: &str) -> Option<String> {
        let data = &self.inner.data;
        let acct = data.account_by_sid(main)?;
        let idx = connect_subaccount_of(data, acct.idx).unwrap_or(acct.idx);
        Some(data.accounts[idx].sid.clone())
    }

    /// Ground truth: the subaccounts of `main`, the Connect subaccount first.
    pub fn subaccount_sids(&self, main: &str) -> Vec<String> {
        let data = &self.inner.data;
        match data.account_by_sid(main) {
            Some(a) => children(data, a.idx)
                .map(|i| data.accounts[i].sid.clone())
                .collect(),
            None => Vec::new(),
        }
    }

    /// Restores a revoked grant (what authorizing again does).
    pub fn reinstate(&self, account: &str) {
        self.inner
            .revoked
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(account);
    }
}

/// `GET /authorize/{CN…}`: the consent page.
pub(crate) async fn consent(
    State(sim): State<Simulator>,
    Path(cn): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let cfg = sim.config();
    if cn != cfg.connect_app_sid {
        return unknown_app();
    }
    let state = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let options: String = sim
        .inner
        .data
        .accounts
        .iter()
        .filter(|a| a.parent.is_none())
        .map(|a| {
            format!(
                "<option value=\"{}\">{}</option>",
                escape(&a.sid),
                escape(&a.friendly_name)
            )
        })
        .collect();
    let body = format!(
        "<h1>Authorize twilio-export</h1>\n\
         <p>twilio-export (simulated Connect App {cn}) asks to <strong>read all account data</strong> \
         (get-all).</p>\n\
         <form method=\"post\" action=\"/authorize/{cn}\">\n\
         <input type=\"hidden\" name=\"state\" value=\"{state}\">\n\
         <p><label for=\"account\">Account</label>\n<select id=\"account\" name=\"account\">{options}</select></p>\n\
         <p><button id=\"authorize\" type=\"submit\" name=\"decision\" value=\"authorize\">Authorize</button>\n\
         <button id=\"deny\" type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></p>\n\
         </form>",
        cn = escape(&cfg.connect_app_sid),
        state = escape(&state),
    );
    html(StatusCode::OK, "Authorize", &body)
}

/// `POST /authorize/{CN…}/revoke` with the form field `AccountSid`: the user revokes our app
/// (as in Twilio's Console), so that the grant's credentials answer 401 from now on. Twilio then
/// calls the app's Deauthorize URL: `twilio-export sim deauthorize --sim …` does both.
pub(crate) async fn revoke(
    State(sim): State<Simulator>,
    Path(cn): Path<String>,
    body: Bytes,
) -> Response {
    if cn != sim.config().connect_app_sid {
        return unknown_app();
    }
    let account = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "AccountSid")
        .map(|(_, v)| v.into_owned());
    match account {
        Some(sid) if sid.starts_with("AC") => {
            sim.revoke(&sid);
            (StatusCode::OK, "revoked\n").into_response()
        }
        _ => html(
            StatusCode::BAD_REQUEST,
            "Unknown account",
            "<p>No such account.</p>",
        ),
    }
}

/// `POST /authorize/{CN…}`: the user's decision, answered with the redirect Twilio makes.
pub(crate) async fn decide(
    State(sim): State<Simulator>,
    Path(cn): Path<String>,
    body: Bytes,
) -> Response {
    let cfg = sim.config();
    if cn != cfg.connect_app_sid {
        return unknown_app();
    }
    let Some(mut target) = cfg
        .authorize_url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
    else {
        return html(
            StatusCode::SERVICE_UNAVAILABLE,
            "No Authorize URL",
            "<p>The simulator has no valid Authorize URL; start it with --authorize-url.</p>",
        );
    };
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("decision") == Some("authorize") {
        let main = field("account")
            .map(str::to_owned)
            .or_else(|| sim.main_account_sids().into_iter().next());
        let Some(granted) = main.as_deref().and_then(|m| sim.granted_sid(m)) else {
            return html(
                StatusCode::BAD_REQUEST,
                "Unknown account",
                "<p>No such account.</p>",
            );
        };
        sim.reinstate(&granted);
        let mut q = target.query_pairs_mut();
        q.append_pair("AccountSid", &granted);
        if let Some(state) = field("state").filter(|s| !s.is_empty()) {
            q.append_pair("state", state);
        }
    } else {
        target
            .query_pairs_mut()
            .append_pair("error", "unauthorized_client");
    }
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}

fn unknown_app() -> Response {
    html(
        StatusCode::NOT_FOUND,
        "Unknown Connect App",
        "<p>There is no Connect App with this sid.</p>",
    )
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{} · Twilio simulator</title></head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n",
        escape(title)
    );
    (status, Html(page)).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// How a simulated deauthorize callback is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    /// With the token, as Twilio does (§7).
    Valid,
    /// With another key.
    Wrong,
    /// No `X-Twilio-Signature` header.
    Absent,
}

/// A deauthorize callback to send.
#[derive(Clone, Debug)]
pub struct DeauthorizeCallback {
    /// The receiver's Deauthorize URL.
    pub url: String,
    pub account_sid: String,
    pub connect_app_sid: String,
    /// POST with a form body; otherwise GET with the parameters in the query.
    pub post: bool,
    pub signing: Signing,
}

/// Revokes `account`'s grant of `app` at the simulator `base` (`POST /authorize/{app}/revoke`).
pub async fn revoke_at(base: &str, app: &str, account: &str) -> Result<(), String> {
    let url = format!("{}/authorize/{app}/revoke", base.trim_end_matches('/'));
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("AccountSid", account)
        .finish();
    let answer = reqwest::Client::new()
        .post(&url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| format!("cannot revoke at {url}: {e}"))?;
    if answer.status().is_success() {
        Ok(())
    } else {
        Err(format!("{url} answered HTTP {}", answer.status().as_u16()))
    }
}

/// Sends `cb` signed with `token` (the Connect App owner's); returns the HTTP status.
pub async fn send_deauthorize(cb: &DeauthorizeCallback, token: &str) -> Result<u16, String> {
    let mut url = Url::parse(&cb.url).map_err(|e| format!("--url {:?}: {e}", cb.url))?;
    let params = vec![
        ("AccountSid".to_owned(), cb.account_sid.clone()),
        ("ConnectAppSid".to_owned(), cb.connect_app_sid.clone()),
    ];
    if !cb.post {
        url.query_pairs_mut().extend_pairs(&params);
    }
    let signed_params: &[(String, String)] = if cb.post { &params } else { &[] };
    let key = match cb.signing {
        Signing::Wrong => format!("{token}-but-wrong"),
        _ => token.to_owned(),
    };
    let signature = sign::signature(&key, url.as_str(), signed_params);
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let mut req = if cb.post {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        http.post(url.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
    } else {
        http.get(url.clone())
    };
    if cb.signing != Signing::Absent {
        req = req.header("X-Twilio-Signature", signature);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("cannot reach {}: {e}", cb.url))?;
    Ok(resp.status().as_u16())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn dataset(accounts: usize, subaccounts: usize) -> Dataset {
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
        let mut data = Dataset::new(3, accounts, 2, 5, today);
        add_subaccounts(&mut data, subaccounts);
        data
    }

    #[test]
    fn flat_accounts_see_only_themselves() {
        let data = dataset(3, 0);
        assert_eq!(data.accounts.len(), 3);
        for i in 0..3 {
            assert_eq!(visible(&data, i), vec![i]);
        }
        assert!(visible(&data, 7).is_empty());
    }

    #[test]
    fn the_connect_subaccount_reads_its_parent_and_siblings_only() {
        // Mains 0 and 1; subaccounts 2, 3, 4 of main 0 and 5, 6, 7 of main 1.
        let data = dataset(2, 3);
        assert_eq!(data.accounts.len(), 8);
        assert!(data.accounts.iter().enumerate().all(|(i, a)| a.idx == i));
        assert_eq!(connect_subaccount_of(&data, 0), Some(2));
        assert_eq!(visible(&data, 2), vec![2, 0, 3, 4]);
        assert_eq!(visible(&data, 5), vec![5, 1, 6, 7]);
        assert_eq!(visible(&data, 0), vec![0, 2, 3, 4]);
        assert_eq!(visible(&data, 3), vec![3], "a plain subaccount");
        // Sids are distinct and stable.
        let again = dataset(2, 3);
        let sids = |d: &Dataset| d.accounts.iter().map(|a| a.sid.clone()).collect::<Vec<_>>();
        assert_eq!(sids(&data), sids(&again));
        let mut unique = sids(&data);
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 8);
    }
}
