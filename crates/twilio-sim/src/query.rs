//! Query-string handling with Twilio's rules (`docs/twilio-api.md` §1, §4.1, §10.3).
//!
//! Names and values are form-decoded, so `StartTime%3E=2026-03-01` and the legacy raw
//! `StartTime>=2026-03-01` both yield the name `StartTime>`; names stay case-sensitive. The
//! original encoded pieces are kept so paging links can repeat the caller's filters verbatim.
//! This module does not interpret any parameter except to tell the paging ones apart.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Parameters owned by paging; everything else is a filter and is echoed in page links.
const PAGING_PARAMS: [&str; 3] = ["PageSize", "Page", "PageToken"];

/// What we percent-encode in query values we emit: everything except RFC 3986 unreserved.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one query value (e.g. a page token that may contain `+`, `/` or `=`).
pub(crate) fn encode_value(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// A parsed query string.
#[derive(Debug, Default)]
pub(crate) struct Query {
    /// Decoded (name, value) pairs in request order.
    pairs: Vec<(String, String)>,
    /// The raw `name=value` pieces of the non-paging parameters, as the client encoded them.
    filters: Vec<String>,
}

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        let mut q = Query::default();
        for piece in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            // Decoding piece by piece keeps the mapping from decoded name to raw text.
            let Some((name, value)) = url::form_urlencoded::parse(piece.as_bytes()).next() else {
                continue;
            };
            if !PAGING_PARAMS.contains(&name.as_ref()) {
                q.filters.push(piece.to_owned());
            }
            q.pairs.push((name.into_owned(), value.into_owned()));
        }
        q
    }

    /// The first value of `name`, if present.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in request order.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The non-paging parameters in their original encoding, joined with `&` (may be empty).
    pub(crate) fn filters(&self) -> String {
        self.filters.join("&")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_encoded_and_legacy_operator_names() {
        let q = Query::parse(Some("StartTime%3E=2026-03-01&StartTime<=2026-03-02"));
        assert_eq!(q.get("StartTime>"), Some("2026-03-01"));
        assert_eq!(q.get("StartTime<"), Some("2026-03-02"));
        assert_eq!(q.get("StartTime"), None);
    }

    #[test]
    fn names_are_case_sensitive_and_filters_keep_raw_form() {
        let q = Query::parse(Some(
            "to=%2B1415&To=%2B1212&PageSize=2&Page=1&PageToken=PAx",
        ));
        assert_eq!(q.get("To"), Some("+1212"));
        assert_eq!(q.get("to"), Some("+1415"));
        assert_eq!(q.filters(), "to=%2B1415&To=%2B1212");
        assert_eq!(q.get("PageToken"), Some("PAx"));
    }

    #[test]
    fn encodes_token_characters() {
        assert_eq!(encode_value("AP+/MQ=="), "AP%2B%2FMQ%3D%3D");
        assert_eq!(encode_value("PACA0f-x_y.z~"), "PACA0f-x_y.z~");
    }
}
