//! The `X-Twilio-Signature` the simulator puts on the callbacks it sends
//! (`docs/twilio-api.md` §7), written from the documented algorithm and checked against the
//! helper libraries' test vectors, so that a test signed here is an independent check of the
//! receiver's verification.
//!
//! The signed string is the full URL followed, for a form body, by each parameter name in
//! byte-wise order with each of its distinct values in byte-wise order, with no separators;
//! the signature is base64(HMAC-SHA1(token, that string)). This module does no I/O.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The signature Twilio sends with a request to `url` whose form body holds `params` (empty
/// for a GET, whose parameters are part of `url`).
pub fn signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(hmac_sha1(token.as_bytes(), &signed_string(url, params)))
}

/// `url`, then every (name, value) pair once, sorted by name and then by value.
fn signed_string(url: &str, params: &[(String, String)]) -> Vec<u8> {
    let mut pairs: Vec<(&[u8], &[u8])> = params
        .iter()
        .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut out = url.as_bytes().to_vec();
    for (k, v) in pairs {
        out.extend_from_slice(k);
        out.extend_from_slice(v);
    }
    out
}

fn hmac_sha1(key: &[u8], message: &[u8]) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
        unreachable!("HMAC takes keys of every length")
    };
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The helper libraries' vector (`docs/twilio-api.md` §7).
    fn vector_params() -> Vec<(String, String)> {
        [
            ("To", "+18005551212"),
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("Caller", "+14158675309"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    #[test]
    fn matches_the_documented_test_vectors() {
        let params = vector_params();
        assert_eq!(
            signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
        assert_eq!(
            signature(
                "12345",
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                &params
            ),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
    }

    #[test]
    fn parameters_are_signed_sorted_and_once() {
        let a = vec![
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "y".to_owned()),
            ("a".to_owned(), "x".to_owned()),
        ];
        assert_eq!(signed_string("u", &a), b"uaxayb2".to_vec());
        let mut twice = a.clone();
        twice.push(("a".to_owned(), "x".to_owned()));
        assert_eq!(signature("k", "u", &twice), signature("k", "u", &a));
        assert_ne!(signature("k", "u", &a), signature("other", "u", &a));
    }
}
