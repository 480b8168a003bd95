//! Twilio's list paging: `PageSize`/`Page`/`PageToken` parsing, opaque offset tokens, and the
//! page envelope (`docs/twilio-api.md` §3 and §10.5).
//!
//! Lists other than Calls page by position: their tokens are `PA`/`PB` + base64 of the offset and
//! a keyed check, so a forged or foreign token is rejected with 21481. Calls use SID tokens and
//! their own cursor logic (`calls`). This module does not know which records it pages.

use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::error::SimError;
use super::query::{encode_value, Query};
use super::rng::{hash, TAG_TOKEN};

pub(crate) const DEFAULT_PAGE_SIZE: usize = 50;
pub(crate) const MAX_PAGE_SIZE: usize = 1000;

/// The paging parameters of one request.
#[derive(Debug, Clone)]
pub(crate) struct PageRequest {
    pub(crate) size: usize,
    /// Bookkeeping only: echoed in `page`/`start` and links; positions come from the token.
    pub(crate) page: usize,
    pub(crate) token: Option<String>,
}

impl PageRequest {
    pub(crate) fn parse(q: &Query) -> Result<Self, SimError> {
        let size = match q.get("PageSize") {
            None => DEFAULT_PAGE_SIZE,
            Some(raw) => match raw.parse::<usize>() {
                Ok(0) | Err(_) => return Err(SimError::invalid("PageSize", raw)),
                // Twilio documents 1000 as the maximum; we clamp rather than fail (unverified).
                Ok(n) => n.min(MAX_PAGE_SIZE),
            },
        };
        let page = match q.get("Page") {
            None => 0,
            Some(raw) => raw
                .parse::<usize>()
                .map_err(|_| SimError::invalid("Page", raw))?,
        };
        let token = q.get("PageToken").map(str::to_owned);
        Ok(PageRequest { size, page, token })
    }
}

/// One page of records plus the cursors for its neighbours.
pub(crate) struct Page {
    pub(crate) records: Vec<Value>,
    /// Token for the next page; `None` on the last page.
    pub(crate) next_token: Option<String>,
    /// Token for the previous page; ignored on page 0.
    pub(crate) prev_token: Option<String>,
}

/// Builds the list envelope. `path` is the list's path (no query); `key` names the records array.
pub(crate) fn envelope(key: &str, path: &str, q: &Query, req: &PageRequest, page: Page) -> Value {
    let filters = q.filters();
    let link = |page_no: usize, token: Option<&str>| {
        let mut s = format!("{path}?");
        if !filters.is_empty() {
            s.push_str(&filters);
            s.push('&');
        }
        let _ = write!(s, "PageSize={}&Page={page_no}", req.size);
        if let Some(t) = token {
            let _ = write!(s, "&PageToken={}", encode_value(t));
        }
        s
    };
    let n = page.records.len();
    let start = req.page * req.size;
    let end = if n == 0 { 0 } else { start + n - 1 };
    let next = page
        .next_token
        .as_deref()
        .map(|t| link(req.page + 1, Some(t)));
    let prev = (req.page > 0).then(|| link(req.page - 1, page.prev_token.as_deref()));
    let mut env = json!({
        "page": req.page,
        "page_size": req.size,
        "start": start,
        "end": end,
        "uri": link(req.page, req.token.as_deref()),
        "first_page_uri": link(0, None),
        "next_page_uri": next,
        "previous_page_uri": prev,
    });
    env[key] = Value::Array(page.records);
    env
}

/// The part of a list one page shows, and the tokens of its neighbours.
pub(crate) struct Window {
    pub(crate) range: std::ops::Range<usize>,
    pub(crate) next_token: Option<String>,
    pub(crate) prev_token: Option<String>,
}

/// Position-based paging for lists whose items can be addressed by index.
pub(crate) struct OffsetPager {
    seed: u64,
    /// Binds tokens to one credential and list kind so they cannot be replayed elsewhere.
    scope: u64,
}

impl OffsetPager {
    pub(crate) fn new(seed: u64, scope: &[u64]) -> Self {
        OffsetPager {
            seed,
            scope: hash(scope),
        }
    }

    /// Chooses the slice of a list of `total` items that `req` asks for, and the tokens of the
    /// neighbouring pages.
    pub(crate) fn window(&self, req: &PageRequest, total: usize) -> Result<Window, SimError> {
        let start = match &req.token {
            Some(t) => {
                let start = self.decode(t)?;
                if start > total {
                    return Err(SimError::BadPageToken);
                }
                start
            }
            // Without a token, `Page` is all we have (legacy clients); Twilio's own links always
            // carry a token after page 0. Past the end this is simply an empty page.
            None => req.page.saturating_mul(req.size).min(total),
        };
        let end = total.min(start + req.size);
        Ok(Window {
            range: start..end,
            next_token: (end < total).then(|| self.encode("PA", end)),
            prev_token: (req.page > 0).then(|| self.encode("PB", start.saturating_sub(req.size))),
        })
    }

    fn check(&self, offset: usize) -> u32 {
        (hash(&[self.seed, TAG_TOKEN, self.scope, offset as u64]) >> 32) as u32
    }

    fn encode(&self, prefix: &str, offset: usize) -> String {
        let body = format!("{offset}:{:08x}", self.check(offset));
        format!("{prefix}{}", STANDARD.encode(body))
    }

    fn decode(&self, token: &str) -> Result<usize, SimError> {
        let b64 = token
            .strip_prefix("PA")
            .or_else(|| token.strip_prefix("PB"))
            .ok_or(SimError::BadPageToken)?;
        let bytes = STANDARD.decode(b64).map_err(|_| SimError::BadPageToken)?;
        let text = String::from_utf8(bytes).map_err(|_| SimError::BadPageToken)?;
        let (offset, check) = text.split_once(':').ok_or(SimError::BadPageToken)?;
        let offset: usize = offset.parse().map_err(|_| SimError::BadPageToken)?;
        if check != format!("{:08x}", self.check(offset)) {
            return Err(SimError::BadPageToken);
        }
        Ok(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(size: usize, page: usize, token: Option<String>) -> PageRequest {
        PageRequest { size, page, token }
    }

    #[test]
    fn page_size_defaults_clamps_and_rejects() {
        let p = PageRequest::parse(&Query::parse(None)).expect("default");
        assert_eq!((p.size, p.page), (50, 0));
        let p = PageRequest::parse(&Query::parse(Some("PageSize=5000"))).expect("clamp");
        assert_eq!(p.size, 1000);
        for bad in ["PageSize=0", "PageSize=-1", "PageSize=abc", "Page=-2"] {
            assert!(
                PageRequest::parse(&Query::parse(Some(bad))).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn offset_tokens_round_trip_and_reject_forgeries() {
        let pager = OffsetPager::new(42, &[1, 2]);
        let w = pager.window(&req(10, 0, None), 25).expect("first");
        assert_eq!(w.range, 0..10);
        assert!(w.prev_token.is_none());
        let w = pager.window(&req(10, 1, w.next_token), 25).expect("second");
        assert_eq!(w.range, 10..20);
        let w = pager.window(&req(10, 2, w.next_token), 25).expect("third");
        assert_eq!(w.range, 20..25);
        assert!(w.next_token.is_none());
        let back = pager.window(&req(10, 1, w.prev_token), 25).expect("back");
        assert_eq!(back.range, 10..20);
        // Legacy `Page` arithmetic past the end is an empty page, not an error.
        assert_eq!(
            pager.window(&req(10, 9, None), 25).expect("past").range,
            25..25
        );

        let forged = format!("PA{}", STANDARD.encode("10:00000000"));
        assert!(matches!(
            pager.window(&req(10, 1, Some(forged)), 25),
            Err(SimError::BadPageToken)
        ));
        let other = OffsetPager::new(42, &[9]);
        let foreign = other.window(&req(10, 0, None), 25).expect("other list");
        assert!(pager.window(&req(10, 1, foreign.next_token), 25).is_err());
        assert!(pager
            .window(&req(10, 1, Some("garbage".into())), 25)
            .is_err());
    }

    #[test]
    fn envelope_links_follow_twilio_shape() {
        let q = Query::parse(Some(
            "StartTime%3E=2026-03-01&PageSize=2&Page=1&PageToken=PAx",
        ));
        let r = PageRequest::parse(&q).expect("parse");
        let page = Page {
            records: vec![json!(1), json!(2)],
            next_token: Some("PA+y=".into()),
            prev_token: Some("PBz".into()),
        };
        let env = envelope("calls", "/p.json", &q, &r, page);
        assert_eq!(env["start"], 2);
        assert_eq!(env["end"], 3);
        assert_eq!(
            env["uri"],
            "/p.json?StartTime%3E=2026-03-01&PageSize=2&Page=1&PageToken=PAx"
        );
        assert_eq!(
            env["first_page_uri"],
            "/p.json?StartTime%3E=2026-03-01&PageSize=2&Page=0"
        );
        assert_eq!(
            env["next_page_uri"],
            "/p.json?StartTime%3E=2026-03-01&PageSize=2&Page=2&PageToken=PA%2By%3D"
        );
        assert_eq!(
            env["previous_page_uri"],
            "/p.json?StartTime%3E=2026-03-01&PageSize=2&Page=0&PageToken=PBz"
        );
        let empty = Page {
            records: vec![],
            next_token: None,
            prev_token: None,
        };
        let env = envelope(
            "calls",
            "/p.json",
            &Query::parse(None),
            &req(50, 0, None),
            empty,
        );
        assert_eq!(env["end"], 0);
        assert!(env["next_page_uri"].is_null());
        assert!(env["previous_page_uri"].is_null());
        assert_eq!(env["calls"], json!([]));
    }
}
