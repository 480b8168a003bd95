//! [`PageWalk`]: which page links one list is followed by. Only links within the list's own
//! path (the first page's: `/2010-04-01/Accounts/{sid}/Calls.json` and the like), each link at
//! most once, and no more pages than the list can fill; anything else fails the walk.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use url::Url;

use super::{FetchError, PageUri};

/// The pages of one list, walked from its first page.
pub struct PageWalk {
    first: PageUri,
    /// Hashes of the links requested so far (the first page's included): 8 bytes a page.
    seen: HashSet<u64>,
    hasher: RandomState,
    max_pages: u64,
}

impl PageWalk {
    /// A walk from `first` that fails once a link would make more than `max_pages` pages.
    pub fn new(first: PageUri, max_pages: u64) -> Self {
        let hasher = RandomState::new();
        let seen = HashSet::from([hasher.hash_one(first.as_str())]);
        Self {
            first,
            seen,
            hasher,
            max_pages: max_pages.max(1),
        }
    }

    /// The first page to request.
    pub fn first(&self) -> &PageUri {
        &self.first
    }

    /// Pages requested so far, or about to be.
    pub fn pages(&self) -> u64 {
        self.seen.len() as u64
    }

    /// The page a page's `next_page_uri` leads to: `None` when the list ended, an error for a
    /// link that leaves the list or the API, comes back, or would be one page too many.
    pub fn follow(
        &mut self,
        link: Option<String>,
        base: &Url,
    ) -> Result<Option<PageUri>, FetchError> {
        let Some(link) = link else {
            return Ok(None);
        };
        let next = PageUri::from_link(&link, base)?;
        let shown = || link.chars().take(200).collect::<String>();
        if next.path() != self.first.path() {
            return Err(FetchError::ForeignLink {
                link: shown(),
                list: self.first.path().to_owned(),
            });
        }
        if !self.seen.insert(self.hasher.hash_one(next.as_str())) {
            return Err(FetchError::LinkLoop(shown()));
        }
        if self.pages() > self.max_pages {
            return Err(FetchError::TooManyPages {
                path: self.first.path().to_owned(),
                max: self.max_pages,
            });
        }
        Ok(Some(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "/2010-04-01/Accounts/AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80/Calls.json";

    fn walk(max_pages: u64) -> PageWalk {
        PageWalk::new(PageUri::build(LIST, &[("PageSize", "2".into())]), max_pages)
    }

    fn base() -> Url {
        Url::parse("https://api.twilio.com").unwrap()
    }

    #[test]
    fn follows_new_pages_of_the_same_list_until_the_end() {
        let mut w = walk(10);
        let next = w.follow(
            Some(format!("{LIST}?PageSize=2&Page=1&PageToken=PA1")),
            &base(),
        );
        assert_eq!(next.unwrap().unwrap().path(), LIST);
        assert_eq!(w.pages(), 2);
        assert!(w.follow(None, &base()).unwrap().is_none());
    }

    #[test]
    fn refuses_links_to_another_list() {
        for other in [
            "/2010-04-01/Accounts/AC00000000000000000000000000000001/Calls.json?Page=1",
            "/2010-04-01/Accounts/AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80/Usage/Records/Daily.json",
            "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000001/Calls.json",
        ] {
            let err = walk(10).follow(Some(other.into()), &base()).unwrap_err();
            assert!(matches!(err, FetchError::ForeignLink { .. }), "{other}: {err}");
        }
    }

    #[test]
    fn a_link_that_comes_back_is_a_loop() {
        let mut w = walk(100);
        let link = format!("{LIST}?PageSize=2&Page=1");
        w.follow(Some(link.clone()), &base()).unwrap();
        let err = w.follow(Some(link), &base()).unwrap_err();
        assert!(matches!(err, FetchError::LinkLoop(_)), "{err}");
        // Back to the first page is a loop too.
        let mut w = walk(100);
        let first = w.first().as_str().to_owned();
        assert!(matches!(
            w.follow(Some(first), &base()),
            Err(FetchError::LinkLoop(_))
        ));
    }

    #[test]
    fn more_pages_than_the_bound_fail() {
        let mut w = walk(3);
        for page in 1..3 {
            w.follow(Some(format!("{LIST}?Page={page}")), &base())
                .unwrap();
        }
        let err = w
            .follow(Some(format!("{LIST}?Page=3")), &base())
            .unwrap_err();
        assert!(
            matches!(err, FetchError::TooManyPages { max: 3, .. }),
            "{err}"
        );
    }
}
