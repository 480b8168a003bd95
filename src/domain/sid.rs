//! Twilio sids: two upper-case letters and 32 hex digits (`docs/twilio-api.md` §8).
//!
//! Both hex cases are accepted, as the API's own patterns do; the sid is kept as given.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a sid of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {kind}: expected {prefix} followed by 32 hex digits")]
pub struct SidError {
    kind: &'static str,
    prefix: &'static str,
    value: String,
}

fn check(value: &str, prefix: &'static str, kind: &'static str) -> Result<(), SidError> {
    let ok = value.len() == 34
        && value.starts_with(prefix)
        && value.as_bytes()[2..].iter().all(u8::is_ascii_hexdigit);
    if ok {
        Ok(())
    } else {
        // Cut long input so that an error message stays readable.
        let mut shown: String = value.chars().take(40).collect();
        if shown.len() < value.len() {
            shown.push('…');
        }
        Err(SidError {
            kind,
            prefix,
            value: shown,
        })
    }
}

macro_rules! sid_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The two letters every sid of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            pub fn parse(value: &str) -> Result<Self, SidError> {
                check(value, $prefix, $kind)?;
                Ok(Self(value.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = SidError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = SidError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                check(&s, $prefix, $kind)?;
                Ok(Self(s))
            }
        }

        // Hashes and compares as its text (a derived `Hash` of a `String` is `str`'s), so
        // maps keyed by sids can be looked up by `&str`.
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::try_from(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

sid_type!(
    /// An account or subaccount (`AC…`).
    AccountSid,
    "AC",
    "account sid"
);
sid_type!(
    /// A Connect App (`CN…`).
    ConnectAppSid,
    "CN",
    "connect app sid"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_both_hex_cases() {
        assert!(AccountSid::parse("AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80").is_ok());
        assert!(AccountSid::parse("AC3F9C2B7E8D1A4C5F9E0B6A7D2C1E4F80").is_ok());
    }

    #[test]
    fn rejects_wrong_prefix_length_and_digits() {
        for bad in [
            "",
            "AC",
            "ac3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80",
            "CA3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80",
            "AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f8",
            "AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f800",
            "AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f8g",
            "AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f8é",
        ] {
            let err = AccountSid::parse(bad).unwrap_err();
            assert!(err.to_string().contains("account sid"), "{err}");
        }
    }

    proptest! {
        #[test]
        fn every_valid_sid_parses(hex in "[0-9a-fA-F]{32}") {
            let s = format!("AC{hex}");
            let sid = AccountSid::parse(&s).unwrap();
            prop_assert_eq!(sid.as_str(), s.as_str());
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".*") {
            let _ = AccountSid::parse(&s);
        }
    }
}
