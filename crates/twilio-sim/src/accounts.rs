//! Accounts and AuthorizedConnectApps endpoints (`docs/twilio-api.md` §2.4).
//!
//! `Accounts.json` lists the accounts a credential may read; an Account body includes a fake
//! `auth_token` because the real one does (`docs/twilio-api.md` §2.4 warns never to log it). The only
//! authorized Connect app is ours (`SimConfig::connect_app_sid`) with `get-all`.
//! This module does not authenticate; `routes` decides which accounts a credential may read.

use serde_json::{json, Value};

use super::data::{rfc2822, Account, Dataset};
use super::error::SimError;
use super::paging::{envelope, OffsetPager, Page, PageRequest};
use super::query::Query;
use super::rng::TAG_ACCOUNT;

/// Tag for AuthorizedConnectApps page tokens (distinct from every `rng` tag).
const TAG_CONNECT_APP_LIST: u64 = 101;

/// Account subresources in the order Twilio's examples list them.
const ACCOUNT_SUBRESOURCES: [(&str, &str); 20] = [
    ("addresses", "Addresses"),
    ("conferences", "Conferences"),
    ("signing_keys", "SigningKeys"),
    ("transcriptions", "Transcriptions"),
    ("connect_apps", "ConnectApps"),
    ("sip", "SIP"),
    ("authorized_connect_apps", "AuthorizedConnectApps"),
    ("usage", "Usage"),
    ("keys", "Keys"),
    ("applications", "Applications"),
    ("recordings", "Recordings"),
    ("short_codes", "SMS/ShortCodes"),
    ("calls", "Calls"),
    ("notifications", "Notifications"),
    ("incoming_phone_numbers", "IncomingPhoneNumbers"),
    ("queues", "Queues"),
    ("messages", "Messages"),
    ("outgoing_caller_ids", "OutgoingCallerIds"),
    ("available_phone_numbers", "AvailablePhoneNumbers"),
    ("balance", "Balance"),
];

/// Renders an Account resource.
pub(crate) fn render_account(data: &Dataset, a: &Account) -> Value {
    let owner = a
        .parent
        .and_then(|p| data.accounts.get(p))
        .map_or(a.sid.as_str(), |p| p.sid.as_str());
    let subresources: serde_json::Map<String, Value> = ACCOUNT_SUBRESOURCES
        .iter()
        .map(|(k, p)| {
            let uri = format!("/2010-04-01/Accounts/{}/{p}.json", a.sid);
            ((*k).to_owned(), Value::String(uri))
        })
        .collect();
    json!({
        "auth_token": a.own_auth_token,
        "date_created": rfc2822(a.date_created),
        "date_updated": rfc2822(a.date_updated),
        "friendly_name": a.friendly_name,
        "owner_account_sid": owner,
        "sid": a.sid,
        "status": a.status,
        "subresource_uris": subresources,
        "type": a.kind,
        "uri": format!("/2010-04-01/Accounts/{}.json", a.sid),
    })
}

/// `GET /2010-04-01/Accounts.json`: the accounts `visible` to the credential, filtered by
/// `FriendlyName` and `Status` (exact match).
pub(crate) fn list_accounts(
    data: &Dataset,
    cred: &Account,
    visible: &[usize],
    q: &Query,
    path: &str,
) -> Result<Value, SimError> {
    let req = PageRequest::parse(q)?;
    let name = q.get("FriendlyName");
    let status = q.get("Status");
    let matching: Vec<&Account> = visible
        .iter()
        .filter_map(|&i| data.accounts.get(i))
        .filter(|a| name.is_none_or(|n| a.friendly_name == n))
        .filter(|a| status.is_none_or(|s| a.status == s))
        .collect();
    let pager = OffsetPager::new(data.seed(), &[TAG_ACCOUNT, cred.idx as u64]);
    let window = pager.window(&req, matching.len())?;
    let records = matching[window.range]
        .iter()
        .map(|a| render_account(data, a))
        .collect();
    let page = Page {
        records,
        next_token: window.next_token,
        prev_token: window.prev_token,
    };
    Ok(envelope("accounts", path, q, &req, page))
}

/// The fixed description of our Connect app, as the user's account sees it.
pub(crate) struct ConnectApp<'a> {
    pub(crate) sid: &'a str,
}

impl ConnectApp<'_> {
    fn render(&self, acct: &Account) -> Value {
        json!({
            "account_sid": acct.sid,
            "connect_app_company_name": "twilio-export simulator",
            "connect_app_description": "Exports call logs and usage records to Parquet",
            "connect_app_friendly_name": "twilio-export",
            "connect_app_homepage_url": "https://example.com/twilio-export",
            "connect_app_sid": self.sid,
            "permissions": ["get-all"],
            "uri": format!(
                "/2010-04-01/Accounts/{}/AuthorizedConnectApps/{}.json",
                acct.sid, self.sid
            ),
        })
    }

    /// `GET .../AuthorizedConnectApps/{CN}.json`
    pub(crate) fn fetch(&self, acct: &Account, cn: &str, path: &str) -> Result<Value, SimError> {
        if cn == self.sid {
            Ok(self.render(acct))
        } else {
            Err(SimError::not_found(path))
        }
    }

    /// `GET .../AuthorizedConnectApps.json`
    pub(crate) fn list(
        &self,
        data: &Dataset,
        acct: &Account,
        q: &Query,
        path: &str,
    ) -> Result<Value, SimError> {
        let req = PageRequest::parse(q)?;
        let pager = OffsetPager::new(data.seed(), &[TAG_CONNECT_APP_LIST, acct.idx as u64]);
        let window = pager.window(&req, 1)?;
        let records = window.range.map(|_| self.render(acct)).collect();
        let page = Page {
            records,
            next_token: window.next_token,
            prev_token: window.prev_token,
        };
        Ok(envelope("authorized_connect_apps", path, q, &req, page))
    }
}
