//! A hostile server: misbehaviour no real Twilio shows, to prove the client defends itself.
//! Off by default; [`Faults::hostile`](super::Faults::hostile) picks one [`Hostile`] mode.
//!
//! Every mode acts on list pages only (`/2010-04-01/Accounts/{sid}/Calls.json` and
//! `…/Usage/Records….json`); account lookups and the Connect pages stay honest, so accounts
//! can be registered against a hostile simulator. Choices that need a number (which record,
//! which other account) derive from the seed. Nothing here changes the data.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use flate2::{Compress, Compression, Crc, FlushCompress};
use serde_json::Value;

use super::rng::hash;
use super::Simulator;

/// Marks a link [`Hostile::ForeignLink`] made, so the list it leads to is served honestly.
const ELSEWHERE: &str = "Elsewhere=1";

/// How a hostile simulator misbehaves on list pages.
#[derive(Clone, Debug, PartialEq)]
pub enum Hostile {
    /// Every page answers `302 Found` to the same path and query on this base URL.
    RedirectTo(String),
    /// Every page links to the same list of another account: one the credential can read
    /// when there is one (a main account reads its subaccounts), else the next account.
    ForeignLink,
    /// One record of every page (which one: from the seed) carries another account's sid.
    ForeignRecord,
    /// Every page links to itself.
    LinkLoop,
    /// Every page links to a page of the same list it has not linked before (`Page` one
    /// higher), forever; past the end they are empty.
    EndlessPages,
    /// Every page is gzip that inflates to this many MiB of JSON (mostly blanks). About
    /// 1 KiB of it is sent per MiB inflated, generated as it is sent.
    GzipBomb { inflated_mib: u64 },
    /// Every page holds ten times the `PageSize` asked for (its records repeated).
    OversizedPage,
}

impl std::str::FromStr for Hostile {
    type Err = String;

    /// `redirect=URL`, `foreign-link`, `foreign-record`, `link-loop`, `endless-pages`,
    /// `gzip-bomb[=MIB]` (1024 by default) or `oversized-page`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, value) = match s.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (s, None),
        };
        Ok(match (name, value) {
            ("redirect", Some(url)) if url.starts_with("http") => Hostile::RedirectTo(url.into()),
            ("foreign-link", None) => Hostile::ForeignLink,
            ("foreign-record", None) => Hostile::ForeignRecord,
            ("link-loop", None) => Hostile::LinkLoop,
            ("endless-pages", None) => Hostile::EndlessPages,
            ("gzip-bomb", mib) => Hostile::GzipBomb {
                inflated_mib: match mib {
                    None => 1024,
                    Some(m) => m
                        .parse()
                        .map_err(|_| format!("gzip-bomb={m}: not a number of MiB"))?,
                },
            },
            ("oversized-page", None) => Hostile::OversizedPage,
            _ => {
                return Err(format!(
                    "{s:?} is not one of redirect=URL, foreign-link, foreign-record, link-loop, \
                     endless-pages, gzip-bomb[=MIB], oversized-page"
                ))
            }
        })
    }
}

/// Axum middleware: serves list pages the way the configured [`Hostile`] mode says.
pub(crate) async fn apply(State(sim): State<Simulator>, req: Request, next: Next) -> Response {
    let Some(mode) = sim.inner.cfg.faults.hostile.clone() else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let Some((account, key)) = list_of(&path) else {
        return next.run(req).await;
    };
    let account = account.to_owned();
    match mode {
        Hostile::RedirectTo(base) => {
            let location = format!("{}{path}?{query}", base.trim_end_matches('/'));
            return redirect(&location);
        }
        Hostile::GzipBomb { inflated_mib } => return gzip_bomb(key, inflated_mib),
        _ => {}
    }
    let response = next.run(req).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut page) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let page_link = |page: &Value| page["uri"].as_str().unwrap_or(&path).to_owned();
    match mode {
        Hostile::ForeignLink if !query.contains(ELSEWHERE) => {
            let other = foreign_account(&sim, &account);
            let link = format!("{}?{query}&{ELSEWHERE}", path.replace(&account, &other));
            page["next_page_uri"] = link.into();
        }
        Hostile::ForeignRecord => {
            let other = foreign_account(&sim, &account);
            let salt = hash(&[sim.inner.cfg.seed, query.len() as u64, 0x4f52]);
            if let Some(records) = page[key].as_array_mut().filter(|r| !r.is_empty()) {
                let n = records.len() as u64;
                records[(salt % n) as usize]["account_sid"] = other.into();
            }
        }
        Hostile::LinkLoop => page["next_page_uri"] = page_link(&page).into(),
        Hostile::EndlessPages => page["next_page_uri"] = next_page(&path, &query).into(),
        Hostile::OversizedPage => {
            let asked = param(&query, "PageSize").unwrap_or(50);
            if let Some(records) = page[key].as_array_mut().filter(|r| !r.is_empty()) {
                let more: Vec<Value> = records.iter().cycle().take(asked * 10).cloned().collect();
                *records = more;
            }
        }
        _ => {}
    }
    Json(page).into_response()
}

/// The account and the records key of a list page's path.
fn list_of(path: &str) -> Option<(&str, &'static str)> {
    let rest = path.strip_prefix("/2010-04-01/Accounts/")?;
    let (account, list) = rest.split_once('/')?;
    if list == "Calls.json" {
        Some((account, "calls"))
    } else if list.starts_with("Usage/Records") && list.ends_with(".json") {
        Some((account, "usage_records"))
    } else {
        None
    }
}

/// An account other than `account`: the first other one its credential reads, else the next.
fn foreign_account(sim: &Simulator, account: &str) -> String {
    let data = &sim.inner.data;
    let Some(acct) = data.account_by_sid(account) else {
        return account.to_owned();
    };
    let readable = super::auth::visible(data, acct.idx);
    let other = readable
        .into_iter()
        .find(|&i| i != acct.idx)
        .unwrap_or((acct.idx + 1) % data.accounts.len());
    data.accounts[other].sid.clone()
}

/// The value of query parameter `name`, parsed.
fn param<T: std::str::FromStr>(query: &str, name: &str) -> Option<T> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| v.parse().ok())
}

/// The same list one `Page` further, without a token: a link never given before.
fn next_page(path: &str, query: &str) -> String {
    let page: u64 = param(query, "Page").unwrap_or(0);
    let mut kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("Page=") && !p.starts_with("PageToken="))
        .collect();
    let next = format!("Page={}", page + 1);
    kept.push(&next);
    format!("{path}?{}", kept.join("&"))
}

fn redirect(location: &str) -> Response {
    let mut r = (
        StatusCode::FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        "{}",
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// A gzip body inflating to `{"<key>":[` + `inflated_mib` MiB of blanks + `]}`: a valid,
/// empty page, were anyone to read it all.
fn gzip_bomb(key: &str, inflated_mib: u64) -> Response {
    let bomb = GzipBomb::new(format!(r#"{{"{key}":["#).into_bytes(), inflated_mib);
    let stream = futures::stream::iter(bomb.map(Ok::<Bytes, Infallible>));
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_ENCODING, "gzip"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

const MIB: usize = 1 << 20;

/// The pieces of a gzip member, made as they are asked for: the header with the opening
/// bytes, one deflate segment per MiB of blanks (each compressed on its own and flushed to a
/// byte boundary, so the same segment can be sent again), then the closing bytes and the
/// trailer.
struct GzipBomb {
    head: Option<Vec<u8>>,
    /// One MiB of blanks, deflated, and its CRC.
    blanks: Bytes,
    blanks_crc: Crc,
    left: u64,
    crc: Crc,
    done: bool,
}

impl GzipBomb {
    fn new(head: Vec<u8>, mib: u64) -> Self {
        let mut crc = Crc::new();
        crc.update(&head);
        let blank = vec![b' '; MIB];
        let mut blanks_crc = Crc::new();
        blanks_crc.update(&blank);
        Self {
            head: Some(head),
            blanks: Bytes::from(deflate(&blank, FlushCompress::Sync)),
            blanks_crc,
            left: mib,
            crc,
            done: false,
        }
    }
}

impl Iterator for GzipBomb {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if let Some(head) = self.head.take() {
            let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
            out.extend(deflate(&head, FlushCompress::Sync));
            return Some(out.into());
        }
        if self.left > 0 {
            self.left -= 1;
            self.crc.combine(&self.blanks_crc);
            return Some(self.blanks.clone());
        }
        if self.done {
            return None;
        }
        self.done = true;
        let tail = b"]}";
        self.crc.update(tail);
        let mut out = deflate(tail, FlushCompress::Finish);
        out.extend(self.crc.sum().to_le_bytes());
        out.extend(self.crc.amount().to_le_bytes());
        Some(out.into())
    }
}

/// `data` as raw deflate from a fresh compressor, ending with `flush`.
fn deflate(data: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut c = Compress::new(Compression::best(), false);
    let mut out = Vec::with_capacity(data.len() / 64 + 64);
    loop {
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&data[consumed..], &mut out, flush)
            .expect("compressing in memory");
        let all_in = c.total_in() as usize == data.len();
        let finished = match flush {
            FlushCompress::Finish => status == flate2::Status::StreamEnd,
            _ => all_in && out.len() < out.capacity(),
        };
        if finished {
            return out;
        }
        out.reserve(out.capacity());
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_gzip_bomb_inflates_to_a_valid_empty_page() {
        let bomb: Vec<u8> = GzipBomb::new(br#"{"calls":["#.to_vec(), 3)
            .flatten()
            .collect();
        // About 1 KiB sent per MiB inflated.
        assert!(bomb.len() < 4 * 1024, "{} bytes sent", bomb.len());
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&bomb[..])
            .read_to_end(&mut inflated)
            .unwrap();
        assert_eq!(inflated.len(), 3 * MIB + 12);
        let page: Value = serde_json::from_slice(&inflated).unwrap();
        assert_eq!(page["calls"], serde_json::json!([]));
    }

    #[test]
    fn modes_parse_from_their_names() {
        assert_eq!(
            "redirect=http://127.0.0.1:9".parse(),
            Ok(Hostile::RedirectTo("http://127.0.0.1:9".into()))
        );
        assert_eq!(
            "gzip-bomb".parse(),
            Ok(Hostile::GzipBomb { inflated_mib: 1024 })
        );
        assert_eq!(
            "gzip-bomb=8".parse(),
            Ok(Hostile::GzipBomb { inflated_mib: 8 })
        );
        assert_eq!("link-loop".parse(), Ok(Hostile::LinkLoop));
        for bad in ["redirect", "loop", "gzip-bomb=big", "link-loop=1", ""] {
            assert!(bad.parse::<Hostile>().is_err(), "{bad}");
        }
    }

    #[test]
    fn endless_pages_never_repeat_a_link() {
        let a = next_page("/l.json", "StartDate=2026-03-01&PageSize=5");
        assert_eq!(a, "/l.json?StartDate=2026-03-01&PageSize=5&Page=1");
        let b = next_page("/l.json", a.split_once('?').unwrap().1);
        assert_eq!(b, "/l.json?StartDate=2026-03-01&PageSize=5&Page=2");
    }

    #[test]
    fn lists_are_told_apart_from_other_paths() {
        let acct = "AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80";
        assert_eq!(
            list_of(&format!("/2010-04-01/Accounts/{acct}/Calls.json")),
            Some((acct, "calls"))
        );
        assert_eq!(
            list_of(&format!(
                "/2010-04-01/Accounts/{acct}/Usage/Records/Daily.json"
            )),
            Some((acct, "usage_records"))
        );
        assert_eq!(list_of(&format!("/2010-04-01/Accounts/{acct}.json")), None);
        assert_eq!(list_of("/2010-04-01/Accounts.json"), None);
    }
}
