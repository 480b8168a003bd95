//! Pages kept as first served ([`SimConfig::cache_pages`](super::SimConfig)), for benchmarks:
//! rendering a page of 1000 calls costs the simulator more CPU than reading it costs an
//! exporter, so on a small machine the simulator, not the exporter, would set the pace.
//!
//! A successful answer is kept under the request's `Authorization` header and its URI (path
//! and query) and served again, byte for byte, to the same request. Moving the clock or
//! revoking a grant forgets every page (either can change answers), and so does an answer
//! rendered meanwhile: each forgetting starts a new generation, and an answer is kept only
//! in the generation it was rendered in. Faults and hostile modes still apply, as they sit in
//! front of the routes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum::http::{HeaderMap, Uri};
use bytes::Bytes;

/// The kept pages; empty and unused unless the config asks for it.
#[derive(Default)]
pub(crate) struct Replay {
    pages: Option<Mutex<Kept>>,
}

#[derive(Default)]
struct Kept {
    /// Bumped by every [`Replay::forget`].
    generation: u64,
    pages: HashMap<(String, String), Bytes>,
}

impl Replay {
    pub(crate) fn new(enabled: bool) -> Self {
        Replay {
            pages: enabled.then(Mutex::default),
        }
    }

    /// The page kept for this request, or the generation to keep its answer in.
    pub(crate) fn get(&self, uri: &Uri, headers: &HeaderMap) -> Result<Bytes, u64> {
        let Some(kept) = &self.pages else {
            return Err(0);
        };
        let kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.pages
            .get(&key(uri, headers))
            .cloned()
            .ok_or(kept.generation)
    }

    /// Keeps `body`, the successful answer to this request rendered in `generation`, unless
    /// pages are not kept or were forgotten since.
    pub(crate) fn keep(&self, uri: &Uri, headers: &HeaderMap, body: &Bytes, generation: u64) {
        if let Some(kept) = &self.pages {
            let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
            if kept.generation == generation {
                kept.pages.insert(key(uri, headers), body.clone());
            }
        }
    }

    /// Forgets every kept page, and every answer being rendered; call it after the change
    /// that makes them stale.
    pub(crate) fn forget(&self) {
        if let Some(kept) = &self.pages {
            let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
            kept.generation += 1;
            kept.pages.clear();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_rendered_before_a_forgetting_is_not_kept() {
        let replay = Replay::new(true);
        let uri: Uri = "/2010-04-01/Accounts/AC1/Calls.json?PageSize=5"
            .parse()
            .unwrap();
        let headers = HeaderMap::new();
        let body = Bytes::from_static(b"{}");
        // Rendered in the first generation, stored after the clock moved or a grant went.
        let Err(generation) = replay.get(&uri, &headers) else {
            panic!("nothing kept yet");
        };
        replay.forget();
        replay.keep(&uri, &headers, &body, generation);
        let Err(now) = replay.get(&uri, &headers) else {
            panic!("a stale answer was kept");
        };
        // Rendered in the current generation: kept.
        replay.keep(&uri, &headers, &body, now);
        assert_eq!(replay.get(&uri, &headers), Ok(body));
    }
}
