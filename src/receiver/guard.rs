//! What an Authorize request must pass before it may cost an API call: a state we issued
//! (checked by `state`), equal to the cookie, not used before, and a free slot in the rate of
//! grant checks. Forged, altered, expired and replayed states are refused here without any
//! request to Twilio.
//!
//! Server-side memory is bounded: the used nonces are kept only until their state would have
//! expired anyway, and only states admitted by the rate limiter are ever recorded, so the set
//! never holds more than `burst + (STATE_TTL + MAX_CLOCK_SKEW) / interval` entries (a hard cap
//! of that size refuses, rather than forgets, beyond it). Each replica keeps its own set.
//!
//! This module does not call the API or read the clock; the handler passes `now`.

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use governor::clock::DefaultClock;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use subtle::ConstantTimeEq;

use super::state::{unix_secs, StateKey, StateRejection, VerifiedState, MAX_CLOCK_SKEW, STATE_TTL};

/// How many grant checks (`GET /Accounts/{sid}.json` on behalf of an Authorize request) the
/// receiver makes: a burst, then one more per interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantCheckRate {
    pub burst: NonZeroU32,
    pub interval: Duration,
}

impl Default for GrantCheckRate {
    /// 10 at once, then 2 a second: far above people clicking Connect, far below what costs.
    fn default() -> Self {
        Self {
            burst: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            interval: Duration::from_millis(500),
        }
    }
}

/// Why an Authorize request may not check its grant now.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    State(StateRejection),
    /// Too many grant checks right now; try again shortly.
    Throttled,
}

/// The state key, the used nonces and the grant-check rate. Shared by all requests.
pub struct Guard {
    key: StateKey,
    /// (expires_at, nonce) of every state used and not yet expired, oldest expiry first.
    used: Mutex<BTreeSet<(u64, [u8; 16])>>,
    capacity: usize,
    rate: RateLimiter<NotKeyed, InMemoryState, DefaultClock>,
}

impl Guard {
    pub fn new(key: StateKey, rate: GrantCheckRate) -> Self {
        let interval = rate.interval.max(Duration::from_millis(1));
        let lifetime = STATE_TTL + MAX_CLOCK_SKEW;
        let refills = lifetime.as_nanos().div_ceil(interval.as_nanos());
        let capacity = usize::try_from(refills)
            .unwrap_or(usize::MAX)
            .saturating_add(rate.burst.get() as usize);
        let quota = Quota::with_period(interval)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(rate.burst);
        Self {
            key,
            used: Mutex::new(BTreeSet::new()),
            capacity,
            rate: RateLimiter::direct(quota),
        }
    }

    /// A fresh state, for `GET /`.
    pub fn issue(&self, now: SystemTime) -> String {
        self.key.issue(now)
    }

    /// Admits one grant check for `state` (from the query) and `cookie`, or says why not.
    /// Once admitted, the state is used up, whatever the check then finds.
    pub fn admit(
        &self,
        state: Option<&str>,
        cookie: Option<&str>,
        now: SystemTime,
    ) -> Result<(), Refusal> {
        let verified = self.verify(state, cookie, now).map_err(Refusal::State)?;
        let now = unix_secs(now);
        if self
            .lock_used(now)
            .contains(&(verified.expires_at, verified.nonce))
        {
            return Err(Refusal::State(StateRejection::Replayed));
        }
        if self.rate.check().is_err() {
            return Err(Refusal::Throttled);
        }
        let mut used = self.lock_used(now);
        if used.len() >= self.capacity {
            // Cannot happen while the rate holds (see the module comment); refuse, never forget.
            return Err(Refusal::Throttled);
        }
        if !used.insert((verified.expires_at, verified.nonce)) {
            // The same state won a race with itself.
            return Err(Refusal::State(StateRejection::Replayed));
        }
        Ok(())
    }

    fn verify(
        &self,
        state: Option<&str>,
        cookie: Option<&str>,
        now: SystemTime,
    ) -> Result<VerifiedState, StateRejection> {
        let (Some(state), Some(cookie)) = (state, cookie) else {
            return Err(StateRejection::Missing);
        };
        if state.is_empty() {
            return Err(StateRejection::Missing);
        }
        if !bool::from(state.as_bytes().ct_eq(cookie.as_bytes())) {
            return Err(StateRejection::CookieMismatch);
        }
        self.key.verify(state, now)
    }

    /// The used set with the entries expired at `now` dropped.
    fn lock_used(&self, now: u64) -> std::sync::MutexGuard<'_, BTreeSet<(u64, [u8; 16])>> {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        while used.first().is_some_and(|(expires, _)| *expires <= now) {
            used.pop_first();
        }
        used
    }

    /// How many used states are remembered.
    #[cfg(test)]
    fn remembered(&self, now: SystemTime) -> usize {
        self.lock_used(unix_secs(now)).len()
    }

    /// The most used states this guard will remember.
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AuthToken;
    use std::time::UNIX_EPOCH;

    fn guard(burst: u32, interval: Duration) -> Guard {
        let key = StateKey::derive(&AuthToken::new("token".to_owned()).unwrap());
        Guard::new(
            key,
            GrantCheckRate {
                burst: NonZeroU32::new(burst).unwrap(),
                interval,
            },
        )
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_state_is_admitted_once_and_must_match_the_cookie() {
        let g = guard(10, Duration::from_secs(3600));
        let t = at(1_800_000_000);
        let s = g.issue(t);
        let other = g.issue(t);
        assert_eq!(
            g.admit(Some(&s), Some(&other), t),
            Err(Refusal::State(StateRejection::CookieMismatch))
        );
        assert_eq!(
            g.admit(Some(&s), None, t),
            Err(Refusal::State(StateRejection::Missing))
        );
        assert_eq!(
            g.admit(Some(""), Some(""), t),
            Err(Refusal::State(StateRejection::Missing))
        );
        assert_eq!(g.admit(Some(&s), Some(&s), t), Ok(()));
        assert_eq!(
            g.admit(Some(&s), Some(&s), t),
            Err(Refusal::State(StateRejection::Replayed))
        );
        assert_eq!(g.admit(Some(&other), Some(&other), t), Ok(()));
    }

    #[test]
    fn beyond_the_burst_grant_checks_are_throttled_and_replays_cost_nothing() {
        let g = guard(3, Duration::from_secs(3600));
        let t = at(1_800_000_000);
        let first = g.issue(t);
        assert_eq!(g.admit(Some(&first), Some(&first), t), Ok(()));
        for _ in 0..5 {
            // Refused before the rate: the burst is not spent on replays.
            assert_eq!(
                g.admit(Some(&first), Some(&first), t),
                Err(Refusal::State(StateRejection::Replayed))
            );
        }
        let states: Vec<String> = (0..5).map(|_| g.issue(t)).collect();
        let admitted: Vec<_> = states
            .iter()
            .map(|s| g.admit(Some(s), Some(s), t))
            .collect();
        assert_eq!(admitted[..2], [Ok(()), Ok(())]);
        assert!(admitted[2..].iter().all(|r| *r == Err(Refusal::Throttled)));
        assert_eq!(g.remembered(t), 3);
    }

    #[test]
    fn used_states_are_forgotten_once_expired_and_the_set_is_bounded() {
        let g = guard(2, Duration::from_millis(500));
        assert_eq!(g.capacity(), 2 + 2 * 660);
        let t = 1_800_000_000;
        let s = g.issue(at(t));
        assert_eq!(g.admit(Some(&s), Some(&s), at(t)), Ok(()));
        assert_eq!(g.remembered(at(t + 599)), 1);
        assert_eq!(g.remembered(at(t + 600)), 0);
        // After expiry the state is refused as expired, not admitted again.
        assert_eq!(
            g.admit(Some(&s), Some(&s), at(t + 600)),
            Err(Refusal::State(StateRejection::Expired))
        );
    }
}
