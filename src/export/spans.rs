//! Windows sized by the data: which day windows share one request (pure; no I/O).
//!
//! A *span* is one or more consecutive days of one (account, resource) read with one query
//! (`StartTime>=first&StartTime<last+1`, or `StartDate=first&EndDate=last`), its rows split
//! into the same per-day partitions. Days go into one span while what is known of them — the
//! rows earlier runs exported, or an estimate from a span's first page — adds up to less than
//! [`FILL`] of a page; a day known to fill that much alone is a span of its own, so dense days
//! still run side by side. Days never seen before are assumed sparse: the span's first page
//! tells, and a span whose days turn out dense is planned again from that page ([`Density`]),
//! which costs that one request.

use std::collections::HashMap;

use super::Window;
use crate::domain::{AccountSid, Resource};

/// Share of a page a span is planned to fill, leaving room for days that grew since.
pub const FILL: f64 = 0.8;
/// The most days one span reads.
pub const MAX_SPAN_DAYS: usize = 31;

/// Consecutive day windows read with one query; a single day is a span of one.
#[derive(Clone, Debug)]
pub struct Span {
    pub windows: Vec<Window>,
}

impl Span {
    pub fn first(&self) -> &Window {
        &self.windows[0]
    }

    pub fn last(&self) -> &Window {
        self.windows.last().expect("a span has a window")
    }

    pub fn days(&self) -> usize {
        self.windows.len()
    }
}

/// Groups `windows` into spans, keeping their order by first day. `rows_of` estimates a
/// day's rows (`None`: unknown, assumed sparse).
pub fn plan(windows: Vec<Window>, rows_of: impl Fn(&Window) -> Option<u64>) -> Vec<Span> {
    let mut open: HashMap<(AccountSid, Resource), (Span, f64)> = HashMap::new();
    let mut done: Vec<(usize, Span)> = Vec::new();
    let mut order: HashMap<(AccountSid, Resource), usize> = HashMap::new();
    for (i, w) in windows.into_iter().enumerate() {
        let pair = (w.key.account.clone(), w.key.resource);
        let page = f64::from(w.page_size.max(1));
        let rows = rows_of(&w).map_or(0.0, |r| r as f64);
        let fits = open.get(&pair).is_some_and(|(span, filled)| {
            let last = span.last();
            last.key.day.succ_opt() == Some(w.key.day)
                && last.credential == w.credential
                && last.page_size == w.page_size
                && span.days() < MAX_SPAN_DAYS
                && filled + rows <= FILL * page
        });
        if fits {
            let (span, filled) = open.get_mut(&pair).expect("checked");
            span.windows.push(w);
            *filled += rows;
            continue;
        }
        if let Some((span, _)) = open.remove(&pair) {
            done.push((order[&pair], span));
        }
        order.insert(pair.clone(), i);
        open.insert(pair, (Span { windows: vec![w] }, rows));
    }
    done.extend(
        open.into_iter()
            .map(|(pair, (span, _))| (order[&pair], span)),
    );
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, span)| span).collect()
}

/// What a span's first page showed when it had a next page: records per day it covered.
#[derive(Debug, Default)]
pub struct Density {
    /// Records of the span on the first page.
    pub records: u64,
    /// Days from the oldest to the newest record on it, at least one.
    pub days_covered: u64,
}

impl Density {
    pub fn per_day(&self) -> f64 {
        self.records as f64 / self.days_covered.max(1) as f64
    }

    /// Whether a span of `span_days` should be planned again from this density: when its
    /// days are so dense that no two of them would share a span, so that they run side by
    /// side as day windows. A sparser span is read to its end, one page after another, which
    /// costs no request more than the records need.
    pub fn splits(&self, span_days: usize, page_size: u32) -> bool {
        span_days > 1 && 2.0 * self.per_day() > FILL * f64::from(page_size.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PartitionKey;
    use chrono::NaiveDate;

    fn w(account: &str, day: u32) -> Window {
        Window {
            key: PartitionKey {
                resource: Resource::Calls,
                account: AccountSid::parse(account).unwrap(),
                day: NaiveDate::from_ymd_opt(2026, 3, day).unwrap(),
            },
            credential: AccountSid::parse(account).unwrap(),
            page_size: 1000,
        }
    }

    const A: &str = "AC00000000000000000000000000000001";
    const B: &str = "AC00000000000000000000000000000002";

    fn shape(spans: &[Span]) -> Vec<(String, u32, usize)> {
        use chrono::Datelike;
        spans
            .iter()
            .map(|s| {
                (
                    s.first().key.account.to_string()[33..].to_owned(),
                    s.first().key.day.day(),
                    s.days(),
                )
            })
            .collect()
    }

    #[test]
    fn unknown_days_share_spans_of_at_most_a_month() {
        let windows: Vec<Window> = (1..=31).flat_map(|d| [w(A, d), w(B, d)]).collect();
        let spans = plan(windows, |_| None);
        assert_eq!(
            shape(&spans),
            vec![("1".into(), 1, 31), ("2".into(), 1, 31)]
        );
    }

    #[test]
    fn known_dense_days_stay_alone_and_sparse_ones_are_grouped() {
        let windows: Vec<Window> = (1..=6).map(|d| w(A, d)).collect();
        // Day 3 filled a page last time; the others had 100 rows.
        let spans = plan(windows, |w| {
            Some(if w.key.day.to_string().ends_with("03") {
                5000
            } else {
                100
            })
        });
        assert_eq!(
            shape(&spans),
            vec![("1".into(), 1, 2), ("1".into(), 3, 1), ("1".into(), 4, 3)]
        );
    }

    #[test]
    fn a_gap_or_a_full_page_ends_a_span() {
        let spans = plan(vec![w(A, 1), w(A, 2), w(A, 4)], |_| None);
        assert_eq!(shape(&spans), vec![("1".into(), 1, 2), ("1".into(), 4, 1)]);
        let spans = plan((1..=10).map(|d| w(A, d)).collect(), |_| Some(300));
        assert_eq!(
            shape(&spans),
            vec![
                ("1".into(), 1, 2),
                ("1".into(), 3, 2),
                ("1".into(), 5, 2),
                ("1".into(), 7, 2),
                ("1".into(), 9, 2)
            ]
        );
    }

    #[test]
    fn a_dense_first_page_splits_a_long_span_only() {
        let d = Density {
            records: 1000,
            days_covered: 1,
        };
        assert!(d.splits(30, 1000));
        assert!(!d.splits(1, 1000));
        let half = Density {
            records: 1000,
            days_covered: 2,
        };
        assert!(half.splits(30, 1000));
        let medium = Density {
            records: 1000,
            days_covered: 20,
        };
        assert!(!medium.splits(30, 1000));
    }
}
