//! The Connect `state`: issued by us, verifiable without server-side storage, and short-lived.
//! Pure functions (the caller passes the time); no I/O.
//!
//! A state is `{issued_at}.{nonce}.{tag}`: the issue time in Unix seconds, 16 random bytes and
//! HMAC-SHA256 over the first two parts, both in URL-safe base64. The HMAC key is derived from
//! our Auth Token, so every replica of `serve` behind a load balancer accepts the states of the
//! others and nothing new has to be configured; changing the token invalidates open attempts.
//! A state is valid for [`STATE_TTL`] after it was issued (and up to [`MAX_CLOCK_SKEW`] before,
//! for replicas whose clocks differ). Its single use is enforced by `guard`, not here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::domain::AuthToken;

/// How long a state stays valid after it was issued: from the click on Connect to the return.
pub const STATE_TTL: Duration = Duration::from_secs(10 * 60);
/// How far in the future an issue time may lie (another replica's clock may be ahead).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(60);
/// Longer inputs are refused before any decoding (a real state is 77 characters).
const MAX_STATE_LEN: usize = 128;
/// Domain separation: this key signs nothing but Connect states.
const KEY_LABEL: &[u8] = b"twilio-export connect state v1";

/// Why a `state` is refused. Every variant gets the same answer (400, nothing done); the
/// variants are for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateRejection {
    #[error("the state or the state cookie is missing")]
    Missing,
    #[error("the state does not match the state cookie")]
    CookieMismatch,
    #[error("the state is not one we issue")]
    Malformed,
    #[error("the state's tag does not match (forged or altered)")]
    BadTag,
    #[error("the state has expired")]
    Expired,
    #[error("the state was already used")]
    Replayed,
}

/// A state whose tag and age were checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedState {
    /// The random part: what single use is tracked by.
    pub nonce: [u8; 16],
    /// Unix seconds after which the state is refused anyway.
    pub expires_at: u64,
}

/// The key that signs and checks states.
pub struct StateKey([u8; 32]);

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateKey([redacted])")
    }
}

type HmacSha256 = Hmac<Sha256>;

impl StateKey {
    /// The key derived from our Auth Token: HMAC-SHA256(token, a fixed label).
    pub fn derive(token: &AuthToken) -> Self {
        let mut mac = mac(token.expose().as_bytes());
        mac.update(KEY_LABEL);
        Self(mac.finalize().into_bytes().into())
    }

    /// A fresh state issued at `at`.
    pub fn issue(&self, at: SystemTime) -> String {
        let mut nonce = [0u8; 16];
        rand::rng().fill_bytes(&mut nonce);
        self.issue_with(unix_secs(at), &nonce)
    }

    fn issue_with(&self, issued_at: u64, nonce: &[u8; 16]) -> String {
        let body = format!("{issued_at}.{}", URL_SAFE_NO_PAD.encode(nonce));
        let tag = URL_SAFE_NO_PAD.encode(self.tag(&body).finalize().into_bytes());
        format!("{body}.{tag}")
    }

    fn tag(&self, body: &str) -> HmacSha256 {
        let mut mac = mac(&self.0);
        mac.update(body.as_bytes());
        mac
    }

    /// Checks the format, the tag (in constant time) and the age of `state` at `now`.
    pub fn verify(&self, state: &str, now: SystemTime) -> Result<VerifiedState, StateRejection> {
        if state.len() > MAX_STATE_LEN {
            return Err(StateRejection::Malformed);
        }
        let (body, tag) = state.rsplit_once('.').ok_or(StateRejection::Malformed)?;
        let (issued, nonce) = body.split_once('.').ok_or(StateRejection::Malformed)?;
        if issued.is_empty() || !issued.bytes().all(|b| b.is_ascii_digit()) {
            return Err(StateRejection::Malformed);
        }
        let issued_at: u64 = issued.parse().map_err(|_| StateRejection::Malformed)?;
        let nonce: [u8; 16] = decode_exact(nonce)?;
        let tag: [u8; 32] = decode_exact(tag)?;
        self.tag(body)
            .verify_slice(&tag)
            .map_err(|_| StateRejection::BadTag)?;
        let now = unix_secs(now);
        let expires_at = issued_at.saturating_add(STATE_TTL.as_secs());
        if now >= expires_at || issued_at > now.saturating_add(MAX_CLOCK_SKEW.as_secs()) {
            return Err(StateRejection::Expired);
        }
        Ok(VerifiedState { nonce, expires_at })
    }
}

fn mac(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"))
}

fn decode_exact<const N: usize>(part: &str) -> Result<[u8; N], StateRejection> {
    URL_SAFE_NO_PAD
        .decode(part)
        .ok()
        .and_then(|v| <[u8; N]>::try_from(v).ok())
        .ok_or(StateRejection::Malformed)
}

/// Seconds since the Unix epoch (0 for an instant before it).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(token: &str) -> StateKey {
        StateKey::derive(&AuthToken::new(token.to_owned()).unwrap())
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn an_issued_state_verifies_until_it_expires() {
        let k = key("token");
        let t0 = 1_800_000_000;
        let s = k.issue(at(t0));
        assert_eq!(s.len(), 77, "{s}");
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        let v = k.verify(&s, at(t0)).unwrap();
        assert_eq!(v.expires_at, t0 + STATE_TTL.as_secs());
        assert_eq!(k.verify(&s, at(t0 + 599)), Ok(v));
        assert_eq!(k.verify(&s, at(t0 + 600)), Err(StateRejection::Expired));
        // Issued by a replica whose clock is ahead, within the skew.
        assert!(k.verify(&s, at(t0 - 60)).is_ok());
        assert_eq!(k.verify(&s, at(t0 - 61)), Err(StateRejection::Expired));
        assert_ne!(k.issue(at(t0)), s, "fresh nonces");
    }

    #[test]
    fn another_token_or_any_change_breaks_the_tag() {
        let t0 = 1_800_000_000;
        let s = key("token").issue(at(t0));
        assert_eq!(key("other").verify(&s, at(t0)), Err(StateRejection::BadTag));
        let k = key("token");
        // A later issue time with the old tag.
        let (issued, rest) = s.split_once('.').unwrap();
        let moved = format!("{}.{rest}", issued.parse::<u64>().unwrap() + 300);
        assert_eq!(k.verify(&moved, at(t0)), Err(StateRejection::BadTag));
        // Every single-character change of the nonce or the tag.
        for i in s.find('.').unwrap() + 1..s.len() {
            let mut b = s.clone().into_bytes();
            if b[i] == b'.' {
                continue;
            }
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(b).unwrap();
            assert!(k.verify(&changed, at(t0)).is_err(), "{changed}");
        }
    }

    #[test]
    fn malformed_states_are_refused_before_the_mac() {
        let k = key("token");
        let good = k.issue_with(1_800_000_000, &[7; 16]);
        let (_, tail) = good.split_once('.').unwrap();
        for bad in [
            "".to_owned(),
            "forged".to_owned(),
            "1.2.3".to_owned(),
            format!("+1.{tail}"),
            format!("99999999999999999999999.{tail}"),
            format!("{good}.x"),
            format!("{good}{}", "A".repeat(60)),
        ] {
            assert_eq!(
                k.verify(&bad, at(1_800_000_000)),
                Err(StateRejection::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_key_is_redacted() {
        assert_eq!(format!("{:?}", key("token")), "StateKey([redacted])");
    }
}
