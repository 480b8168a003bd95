//! Pages kept as first served ([`SimConfig::cache_pages`](super::SimConfig)), for benchmarks:
//! rendering a page of 1000 calls costs the simulator more CPU than reading it costs an
//! exporter, so on a small machine the simulator, not the exporter, would set the pace.
//!
//! A successful answer is kept under the request's `Authorization` header and its URI (path
//! and query) and served again, byte for byte, to the same request. Moving the clock or
//! revoking a grant forgets every page (either can change answers); faults and hostile modes
//! still apply, as they sit in front of the routes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum::http::{HeaderMap, Uri};
use bytes::Bytes;

/// The kept pages; empty and unused unless the config asks for it.
#[derive(Default)]
pub(crate) struct Replay {
    pages: Option<Mutex<HashMap<(String, String), Bytes>>>,
}

impl Replay {
    pub(crate) fn new(enabled: bool) -> Self {
        Replay {
            pages: enabled.then(Mutex::default),
        }
    }

    /// The page kept for this request, if any.
    pub(crate) fn get(&self, uri: &Uri, headers: &HeaderMap) -> Option<Bytes> {
        let pages = self.pages.as_ref()?;
        let pages = pages.lock().unwrap_or_else(PoisonError::into_inner);
        pages.get(&key(uri, headers)).cloned()
    }

    /// Keeps `body`, the successful answer to this request, when pages are kept.
    pub(crate) fn keep(&self, uri: &Uri, headers: &HeaderMap, body: &Bytes) {
        if let Some(pages) = &self.pages {
            let mut pages = pages.lock().unwrap_or_else(PoisonError::into_inner);
            pages.insert(key(uri, headers), body.clone());
        }
    }

    /// Forgets every kept page.
    pub(crate) fn forget(&self) {
        if let Some(pages) = &self.pages {
            pages.lock().unwrap_or_else(PoisonError::into_inner).clear();
        }
    }
}

fn key(uri: &Uri, headers: &HeaderMap) -> (String, String) {
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let target = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    (auth, target)
}
