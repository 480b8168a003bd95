//! What is retried and how long to wait.
//!
//! - 429 (code 20429, too many concurrent requests): always retried, waiting `Retry-After`
//!   when the answer has one, else backing off exponentially over the request's consecutive
//!   429s; up to `--retry-budget` (default 600 s) of waiting in all for one request.
//! - 500/502/503/504, timeouts, connection errors, bodies cut off or not valid JSON: retried
//!   up to [`MAX_ATTEMPTS`] attempts in all.
//! - Everything else (401/403/404/other 4xx, a redirect, a body or page too large, a record
//!   that cannot be typed) is final.
//!
//! Backoff is "full jitter": a uniform wait in `0..=min(CAP, BASE × 2^n)` for the `n`-th
//! consecutive fault or 429, like twilio-node's retry but with a longer cap. [`Waits`] keeps
//! the two counts of one request; its jitter source is a plain function so tests can see the
//! ceilings.

use std::time::Duration;

use rand::Rng;

/// Attempts in all for one request hit by transient faults.
pub const MAX_ATTEMPTS: u32 = 6;
/// First backoff step.
pub const BASE: Duration = Duration::from_millis(200);
/// Longest single backoff wait.
pub const CAP: Duration = Duration::from_secs(10);

/// Picks a wait in `0..=ceiling`.
pub type Jitter = fn(Duration) -> Duration;

/// The upper bound of the wait before retry number `n` (1 for the first retry).
pub fn ceiling(n: u32) -> Duration {
    BASE.saturating_mul(1u32 << n.min(16)).min(CAP)
}

/// Full jitter: a uniform wait in `0..=ceiling`, by the millisecond.
pub fn full_jitter(ceiling: Duration) -> Duration {
    Duration::from_millis(rand::rng().random_range(0..=ceiling.as_millis() as u64))
}

/// The waits of one request: faults and 429s each back off over their own count.
#[derive(Debug)]
pub struct Waits {
    jitter: Jitter,
    /// Attempts hit by a fault so far.
    faults: u32,
    /// 429s in a row since the last answer that was not one.
    throttles: u32,
}

impl Waits {
    pub fn new(jitter: Jitter) -> Self {
        Self {
            jitter,
            faults: 0,
            throttles: 0,
        }
    }

    /// A transient fault: the wait before the next attempt, or `None` when the request has
    /// used up its [`MAX_ATTEMPTS`].
    pub fn faulted(&mut self) -> Option<Duration> {
        self.faults += 1;
        self.throttles = 0;
        (self.faults < MAX_ATTEMPTS).then(|| (self.jitter)(ceiling(self.faults)))
    }

    /// A 429: a backoff that grows with each 429 in a row, or the answer's `Retry-After` when
    /// that is longer. (A `Retry-After: 0` must not turn the retries into a busy loop that never
    /// uses up the request's budget.)
    pub fn throttled(&mut self, retry_after: Option<Duration>) -> Duration {
        self.throttles = self.throttles.saturating_add(1);
        let backoff = (self.jitter)(ceiling(self.throttles));
        retry_after.map_or(backoff, |after| after.max(backoff))
    }

    /// Attempts made so far (for messages).
    pub fn attempts(&self) -> u32 {
        self.faults + self.throttles
    }
}

/// Whether an HTTP status is worth another try.
pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 500 | 502 | 503 | 504)
}

/// Parses `Retry-After` given in seconds (the HTTP-date form is not used by Twilio).
pub fn retry_after(value: Option<&str>) -> Option<Duration> {
    let secs: f64 = value?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(300.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_under_its_ceiling() {
        for n in 1..20 {
            assert!(full_jitter(ceiling(n)) <= CAP);
        }
        assert!(full_jitter(ceiling(1)) <= BASE * 2);
    }

    #[test]
    fn consecutive_429s_without_retry_after_back_off_exponentially_up_to_the_cap() {
        let mut waits = Waits::new(|ceiling| ceiling);
        let seen: Vec<u64> = (0..10)
            .map(|_| waits.throttled(None).as_millis() as u64)
            .collect();
        assert_eq!(
            seen,
            [400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000, 10_000, 10_000]
        );
        // A shorter Retry-After does not cut the backoff short, and the next 429 without one
        // keeps growing.
        assert_eq!(waits.throttled(Some(Duration::from_secs(1))), CAP);
        assert_eq!(waits.throttled(None), CAP);
        // A fault in between starts the 429 count again.
        assert_eq!(waits.faulted(), Some(Duration::from_millis(400)));
        assert_eq!(waits.throttled(None), Duration::from_millis(400));
    }

    #[test]
    fn retry_after_is_a_floor_and_zero_still_backs_off() {
        let mut waits = Waits::new(|ceiling| ceiling);
        let zero = Some(Duration::ZERO);
        let seen: Vec<u64> = (0..4)
            .map(|_| waits.throttled(zero).as_millis() as u64)
            .collect();
        assert_eq!(seen, [400, 800, 1600, 3200]);
        let long = Duration::from_secs(30);
        assert_eq!(waits.throttled(Some(long)), long);
    }

    #[test]
    fn the_waiting_time_a_budget_allows_buys_few_429_retries() {
        // At the largest waits the jitter can give, 600 s of budget buy ~64 tries (twice that
        // on average), where a backoff that never grew gave ~3000.
        let mut waits = Waits::new(|ceiling| ceiling);
        let (mut spent, mut tries) = (Duration::ZERO, 0);
        while spent <= Duration::from_secs(600) {
            spent += waits.throttled(None);
            tries += 1;
        }
        assert!(tries < 70, "{tries}");
    }

    #[test]
    fn faults_are_retried_until_max_attempts() {
        let mut waits = Waits::new(|ceiling| ceiling);
        let given: Vec<_> = std::iter::from_fn(|| waits.faulted()).collect();
        assert_eq!(given.len() as u32, MAX_ATTEMPTS - 1);
        assert!(given.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn retry_after_takes_seconds() {
        assert_eq!(retry_after(Some("2")), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(Some("0.5")), Some(Duration::from_millis(500)));
        assert_eq!(retry_after(Some("soon")), None);
        assert_eq!(retry_after(None), None);
    }
}
