//! The Connect App owner's Auth Token: the password of every API request and the key of the
//! receiver's signature checks and states.

use std::fmt;

use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};

/// Why a given token cannot be one.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadToken {
    /// Nothing but whitespace.
    #[error("the auth token is empty")]
    Empty,
    /// A character no token has (Twilio's are 32 hexadecimal digits): a space, a line break
    /// or another control character, or a non-ASCII one; usually a file of several lines or
    /// of something else. The character itself is not shown.
    #[error("the auth token has a character no token has (a space, a control character or a non-ASCII one) at position {position} (counted after surrounding whitespace and a byte-order mark)")]
    Unprintable { position: usize },
}

/// The Connect app owner's Auth Token. Its `Debug` is redacted and it has no `Display`.
#[derive(Clone)]
pub struct AuthToken(SecretString);

impl AuthToken {
    /// The token without surrounding whitespace (a token file usually ends in a newline).
    /// A byte-order mark that an editor put first is dropped too. Whatever is left must be
    /// printable ASCII without spaces.
    pub fn new(given: String) -> Result<Self, BadToken> {
        // The text as given is wiped once the token is taken from it.
        let given = Zeroizing::new(given);
        let token = given.trim_start_matches('\u{feff}').trim();
        if token.is_empty() {
            return Err(BadToken::Empty);
        }
        if let Some(position) = token.chars().position(|c| !c.is_ascii_graphic()) {
            return Err(BadToken::Unprintable {
                position: position + 1,
            });
        }
        Ok(Self(SecretString::from(token.to_owned())))
    }

    /// The token itself, for the HTTP client and signature checks only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_trimmed_never_shown_and_never_empty() {
        let token = AuthToken::new(" s3cr3t\n".to_owned()).unwrap();
        assert_eq!(token.expose(), "s3cr3t");
        assert!(!format!("{token:?}").contains("s3cr3t"));
        assert!(AuthToken::new(" \n".to_owned()).is_err());
    }

    #[test]
    fn a_byte_order_mark_is_dropped_and_a_character_no_token_has_is_refused_unshown() {
        let token = AuthToken::new("\u{feff}s3cr3t\r\n".to_owned()).unwrap();
        assert_eq!(token.expose(), "s3cr3t");
        for (text, position) in [
            ("s3c\nr3t\n", 4),
            ("s3c r3t", 4),
            ("s3\0cr3t", 3),
            ("sé", 2),
        ] {
            let e = AuthToken::new(text.to_owned()).err().unwrap();
            assert_eq!(e, BadToken::Unprintable { position }, "{text:?}");
            assert!(!e.to_string().contains("s3"), "{e}");
        }
    }
}
