//! Windows sized by the data: which day windows share one query (pure; no I/O).
//!
//! A *span* is one or more consecutive days of one (account, resource) read with one query
//! (`StartTime>=first&StartTime<last+1`, or `StartDate=first&EndDate=last`), page after page,
//! its rows split into the same per-day partitions. A span costs `ceil(rows / page size)`
//! requests, at most one more than its rows need (its last page, partly filled).
//!
//! A day known to hold [`DENSE_PAGES`] pages of rows (from what earlier runs exported), or a
//! page at least (from a span's first page, all of it on one day), is *dense* and a span of
//! its own, so dense days still run side by side; so is a day whose window failed before, so
//! that it fails alone. The
//! other, *sparse* days are chained: a run of consecutive sparse days is read as few spans as
//! keep the requests within a tenth and one of the fewest the rows need (`floor(pages / 10) + 1`
//! spans for a run of `pages` pages' worth, of about equal rows, each at most
//! [`MAX_SPAN_DAYS`] days). Days never seen before are assumed sparse: the span's first page
//! tells, and a span whose days turn out dense is planned again from that page ([`Density`]),
//! which costs that one request.

use std::collections::HashMap;

use super::Window;
use crate::domain::{AccountSid, Resource};

/// The most days one span reads.
pub const MAX_SPAN_DAYS: usize = 31;

/// Pages of rows from which a day is dense and read alone. A day of one to two pages read
/// alone costs up to twice the requests its rows need; chained with its neighbours, at most
/// one request more per span.
pub const DENSE_PAGES: u64 = 2;

/// Consecutive day windows read with one query; a single day is a span of one.
#[derive(Clone, Debug)]
pub struct Span {
    pub windows: Vec<Window>,
    /// None of its days was ever exported: its first page decides whether it is read as one
    /// or planned again as dense days ([`Density::splits`]). A span planned from known rows
    /// is read as planned.
    pub probe: bool,
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

/// What is known of a day before it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known {
    /// Never exported: assumed sparse.
    Unknown,
    /// The rows an earlier run exported.
    Rows(u64),
    /// A page or more, as a span's first page showed (all of it on one day).
    Dense,
    /// Its window failed before (and is retried): read alone, so that it fails alone and
    /// never takes the days read with it down too.
    Failed,
}

/// A day window with its place in the plan's input, its estimated rows and whether they are
/// known (or only assumed few).
struct Day {
    at: usize,
    window: Window,
    rows: u64,
    known: bool,
}

/// Groups `windows` into spans, in the order of their first window, by what is `known` of
/// each day.
pub fn plan(windows: Vec<Window>, known: impl Fn(&Window) -> Known) -> Vec<Span> {
    let mut open: HashMap<(AccountSid, Resource), Vec<Day>> = HashMap::new();
    let mut runs: Vec<Vec<Day>> = Vec::new();
    for (at, window) in windows.into_iter().enumerate() {
        let pair = (window.key.account.clone(), window.key.resource);
        let estimate = known(&window);
        let (rows, alone) = match estimate {
            Known::Unknown => (0, false),
            Known::Rows(rows) => {
                let page = u64::from(window.page_size.max(1));
                (rows, rows >= DENSE_PAGES * page)
            }
            Known::Dense | Known::Failed => (0, true),
        };
        let day = Day {
            at,
            window,
            rows,
            known: estimate != Known::Unknown,
        };
        let follows = open.get(&pair).is_some_and(|run| {
            let last = &run.last().expect("a run has a day").window;
            last.key.day.succ_opt() == Some(day.window.key.day)
                && last.credential == day.window.credential
                && last.page_size == day.window.page_size
        });
        if !follows || alone {
            runs.extend(open.remove(&pair));
        }
        if alone {
            runs.push(vec![day]);
        } else {
            open.entry(pair).or_default().push(day);
        }
    }
    runs.extend(open.into_values());
    let mut spans: Vec<(usize, Span)> = runs.into_iter().flat_map(chains).collect();
    spans.sort_by_key(|(at, _)| *at);
    spans.into_iter().map(|(_, span)| span).collect()
}

/// A run of consecutive days cut into spans (with the place of each one's first day): as few
/// as keep the requests within a tenth and one of the fewest (or one span per
/// [`MAX_SPAN_DAYS`] days when that is more), of about equal estimated rows (unknown days weigh
/// a row each), or of about equal days when cutting by rows would make a span too long.
fn chains(run: Vec<Day>) -> Vec<(usize, Span)> {
    let page = u64::from(run[0].window.page_size.max(1));
    let pages = run.iter().map(|d| d.rows).sum::<u64>().div_ceil(page);
    let count = ((pages / 10 + 1) as usize)
        .max(run.len().div_ceil(MAX_SPAN_DAYS))
        .min(run.len());
    let weights: Vec<u64> = run.iter().map(|d| d.rows + 1).collect();
    let mut sizes = cut(&weights, count);
    if sizes.iter().any(|n| *n > MAX_SPAN_DAYS) {
        sizes = cut(&vec![1; run.len()], count);
    }
    let mut days = run.into_iter();
    (sizes.into_iter())
        .map(|n| {
            let days: Vec<Day> = days.by_ref().take(n).collect();
            let at = days[0].at;
            let probe = days.iter().all(|d| !d.known);
            let windows = days.into_iter().map(|d| d.window).collect();
            (at, Span { windows, probe })
        })
        .collect()
}

/// The lengths of at most `count` consecutive parts of `weights`, none empty, each closed
/// once it holds its share of the total.
fn cut(weights: &[u64], count: usize) -> Vec<usize> {
    let total: u64 = weights.iter().sum();
    let mut sizes = vec![0usize];
    let mut so_far = 0;
    for w in weights {
        let share = total * sizes.len() as u64 / count as u64;
        if *sizes.last().expect("one part at least") > 0 && so_far >= share {
            sizes.push(0);
        }
        so_far += w;
        *sizes.last_mut().expect("one part at least") += 1;
    }
    sizes
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
    /// first page holds a page of one day's records, so that its days, dense, run side by
    /// side as day windows ([`Known::Dense`]). A sparser span is read to its end, one page
    /// after another, which costs at most one request more than the records need.
    pub fn splits(&self, span_days: usize, page_size: u32) -> bool {
        span_days > 1 && self.per_day() >= f64::from(page_size.max(1))
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

    /// `count` day windows of account `A` from `first`.
    fn consecutive(first: NaiveDate, count: i64) -> Vec<Window> {
        (0..count)
            .map(|i| {
                let mut window = w(A, 1);
                window.key.day = first + chrono::Duration::days(i);
                window
            })
            .collect()
    }
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
        let spans = plan(windows, |_| Known::Unknown);
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
            Known::Rows(if w.key.day.to_string().ends_with("03") {
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
    fn a_gap_or_a_dense_day_ends_a_span() {
        let spans = plan(vec![w(A, 1), w(A, 2), w(A, 4)], |_| Known::Unknown);
        assert_eq!(shape(&spans), vec![("1".into(), 1, 2), ("1".into(), 4, 1)]);
        // Three pages' worth of sparse days: one span, read page after page.
        let spans = plan((1..=10).map(|d| w(A, d)).collect(), |_| Known::Rows(300));
        assert_eq!(shape(&spans), vec![("1".into(), 1, 10)]);
        let spans = plan((1..=3).map(|d| w(A, d)).collect(), |w| {
            Known::Rows(if w.key.day.to_string().ends_with("02") {
                2000
            } else {
                1999
            })
        });
        assert_eq!(
            shape(&spans),
            vec![("1".into(), 1, 1), ("1".into(), 2, 1), ("1".into(), 3, 1)]
        );
    }

    /// Requests a span needs at `rows_of`, and the fewest the rows need.
    fn requests(spans: &[Span], rows_of: impl Fn(&Window) -> u64) -> u64 {
        spans
            .iter()
            .map(|s| {
                s.windows
                    .iter()
                    .map(&rows_of)
                    .sum::<u64>()
                    .div_ceil(1000)
                    .max(1)
            })
            .sum()
    }

    #[test]
    fn sparse_runs_are_cut_into_as_many_spans_as_the_bound_allows() {
        // 20,000 calls over 30 days: 21 pages' worth, in 3 spans of about 7 pages each.
        let windows = || (1..=30).map(|d| w(A, d)).collect::<Vec<_>>();
        let spans = plan(windows(), |_| Known::Rows(700));
        assert_eq!(
            shape(&spans),
            vec![
                ("1".into(), 1, 10),
                ("1".into(), 11, 10),
                ("1".into(), 21, 10)
            ]
        );
        assert!(requests(&spans, |_| 700) <= 21 * 11 / 10 + 1);
        // Every density under a page stays within a tenth and one of the fewest requests.
        for per_day in [1, 20, 300, 400, 501, 667, 850, 999, 1001, 1500, 1999] {
            let spans = plan(windows(), |_| Known::Rows(per_day));
            let fewest = (30 * per_day).div_ceil(1000);
            let needed = requests(&spans, |_| per_day);
            assert!(
                needed * 10 <= fewest * 11 + 10,
                "{per_day}: {needed} for {fewest}"
            );
        }
    }

    #[test]
    fn only_spans_of_days_never_exported_are_decided_by_their_first_page() {
        let spans = plan((1..=4).map(|d| w(A, d)).collect(), |w| {
            if w.key.day.to_string().ends_with("04") {
                Known::Unknown
            } else {
                Known::Rows(1500)
            }
        });
        assert_eq!(shape(&spans), vec![("1".into(), 1, 4)]);
        assert!(!spans[0].probe);
        let spans = plan((1..=4).map(|d| w(A, d)).collect(), |_| Known::Unknown);
        assert!(spans[0].probe);
    }

    #[test]
    fn a_day_that_failed_before_is_read_alone() {
        let spans = plan((1..=6).map(|d| w(A, d)).collect(), |w| {
            if w.key.day.to_string().ends_with("03") {
                Known::Failed
            } else {
                Known::Unknown
            }
        });
        assert_eq!(
            shape(&spans),
            vec![("1".into(), 1, 2), ("1".into(), 3, 1), ("1".into(), 4, 3)]
        );
    }

    #[test]
    fn a_run_longer_than_a_month_is_cut_into_spans_of_at_most_a_month() {
        let windows = consecutive(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(), 62);
        let spans = plan(windows, |_| Known::Unknown);
        assert_eq!(
            shape(&spans),
            vec![("1".into(), 1, 31), ("1".into(), 1, 31)]
        );
    }

    #[test]
    fn a_long_run_whose_rows_are_on_its_first_day_is_cut_by_days() {
        // 40 days, all but the first nearly empty: cut by rows, the second span would be
        // 39 days long and cut again; cut by days instead, two spans as the bound allows.
        let windows = consecutive(NaiveDate::from_ymd_opt(2026, 2, 20).unwrap(), 40);
        let first = windows[0].key.day;
        let spans = plan(windows, |w| {
            Known::Rows(if w.key.day == first { 1900 } else { 1 })
        });
        let days: Vec<usize> = spans.iter().map(Span::days).collect();
        assert_eq!(days, vec![20, 20]);
    }

    #[test]
    fn a_first_page_of_days_that_fill_a_page_splits_a_long_span_only() {
        let d = Density {
            records: 1000,
            days_covered: 1,
        };
        assert!(d.splits(30, 1000));
        assert!(!d.splits(1, 1000));
        // Days of about half a page are read page after page.
        let half = Density {
            records: 1000,
            days_covered: 2,
        };
        assert!(!half.splits(30, 1000));
        let medium = Density {
            records: 1000,
            days_covered: 20,
        };
        assert!(!medium.splits(30, 1000));
    }
}
