//! Prometheus text for `GET /metrics`: callbacks by outcome and connections (counted here),
//! and accounts by status (read from the registry at scrape time). No metrics crate: two families do not need
//! one. This module does not serve HTTP.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::registry::AccountStatus;

/// The outcomes each callback can have, listed so that every series exists from the start.
const OUTCOMES: &[(&str, &[&str])] = &[
    (
        "authorize",
        &[
            "connected",
            "denied",
            "bad_request",
            "bad_state",
            "not_granted",
            "own_account",
            "throttled",
            "api_unavailable",
            "timeout",
            "error",
        ],
    ),
    (
        "deauthorize",
        &[
            "deauthorized",
            "unknown_account",
            "already_deauthorized",
            "still_authorized",
            "being_checked",
            "bad_request",
            "missing_signature",
            "bad_signature",
            "foreign_app",
            "timeout",
            "error",
        ],
    ),
];

/// Callback and connection counters.
#[derive(Debug)]
pub struct Metrics {
    callbacks: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    connections_open: AtomicU64,
    connections_refused: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        let callbacks = OUTCOMES
            .iter()
            .flat_map(|(cb, outcomes)| outcomes.iter().map(move |o| ((*cb, *o), 0)))
            .collect();
        Self {
            callbacks: Mutex::new(callbacks),
            connections_open: AtomicU64::new(0),
            connections_refused: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Counts one callback (`authorize` or `deauthorize`) that ended with `outcome`.
    pub fn record(&self, callback: &'static str, outcome: &'static str) {
        *self
            .callbacks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((callback, outcome))
            .or_default() += 1;
    }

    pub fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    /// A connection beyond the cap was closed unanswered.
    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text; `accounts` is (status, count) from the registry, or `None` when it
    /// could not be read (the family is then left out rather than reported as zero).
    pub fn render(&self, accounts: Option<&[(String, u64)]>) -> String {
        let mut out = String::new();
        out.push_str("# HELP twilio_export_connect_callbacks_total Connect callbacks received, by callback and outcome.\n");
        out.push_str("# TYPE twilio_export_connect_callbacks_total counter\n");
        let counters = self
            .callbacks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for ((cb, outcome), n) in counters {
            let _ = writeln!(
                out,
                "twilio_export_connect_callbacks_total{{callback=\"{cb}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        let open = self.connections_open.load(Ordering::Relaxed);
        let refused = self.connections_refused.load(Ordering::Relaxed);
        let _ = write!(
            out,
            "# HELP twilio_export_receiver_connections Open connections.\n\
             # TYPE twilio_export_receiver_connections gauge\n\
             twilio_export_receiver_connections {open}\n\
             # HELP twilio_export_receiver_connections_refused_total Connections closed because too many were open.\n\
             # TYPE twilio_export_receiver_connections_refused_total counter\n\
             twilio_export_receiver_connections_refused_total {refused}\n"
        );
        if let Some(accounts) = accounts {
            out.push_str("# HELP twilio_export_accounts Registered accounts, by status.\n");
            out.push_str("# TYPE twilio_export_accounts gauge\n");
            // Every status, 0 when no account has it: a series that appears only once it is
            // non-zero cannot be alerted on.
            let mut by_status: BTreeMap<&str, u64> = [
                AccountStatus::Active,
                AccountStatus::Deauthorized,
                AccountStatus::Purged,
            ]
            .into_iter()
            .map(|s| (s.as_str(), 0))
            .collect();
            for (status, n) in accounts {
                by_status.insert(status.as_str(), *n);
            }
            for (status, n) in by_status {
                let _ = writeln!(out, "twilio_export_accounts{{status=\"{status}\"}} {n}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_series_and_counts() {
        let m = Metrics::default();
        m.record("authorize", "connected");
        m.record("authorize", "connected");
        let text = m.render(Some(&[("active".to_owned(), 3)]));
        assert!(text.contains(
            "twilio_export_connect_callbacks_total{callback=\"authorize\",outcome=\"connected\"} 2\n"
        ));
        assert!(text.contains(
            "twilio_export_connect_callbacks_total{callback=\"deauthorize\",outcome=\"bad_signature\"} 0\n"
        ));
        assert!(text.contains("twilio_export_accounts{status=\"active\"} 3\n"));
        assert!(text.contains("twilio_export_accounts{status=\"deauthorized\"} 0\n"));
        assert!(text.contains("twilio_export_accounts{status=\"purged\"} 0\n"));
        assert!(!m.render(None).contains("twilio_export_accounts{"));
        m.connection_opened();
        m.connection_opened();
        m.connection_closed();
        m.connection_refused();
        let text = m.render(None);
        assert!(
            text.contains("\ntwilio_export_receiver_connections 1\n"),
            "{text}"
        );
        assert!(text.contains("\ntwilio_export_receiver_connections_refused_total 1\n"));
    }
}
