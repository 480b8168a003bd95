//! Request routing: path → resource, authentication, and the handler call.
//!
//! Paths are matched by hand rather than with axum's router because Twilio's resource segments
//! end in `.json` (`/Accounts/{sid}.json`) and every miss must answer Twilio's 404 body
//! (`docs/twilio-api.md` §10.2). Only GET is served. This module holds no resource logic.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

use super::accounts::{self, ConnectApp};
use super::auth::{visible, Target};
use super::calls;
use super::error::SimError;
use super::query::Query;
use super::usage::Period;
use super::Simulator;

/// The resources we serve, with the SIDs taken from the path.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    AccountsList,
    Account(&'a str),
    Calls(&'a str),
    Call(&'a str, &'a str),
    UsageRecords(&'a str, Period),
    ConnectApps(&'a str),
    ConnectApp(&'a str, &'a str),
}

impl<'a> Route<'a> {
    fn parse(path: &'a str) -> Option<Self> {
        let rest = path.strip_prefix("/2010-04-01/")?;
        let segments: Vec<&str> = rest.split('/').collect();
        Some(match segments.as_slice() {
            ["Accounts.json"] => Route::AccountsList,
            ["Accounts", a] => Route::Account(a.strip_suffix(".json")?),
            ["Accounts", a, "Calls.json"] => Route::Calls(a),
            ["Accounts", a, "Calls", c] => Route::Call(a, c.strip_suffix(".json")?),
            ["Accounts", a, "Usage", "Records.json"] => Route::UsageRecords(a, Period::Root),
            ["Accounts", a, "Usage", "Records", p] => {
                Route::UsageRecords(a, Period::from_segment(p.strip_suffix(".json")?)?)
            }
            ["Accounts", a, "AuthorizedConnectApps.json"] => Route::ConnectApps(a),
            ["Accounts", a, "AuthorizedConnectApps", c] => {
                Route::ConnectApp(a, c.strip_suffix(".json")?)
            }
            _ => return None,
        })
    }
}

/// The single axum handler behind every path.
pub(crate) async fn dispatch(
    State(sim): State<Simulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let generation = match sim.inner.replay.get(&uri, &headers) {
        Ok(kept) if method == Method::GET => return json(kept),
        Ok(_) => 0,
        Err(generation) => generation,
    };
    match handle(&sim, &method, &uri, &headers) {
        Ok(body) => {
            let body = Bytes::from(serde_json::to_vec(&body).expect("a JSON value serializes"));
            sim.inner.replay.keep(&uri, &headers, &body, generation);
            json(body)
        }
        Err(e) => e.into_response(),
    }
}

/// A JSON body, as axum's `Json` sends it.
fn json(body: Bytes) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

fn handle(
    sim: &Simulator,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Value, SimError> {
    let path = uri.path();
    let route = Route::parse(path).ok_or_else(|| SimError::not_found(path))?;
    if method != Method::GET {
        return Err(SimError::MethodNotAllowed);
    }
    let q = Query::parse(uri.query());
    let data = &sim.inner.data;
    let account_of = |sid: &str| {
        sim.authorize(headers, Target::Account(sid), path)
            .map(|(_, t)| &data.accounts[t])
    };
    // The data of a suspended or closed account answers 401; its Account resource does not.
    let data_of = |sid: &str| {
        account_of(sid).and_then(|a| match a.status {
            "active" => Ok(a),
            _ => Err(SimError::Unauthenticated),
        })
    };
    match route {
        Route::AccountsList => {
            let (cred, _) = sim.authorize(headers, Target::AnyAccount, path)?;
            accounts::list_accounts(data, &data.accounts[cred], &visible(data, cred), &q, path)
        }
        Route::Account(sid) => Ok(accounts::render_account(data, account_of(sid)?)),
        Route::Calls(sid) => {
            let quirks = calls::Quirks {
                sloppy: sim.inner.cfg.sloppy_pages,
                late_call: sim.inner.cfg.late_call,
            };
            calls::list(data, data_of(sid)?, &q, path, quirks)
        }
        Route::Call(sid, call) => calls::fetch(data, data_of(sid)?, call, path),
        Route::UsageRecords(sid, period) => {
            sim.inner.usage.list(data, data_of(sid)?, period, &q, path)
        }
        Route::ConnectApps(sid) => {
            let app = ConnectApp {
                sid: &sim.inner.cfg.connect_app_sid,
            };
            app.list(data, account_of(sid)?, &q, path)
        }
        Route::ConnectApp(sid, cn) => {
            let app = ConnectApp {
                sid: &sim.inner.cfg.connect_app_sid,
            };
            app.fetch(account_of(sid)?, cn, path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_route_and_rejects_near_misses() {
        let p = |s| Route::parse(s);
        assert_eq!(p("/2010-04-01/Accounts.json"), Some(Route::AccountsList));
        assert_eq!(
            p("/2010-04-01/Accounts/AC1.json"),
            Some(Route::Account("AC1"))
        );
        assert_eq!(
            p("/2010-04-01/Accounts/AC1/Calls.json"),
            Some(Route::Calls("AC1"))
        );
        assert_eq!(
            p("/2010-04-01/Accounts/AC1/Calls/CA2.json"),
            Some(Route::Call("AC1", "CA2"))
        );
        assert_eq!(
            p("/2010-04-01/Accounts/AC1/Usage/Records/LastMonth.json"),
            Some(Route::UsageRecords("AC1", Period::LastMonth))
        );
        assert_eq!(
            p("/2010-04-01/Accounts/AC1/Usage/Records.json"),
            Some(Route::UsageRecords("AC1", Period::Root))
        );
        assert_eq!(
            p("/2010-04-01/Accounts/AC1/AuthorizedConnectApps/CN3.json"),
            Some(Route::ConnectApp("AC1", "CN3"))
        );
        for miss in [
            "/2010-04-01/Accounts",
            "/2010-04-01/Accounts/AC1/Calls",
            "/2010-04-01/Accounts/AC1/Calls.json/",
            "/2010-04-01/Accounts/AC1/Usage/Records/Weekly.json",
            "/2010-04-01/Accounts/AC1/Messages.json",
            "/2010-04-02/Accounts.json",
            "/",
        ] {
            assert_eq!(p(miss), None, "{miss}");
        }
    }
}
