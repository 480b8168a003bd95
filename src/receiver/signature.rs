//! `X-Twilio-Signature` validation (`docs/twilio-api.md` §7): pure functions, no I/O.
//!
//! The signed string is the full URL Twilio requested followed, for form-encoded bodies, by
//! every parameter name and value sorted byte-wise with no separators; the signature is
//! base64(HMAC-SHA1(our auth token, that string)). Twilio keeps or drops a default port
//! depending on the product, so a match on the URL as given, without its port, or with the
//! default port inserted is accepted, as the official SDKs do. Comparisons are constant-time.
//!
//! This module does not know where the URL or the token come from; `deauthorize` does.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The signature Twilio would send for a request to `url` with form `params` (empty for GET
/// and JSON requests).
pub fn compute(token: &str, url: &str, params: &[(String, String)]) -> String {
    // Sorted names, and each name's distinct values sorted (README §7).
    let mut sorted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (k, v) in params {
        sorted.entry(k.as_str()).or_default().insert(v.as_str());
    }
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(url.as_bytes());
    for (k, values) in sorted {
        for v in values {
            mac.update(k.as_bytes());
            mac.update(v.as_bytes());
        }
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `header` is a valid signature of the request. `body` is the raw body when it is not
/// form-encoded (JSON); if the URL carries `bodySHA256`, that hash must match it too.
pub fn is_valid(
    token: &str,
    url: &str,
    params: &[(String, String)],
    body: Option<&[u8]>,
    header: &str,
) -> bool {
    let signed = url_variants(url)
        .iter()
        .any(|u| constant_time_eq(&compute(token, u, params), header));
    signed && body_hash_matches(url, body.unwrap_or_default())
}

/// True unless the URL has a `bodySHA256` parameter that differs from the body's hash.
fn body_hash_matches(url: &str, body: &[u8]) -> bool {
    let Some((_, query)) = url.split_once('?') else {
        return true;
    };
    let claimed = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "bodySHA256")
        .map(|(_, v)| v.into_owned());
    match claimed {
        None => true,
        Some(hex) => {
            let actual: String = Sha256::digest(body)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            constant_time_eq(&actual, &hex.to_ascii_lowercase())
        }
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The URL as given, without an explicit port, and with the scheme's default port inserted
/// (`url::Url` cannot be used: it drops default ports when it serializes).
fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return out;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // Twilio strips `user:pass@` before signing.
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match hostport.rfind(':') {
        // A colon inside `[…]` belongs to an IPv6 address, not to a port.
        Some(i) if !hostport[i..].contains(']') => (&hostport[..i], Some(&hostport[i + 1..])),
        _ => (hostport, None),
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => Some("443"),
        "http" => Some("80"),
        _ => None,
    };
    let mut add = |u: String| {
        if !out.contains(&u) {
            out.push(u);
        }
    };
    add(format!("{scheme}://{host}{tail}"));
    if let Some(p) = port.or(default_port) {
        add(format!("{scheme}://{host}:{p}{tail}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "12345";

    fn params(caller: &str) -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", caller),
            ("Digits", "1234"),
            ("From", caller),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    // The four vectors of docs/twilio-api.md §7.
    #[test]
    fn computes_the_readme_vectors() {
        let cases = [
            (
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                params("+14158675309"),
                "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
            ),
            (
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                params("+14158675309"),
                "kvajT1Ptam85bY51eRf/AJRuM3w=",
            ),
            (
                "https://example.com/myapp.php?foo=1&bar=2",
                params("+14158675310"),
                "L/OH5YylLD5NRKLltdqwSvS0BnU=",
            ),
            (
                "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620",
                vec![],
                "a9nBmqA0ju/hNViExpshrM61xv4=",
            ),
        ];
        for (url, p, sig) in cases {
            assert_eq!(compute(TOKEN, url, &p), sig, "{url}");
        }
    }

    #[test]
    fn accepts_either_port_form() {
        let p = params("+14158675309");
        let plain = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        assert!(is_valid(
            TOKEN,
            plain,
            &p,
            None,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(is_valid(
            TOKEN,
            plain,
            &p,
            None,
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        ));
        assert!(is_valid(
            TOKEN,
            with_port,
            &p,
            None,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(is_valid(
            TOKEN,
            with_port,
            &p,
            None,
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        ));
    }

    #[test]
    fn rejects_other_tokens_urls_params_and_garbage() {
        let p = params("+14158675309");
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let good = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
        assert!(!is_valid("54321", url, &p, None, good));
        assert!(!is_valid(
            TOKEN,
            "https://mycompany.com/other.php?foo=1&bar=2",
            &p,
            None,
            good
        ));
        assert!(!is_valid(TOKEN, url, &params("+14158675310"), None, good));
        assert!(!is_valid(TOKEN, url, &p, None, ""));
        assert!(!is_valid(
            TOKEN,
            url,
            &p,
            None,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8"
        ));
    }

    #[test]
    fn checks_the_body_hash_of_json_requests() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        let sig = "a9nBmqA0ju/hNViExpshrM61xv4=";
        let body = br#"{"property": "value", "boolean": true}"#;
        assert!(is_valid(TOKEN, url, &[], Some(body), sig));
        assert!(!is_valid(TOKEN, url, &[], Some(b"{}"), sig));
    }

    #[test]
    fn repeated_parameters_are_sorted_and_deduplicated() {
        let p = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let a = compute(
            TOKEN,
            "https://x.test/",
            &p(&[("b", "2"), ("a", "1"), ("b", "1")]),
        );
        let b = compute(
            TOKEN,
            "https://x.test/",
            &p(&[("a", "1"), ("b", "1"), ("b", "2"), ("b", "2")]),
        );
        assert_eq!(a, b);
    }

    #[test]
    fn port_variants_leave_paths_and_ipv6_alone() {
        assert_eq!(
            url_variants("http://[::1]:8080/x?y=1"),
            vec![
                "http://[::1]:8080/x?y=1".to_owned(),
                "http://[::1]/x?y=1".to_owned(),
            ]
        );
        assert_eq!(
            url_variants("https://u:p@h.test/a:b"),
            vec![
                "https://u:p@h.test/a:b".to_owned(),
                "https://h.test/a:b".to_owned(),
                "https://h.test:443/a:b".to_owned(),
            ]
        );
        assert_eq!(url_variants("not a url"), vec!["not a url".to_owned()]);
    }
}
