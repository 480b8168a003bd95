//! Secrets inside text that people see: a URL's password, wherever it is. Messages, logs and
//! `Debug` output show URLs (database, output) only through [`url`].
//!
//! A URL carries a password in its user-info (`postgres://user:PASSWORD@host/db`) or in a
//! query parameter (`?password=…`, `?sslpassword=…`, a signed URL's `?sig=…`). [`url`] works
//! on the text as given, without parsing it as a URL first, so that a URL too malformed to
//! parse is redacted as well; where the text is ambiguous it hides more rather than less.
//! No I/O.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// What a hidden value is replaced with.
pub const HIDDEN: &str = "****";

/// Parts of a query parameter's name that mark its value as secret (compared in lower case
/// after percent-decoding): `password`, `sslpassword`, `passwd`, `pwd`, `secret`, `token`,
/// `api_key`, `sig`, `signature`, `auth`, `credential`, ….
const SECRET_NAME_PARTS: [&str; 8] = [
    "pass", "pwd", "secret", "token", "key", "sig", "auth", "cred",
];

/// `text` (a message from a library, say) with every word that holds `://` redacted as a URL
/// ([`url`]): `object_store` quotes the URL it was given in its errors, signature and all.
pub fn urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if word.contains("://") {
            out.push_str(&url(word));
        } else {
            out.push_str(word);
        }
    }
    out
}

/// `text` (a URL, or what was meant to be one) with every password replaced by [`HIDDEN`]:
/// the user-info's password and the value of every query parameter whose name says secret.
pub fn url(text: &str) -> String {
    if !text.contains("://") && text.contains('=') && text.contains(' ') {
        return key_values(text);
    }
    // The authority starts after `scheme://`; without one, at the start (`user:pw@host`).
    let start = text.find("://").map_or(0, |i| i + 3);
    let (head, rest) = text.split_at(start);
    let mut out = String::with_capacity(text.len());
    out.push_str(head);
    // User-info ends at the last `@`: a password may itself hold `/`, `?` or `@`. (An `@`
    // in the query makes this hide more than the password, and the query goes on after it.)
    let (tail, in_query) = match rest.rfind('@') {
        Some(at) if rest[..at].contains(':') => {
            let colon = rest.find(':').expect("checked above");
            out.push_str(&rest[..=colon]);
            out.push_str(HIDDEN);
            (&rest[at..], rest[colon..at].contains('?'))
        }
        _ => (rest, false),
    };
    match tail.find('?') {
        Some(q) => {
            out.push_str(&tail[..=q]);
            out.push_str(&query(&tail[q + 1..]));
        }
        None if in_query => out.push_str(&query(tail)),
        None => out.push_str(tail),
    }
    out
}

/// A query string with the values of secret parameters hidden. A segment without `=` that
/// follows a secret one is taken as the rest of its value (an unencoded `&` in a password).
fn query(text: &str) -> String {
    let mut hiding = false;
    let parts: Vec<Cow<'_, str>> = text
        .split('&')
        .map(|part| match part.split_once('=') {
            Some((name, value)) => {
                hiding = is_secret_name(name) || mentions_secret(value);
                if hiding {
                    Cow::Owned(format!("{name}={HIDDEN}"))
                } else {
                    Cow::Borrowed(part)
                }
            }
            None if hiding => Cow::Borrowed(HIDDEN),
            None => Cow::Borrowed(part),
        })
        .collect();
    parts.join("&")
}

/// A libpq-style `key=value key='value'` string with the values of secret keys hidden; the
/// words after a secret one that hold no `=` are taken as the rest of its (quoted) value.
fn key_values(text: &str) -> String {
    let mut hiding = false;
    let words: Vec<Cow<'_, str>> = text
        .split(' ')
        .map(|word| match word.split_once('=') {
            Some((name, value)) => {
                hiding = is_secret_name(name) || mentions_secret(value);
                if hiding {
                    Cow::Owned(format!("{name}={HIDDEN}"))
                } else {
                    Cow::Borrowed(word)
                }
            }
            None if hiding => Cow::Borrowed(HIDDEN),
            None => Cow::Borrowed(word),
        })
        .collect();
    words.join(" ")
}

/// Whether a value carries a secret setting of its own (`options=-c password=…`).
fn mentions_secret(value: &str) -> bool {
    let value = percent_decode_str(value).decode_utf8_lossy().to_lowercase();
    value.contains('=') && value.split(['=', ' ']).any(is_secret_name)
}

fn is_secret_name(name: &str) -> bool {
    let name = percent_decode_str(name).decode_utf8_lossy().to_lowercase();
    SECRET_NAME_PARTS.iter().any(|part| name.contains(part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_quoted_in_a_message_are_redacted() {
        let said = "Generic MicrosoftAzure error: URL did not match any known pattern for scheme: abfss://u:PW@c@acct.example.com/x?sv=2024&sig=SIG and more";
        let shown = urls_in(said);
        assert!(!shown.contains("PW") && !shown.contains("SIG"), "{shown}");
        assert!(
            shown.starts_with("Generic MicrosoftAzure error: URL did not match"),
            "{shown}"
        );
        assert!(shown.ends_with(" and more"), "{shown}");
    }

    #[test]
    fn key_value_strings_and_settings_inside_values_are_hidden_too() {
        let cases = [
            (
                "host=127.0.0.1 port=5432 user=pg password=Hunter2 dbname=x",
                "host=127.0.0.1 port=5432 user=pg password=**** dbname=x",
            ),
            (
                "host=db password='two words' dbname=x",
                "host=db password=**** **** dbname=x",
            ),
            (
                "postgres://u@db/x?options=-c%20password%3DHunter2&sslmode=require",
                "postgres://u@db/x?options=****&sslmode=require",
            ),
        ];
        for (given, shown) in cases {
            assert_eq!(url(given), shown, "{given}");
        }
    }

    #[test]
    fn passwords_are_hidden_wherever_they_are() {
        let cases = [
            (
                "postgres://me:hunter2@db.example.com:5432/x",
                "postgres://me:****@db.example.com:5432/x",
            ),
            (
                "postgres://me@db/x?password=hunter2&sslmode=require",
                "postgres://me@db/x?password=****&sslmode=require",
            ),
            (
                "postgresql://db/x?sslmode=require&sslpassword=hunter2",
                "postgresql://db/x?sslmode=require&sslpassword=****",
            ),
            (
                "postgres://db/x?PassWord=hunter2&pass%77ord=hunter2",
                "postgres://db/x?PassWord=****&pass%77ord=****",
            ),
            // Unencoded `/`, `?` and `@` in a password.
            ("postgres://me:hun/ter?2@db/x", "postgres://me:****@db/x"),
            ("postgres://me:a@b@db/x", "postgres://me:****@db/x"),
            // An unencoded `&` in a query password.
            (
                "postgres://db/x?password=hun&ter2&sslmode=disable",
                "postgres://db/x?password=****&****&sslmode=disable",
            ),
            // No scheme, or not a URL at all.
            ("me:hunter2@db/x", "me:****@db/x"),
            // An `@` in the query.
            (
                "postgres://db:5432/x?user=a@b&password=hunter2",
                "postgres://db:****@b&password=****",
            ),
            ("mysql://me:hunter2@db:port/x", "mysql://me:****@db:port/x"),
            // Signed object-store URLs.
            (
                "https://acct.blob.core.windows.net/c?sv=2024&sig=abc%2Bdef",
                "https://acct.blob.core.windows.net/c?sv=2024&sig=****",
            ),
        ];
        for (given, shown) in cases {
            assert_eq!(url(given), shown, "{given}");
            assert!(!url(given).contains("hunter2") && !url(given).contains("ter2"));
        }
    }

    #[test]
    fn urls_without_secrets_are_shown_as_given() {
        for given in [
            "sqlite://twilio-export.db",
            "sqlite:relative.db?mode=rwc",
            "postgres://me@db.example.com/x?sslmode=require&application_name=exp",
            "s3://bucket/prefix",
            "/tmp/x",
            "",
        ] {
            assert_eq!(url(given), given);
        }
    }
}
