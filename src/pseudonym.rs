//! Pseudonyms of the columns that carry a phone number or a name (`--pseudonymize`).
//!
//! A pseudonym is the lowercase hex HMAC-SHA256 of the value's UTF-8 bytes under the
//! operator's key: the same value gives the same pseudonym in every account and every run, so
//! joins and counts still work, and whoever holds the key can compute the pseudonym of a known
//! number to find it. Nulls and empty strings are kept as they are.
//!
//! The key is a secret: it exists only inside [`PseudonymKey`] (as the keyed HMAC state, the
//! bytes it was read from are dropped), which has no `Display` and a `Debug` that shows only
//! its [`Fingerprint`], a short, non-reversible id (the first 8 bytes of the HMAC of a fixed
//! label) under which the registry records which key a partition was written with
//! ([`PseudonymMode`]). No I/O here: `config` reads the key, `batch` applies it.

use std::fmt;

use crate::domain::DayRange;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 16;

/// What the fingerprint is the HMAC of (no phone number or name looks like it).
const FINGERPRINT_LABEL: &[u8] = b"twilio-export pseudonym key fingerprint v1";

/// A key that cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is empty")]
    Empty,
    #[error("the key is {len} bytes long; at least {MIN_KEY_BYTES} are required")]
    TooShort { len: usize },
}

/// The pseudonymization key, keyed into an HMAC-SHA256 state once; cloning it clones that
/// state, so nothing is keyed again per value. No `Display`; `Debug` shows the fingerprint only.
#[derive(Clone)]
pub struct PseudonymKey {
    mac: Hmac<Sha256>,
    fingerprint: Fingerprint,
}

impl PseudonymKey {
    /// A key of at least [`MIN_KEY_BYTES`] bytes, used as they are.
    pub fn new(bytes: &[u8]) -> Result<Self, KeyError> {
        match bytes.len() {
            0 => return Err(KeyError::Empty),
            len if len < MIN_KEY_BYTES => return Err(KeyError::TooShort { len }),
            _ => {}
        }
        let mac = Hmac::<Sha256>::new_from_slice(bytes).expect("HMAC takes keys of any length");
        let mut label = mac.clone();
        label.update(FINGERPRINT_LABEL);
        let tag = label.finalize().into_bytes();
        let fingerprint = Fingerprint(hex(&tag[..8]));
        Ok(Self { mac, fingerprint })
    }

    /// The key's short id, as the registry records it.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The pseudonym of `value`: the lowercase hex HMAC-SHA256 of its UTF-8 bytes; an empty
    /// value stays empty.
    pub fn pseudonymize(&self, value: &str) -> String {
        if value.is_empty() {
            return String::new();
        }
        let mut out = [0u8; 64];
        self.pseudonymize_into(value, &mut out).to_owned()
    }

    /// [`PseudonymKey::pseudonymize`] of a non-empty value, written into `out`.
    pub(crate) fn pseudonymize_into<'o>(&self, value: &str, out: &'o mut [u8; 64]) -> &'o str {
        let mut mac = self.mac.clone();
        mac.update(value.as_bytes());
        let tag = mac.finalize().into_bytes();
        for (i, b) in tag.iter().enumerate() {
            out[2 * i] = HEX[usize::from(b >> 4)];
            out[2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
        std::str::from_utf8(out).expect("hex digits are ASCII")
    }
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PseudonymKey")
            .field("fingerprint", &self.fingerprint.0)
            .finish_non_exhaustive()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

/// A key's short id: 16 lowercase hex digits, the first 8 bytes of the HMAC-SHA256 of a fixed
/// label under the key. It tells keys apart without revealing them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

/// Stored text that is not a fingerprint.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a key fingerprint (16 lowercase hex digits)")]
pub struct BadFingerprint(pub String);

impl Fingerprint {
    pub fn parse(text: &str) -> Result<Self, BadFingerprint> {
        if text.len() == 16 && text.bytes().all(|b| HEX.contains(&b)) {
            Ok(Self(text.to_owned()))
        } else {
            Err(BadFingerprint(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a partition's phone numbers and names were written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PseudonymMode {
    /// As the API sent them.
    Clear,
    /// As pseudonyms under the key with this fingerprint.
    Pseudonymized(Fingerprint),
}

impl PseudonymMode {
    /// As the registry stores it: null for clear, else the key's fingerprint.
    pub fn stored(&self) -> Option<&str> {
        match self {
            Self::Clear => None,
            Self::Pseudonymized(f) => Some(f.as_str()),
        }
    }

    /// From what the registry stored.
    pub fn from_stored(stored: Option<&str>) -> Result<Self, BadFingerprint> {
        stored
            .map(Fingerprint::parse)
            .transpose()
            .map(|f| f.map_or(Self::Clear, Self::Pseudonymized))
    }
}

impl fmt::Display for PseudonymMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Clear => f.write_str("clear"),
            Self::Pseudonymized(fp) => write!(f, "pseudonymized (key {fp})"),
        }
    }
}

/// `--pseudonymize` without a key.
#[derive(Debug, thiserror::Error)]
#[error("pseudonymization is on but there is no key: set TWILIO_EXPORT_PSEUDONYM_KEY or --pseudonym-key-file (TWILIO_EXPORT_PSEUDONYM_KEY_FILE)")]
pub struct NoKey;

/// What an export is configured to write: pseudonyms under a key, or the values in clear (a
/// key may be given and unused). A job file may turn it on or off for its job.
#[derive(Clone, Debug, Default)]
pub struct Pseudonymization {
    key: Option<PseudonymKey>,
    on: bool,
    /// The days a backfill replaces in every account it holds (partitions of another mode
    /// on them may stand until it has written them).
    replaces: Option<DayRange>,
}

impl Pseudonymization {
    /// `on` needs a key.
    pub fn new(on: bool, key: Option<PseudonymKey>) -> Result<Self, NoKey> {
        if on && key.is_none() {
            return Err(NoKey);
        }
        Ok(Self {
            key,
            on,
            replaces: None,
        })
    }

    /// The same, for an export that replaces every partition of `range` of its accounts.
    pub fn replacing(mut self, range: DayRange) -> Self {
        self.replaces = Some(range);
        self
    }

    /// The days this export replaces, if it is a backfill.
    pub fn replaces(&self) -> Option<DayRange> {
        self.replaces
    }

    /// The same key, turned on or off by a job (`None`: as configured).
    pub fn for_job(&self, pseudonymize: Option<bool>) -> Result<Self, NoKey> {
        Ok(Self {
            replaces: self.replaces,
            ..Self::new(pseudonymize.unwrap_or(self.on), self.key.clone())?
        })
    }

    /// The key to write with, when on.
    pub fn key(&self) -> Option<&PseudonymKey> {
        self.key.as_ref().filter(|_| self.on)
    }

    /// The mode partitions are written in.
    pub fn mode(&self) -> PseudonymMode {
        match self.key() {
            Some(k) => PseudonymMode::Pseudonymized(k.fingerprint().clone()),
            None => PseudonymMode::Clear,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef-test-key";

    #[test]
    fn pseudonyms_are_hmac_sha256_hex_and_empty_stays_empty() {
        let key = PseudonymKey::new(KEY).unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(KEY).unwrap();
        mac.update("+14155550100".as_bytes());
        let expected = hex(&mac.finalize().into_bytes());
        assert_eq!(key.pseudonymize("+14155550100"), expected);
        assert_eq!(expected.len(), 64);
        assert_eq!(key.pseudonymize(""), "");
        assert_eq!(
            key.pseudonymize("Zoë"),
            key.clone().pseudonymize("Zoë"),
            "a clone keeps the key"
        );
        assert_ne!(key.pseudonymize("a"), key.pseudonymize("b"));
    }

    /// RFC 4231, test case 6 (a 131-byte key): the HMAC itself is the standard one.
    #[test]
    fn rfc_4231_vector() {
        let key = PseudonymKey::new(&[0xaa; 131]).unwrap();
        assert_eq!(
            key.pseudonymize("Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn short_or_empty_keys_are_refused() {
        assert_eq!(PseudonymKey::new(b"").unwrap_err(), KeyError::Empty);
        assert_eq!(
            PseudonymKey::new(&KEY[..15]).unwrap_err(),
            KeyError::TooShort { len: 15 }
        );
        assert!(PseudonymKey::new(&KEY[..16]).is_ok());
    }

    #[test]
    fn the_key_never_shows_and_its_fingerprint_is_stable() {
        let key = PseudonymKey::new(KEY).unwrap();
        let shown = format!(
            "{key:?} {:?}",
            Pseudonymization::new(true, Some(key.clone()))
        );
        assert!(!shown.contains("0123456789abcdef-test-key"), "{shown}");
        let fp = key.fingerprint();
        assert_eq!(fp.as_str().len(), 16);
        assert!(shown.contains(fp.as_str()), "{shown}");
        assert_eq!(PseudonymKey::new(KEY).unwrap().fingerprint(), fp);
        let other = PseudonymKey::new(b"another key of 16+ bytes").unwrap();
        assert_ne!(other.fingerprint(), fp);
        assert_eq!(Fingerprint::parse(fp.as_str()).unwrap(), *fp);
        assert!(Fingerprint::parse("not hex at all!!").is_err());
    }

    #[test]
    fn modes_round_trip_through_storage() {
        let key = PseudonymKey::new(KEY).unwrap();
        for mode in [
            PseudonymMode::Clear,
            PseudonymMode::Pseudonymized(key.fingerprint().clone()),
        ] {
            assert_eq!(PseudonymMode::from_stored(mode.stored()).unwrap(), mode);
        }
        assert!(PseudonymMode::from_stored(Some("x")).is_err());
    }

    #[test]
    fn on_needs_a_key_and_jobs_override_the_setting() {
        assert!(Pseudonymization::new(true, None).is_err());
        let off = Pseudonymization::default();
        assert_eq!(off.mode(), PseudonymMode::Clear);
        assert!(off.for_job(Some(true)).is_err());
        let key = PseudonymKey::new(KEY).unwrap();
        let unused = Pseudonymization::new(false, Some(key.clone())).unwrap();
        assert!(unused.key().is_none());
        let on = unused.for_job(Some(true)).unwrap();
        assert_eq!(
            on.mode(),
            PseudonymMode::Pseudonymized(key.fingerprint().clone())
        );
        assert_eq!(
            on.for_job(Some(false)).unwrap().mode(),
            PseudonymMode::Clear
        );
        assert_eq!(on.for_job(None).unwrap().mode(), on.mode());
    }
}
