//! What is retried and how long to wait.
//!
//! - 429 (code 20429, too many concurrent requests): always retried, waiting `Retry-After`
//!   when the answer has one, else exponential backoff; up to `--retry-budget` (default 600 s)
//!   of waiting in all for one request.
//! - 500/502/503/504, timeouts, connection errors, bodies cut off or not valid JSON: retried
//!   up to [`MAX_ATTEMPTS`] attempts in all.
//! - Everything else (401/403/404/other 4xx, a record that cannot be typed) is final.
//!
//! Backoff is "full jitter": a uniform wait in `0..min(CAP, BASE × 2^attempt)`, like
//! twilio-node's retry (`shared/twilio/README.md` §6) but with a longer cap.

use std::time::Duration;

use rand::Rng;

/// Attempts in all for one request hit by transient faults.
pub const MAX_ATTEMPTS: u32 = 6;
/// First backoff step.
pub const BASE: Duration = Duration::from_millis(200);
/// Longest single backoff wait.
pub const CAP: Duration = Duration::from_secs(10);

/// The wait before retry number `attempt` (1 for the first retry).
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = BASE
        .saturating_mul(1u32 << attempt.min(16))
        .min(CAP)
        .as_millis() as u64;
    Duration::from_millis(rand::rng().random_range(0..=ceiling))
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
    fn backoff_stays_under_its_ceiling() {
        for attempt in 1..20 {
            assert!(backoff(attempt) <= CAP);
        }
        assert!(backoff(1) <= BASE * 2);
    }

    #[test]
    fn retry_after_takes_seconds() {
        assert_eq!(retry_after(Some("2")), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(Some("0.5")), Some(Duration::from_millis(500)));
        assert_eq!(retry_after(Some("soon")), None);
        assert_eq!(retry_after(None), None);
    }
}
