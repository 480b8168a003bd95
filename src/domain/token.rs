//! The Connect App owner's Auth Token: the password of every API request and the key of the
//! receiver's signature checks and states.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// A token that was given but holds nothing but whitespace.
#[derive(Debug, thiserror::Error)]
#[error("the auth token is empty")]
pub struct EmptyToken;

/// The Connect app owner's Auth Token. Its `Debug` is redacted and it has no `Display`.
#[derive(Clone)]
pub struct AuthToken(SecretString);

impl AuthToken {
    /// The token without surrounding whitespace (a token file usually ends in a newline).
    pub fn new(token: String) -> Result<Self, EmptyToken> {
        let token = token.trim().to_owned();
        if token.is_empty() {
            return Err(EmptyToken);
        }
        Ok(Self(SecretString::from(token)))
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
}
