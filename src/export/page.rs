//! The rules every page of a span must satisfy, and how a page's records reach the builders
//! of their days, each record once.

use std::collections::HashSet;

use super::days::SpanDays;
use super::source::Source;
use super::spans;
use super::WindowReport;
use crate::decode::{decode_page_at_most, DecodeError};
use crate::domain::AccountSid;

/// What every page of a span must satisfy.
pub(super) struct PageRules<'w> {
    pub(super) account: &'w AccountSid,
    /// The span's first day, as days since 1970-01-01.
    pub(super) first_day: i32,
    /// The page size asked for.
    pub(super) max_records: usize,
}

impl PageRules<'_> {
    /// Decodes one page into the builders of `days` (the span's, from its first day), all or
    /// nothing: at most `max_records` records, all of `account` (else nothing is added and
    /// the page ends as [`PageEnd::Foreign`]). Records of days outside the span are counted
    /// and left out; those not of the day right after it (or any, for a source whose server
    /// never answers that day) also as off bounds.
    pub(super) fn take<S: Source>(
        &self,
        body: &[u8],
        days: &mut SpanDays<'_>,
        report: &mut WindowReport,
    ) -> Result<PageEnd, DecodeError> {
        let page = decode_page_at_most::<S::Rec<'_>>(body, self.max_records)?;
        let account = Some(self.account.as_str());
        if let Some(rec) = page.records.iter().find(|r| S::account_of(r) != account) {
            return Ok(PageEnd::Foreign(
                S::account_of(rec).map(|a| crate::telemetry::escape_controls(a).into_owned()),
            ));
        }
        // Each record's day, and each day's records on the page: a day's first row makes
        // its builder with room for them, or for a whole batch when they filled the page.
        let mut on_page = vec![0usize; days.len()];
        let index: Vec<Option<usize>> = (page.records.iter())
            .map(|rec| {
                let i = S::day_of(rec)
                    .and_then(|d| usize::try_from(d - self.first_day).ok())
                    .filter(|i| *i < on_page.len());
                if let Some(i) = i {
                    on_page[i] += 1;
                }
                i
            })
            .collect();
        let mut covered: Option<(usize, usize)> = None;
        let mut density = spans::Density::default();
        let day_after = self.first_day + on_page.len() as i32;
        for (rec, index) in page.records.iter().zip(index) {
            let Some(i) = index else {
                report.outside_window += 1;
                if !S::DAY_AFTER_MAY_ANSWER || S::day_of(rec) != Some(day_after) {
                    report.off_bounds += 1;
                }
                continue;
            };
            density.records += 1;
            covered = Some(covered.map_or((i, i), |(lo, hi)| (lo.min(i), hi.max(i))));
            let room = match on_page[i] {
                n if n >= self.max_records => n + days.batch_rows(),
                n => n,
            };
            days.push(i, S::identity(rec), rec, room);
        }
        density.days_covered = covered.map_or(1, |(lo, hi)| (hi - lo + 1) as u64);
        Ok(PageEnd::Next(page.next_page_uri, density))
    }
}

/// How a page ended: the link to the next one with what the page showed of the span's
/// density, or a record of another account (whose account sid, if it had one).
pub(super) enum PageEnd {
    Next(Option<String>, spans::Density),
    Foreign(Option<String>),
}

/// Record identities seen in a day of a span, to keep each record once when paging shifts.
///
/// A call sid as Twilio writes it, `CA` and 32 lowercase hex digits, is kept as the 16 bytes
/// of its digits instead of a `String` (any other identity is kept as it is), in one of
/// [`SEEN_SHARDS`] sets chosen by its low bits: a set that grows allocates its new table while
/// the old one still holds everything, so one set for a day of a million calls would briefly
/// hold 53 MB where it needs 36; shards grow one at a time.
#[derive(Default)]
pub(super) struct Seen {
    hex: Vec<HashSet<u128>>,
    other: HashSet<String>,
}

/// The sets a day's sids are spread over.
const SEEN_SHARDS: usize = 64;

impl Seen {
    pub(super) fn insert(&mut self, id: std::borrow::Cow<'_, str>) -> bool {
        let Some(v) = call_sid_digits(&id) else {
            return self.other.insert(id.into_owned());
        };
        if self.hex.is_empty() {
            self.hex.resize_with(SEEN_SHARDS, HashSet::default);
        }
        self.hex[v as usize % SEEN_SHARDS].insert(v)
    }
}

/// The digits of `CA` and 32 lowercase hex digits; `None` for anything else, so that two
/// distinct identities never share a number (`u128::from_str_radix` alone would also take
/// capitals and a leading `+`, and another prefix).
fn call_sid_digits(id: &str) -> Option<u128> {
    let digits = id.strip_prefix("CA")?;
    let hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    if digits.len() != 32 || !digits.bytes().all(|b| hex(&b)) {
        return None;
    }
    u128::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::super::source::UsageSource;
    use super::*;
    use crate::decode::value::days_since_epoch;
    use crate::domain::Resource;
    use crate::store::Store;

    #[test]
    fn distinct_identities_are_never_taken_for_one_another() {
        let sid = "CA0123456789abcdef0123456789abcdef";
        let others = [
            "CA+123456789abcdef0123456789abcdef", // a sign, as from_str_radix takes it
            "CA0123456789ABCDEF0123456789ABCDEF", // capitals
            "CB0123456789abcdef0123456789abcdef", // another prefix
            "\u{20ac}0123456789abcdef0123456789abcde", // 34 bytes, a character across byte 2
        ];
        let mut seen = Seen::default();
        assert!(seen.insert(sid.into()));
        for other in others {
            assert_eq!(other.len(), 34, "{other}");
            assert!(seen.insert(other.into()), "{other} taken for {sid}");
            assert!(!seen.insert(other.into()), "{other} kept twice");
        }
        assert!(!seen.insert(sid.into()), "{sid} kept twice");
    }

    const ACCOUNT: &str = "AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80";
    const OTHER: &str = "AC00000000000000000000000000000001";

    /// A usage page of `records` (account sid or none, category) for 2026-03-01, taken with
    /// a page size of `max`; returns how the page ended and the rows added.
    fn take(records: &[(Option<&str>, &str)], max: usize) -> (Result<PageEnd, DecodeError>, usize) {
        let json: Vec<String> = records
            .iter()
            .map(|(account, category)| {
                let account = account.map_or("null".to_owned(), |a| format!("{a:?}"));
                format!(r#"{{"account_sid":{account},"category":"{category}","start_date":"2026-03-01"}}"#)
            })
            .collect();
        let body = format!(
            r#"{{"usage_records":[{}],"next_page_uri":null}}"#,
            json.join(",")
        );
        let account = AccountSid::parse(ACCOUNT).unwrap();
        let rules = PageRules {
            account: &account,
            first_day: days_since_epoch("2026-03-01".parse().unwrap()),
            max_records: max,
        };
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local {
            root: dir.path().to_owned(),
        };
        let mut days = SpanDays::new(Resource::UsageRecords, 1, &store, None);
        let end =
            rules.take::<UsageSource>(body.as_bytes(), &mut days, &mut WindowReport::default());
        let rows = days.days[0].rows.as_ref().map_or(0, |r| r.builder.len());
        (end, rows)
    }

    #[test]
    fn a_page_of_the_windows_account_is_taken_whole() {
        let (end, rows) = take(&[(Some(ACCOUNT), "calls"), (Some(ACCOUNT), "sms")], 2);
        assert!(matches!(end, Ok(PageEnd::Next(None, _))));
        assert_eq!(rows, 2);
    }

    #[test]
    fn a_record_of_another_account_or_of_none_takes_nothing_of_the_page() {
        let (end, rows) = take(&[(Some(ACCOUNT), "calls"), (Some(OTHER), "sms")], 10);
        assert!(matches!(end, Ok(PageEnd::Foreign(Some(ref a))) if a == OTHER));
        assert_eq!(rows, 0);
        let (end, rows) = take(&[(None, "calls")], 10);
        assert!(matches!(end, Ok(PageEnd::Foreign(None))));
        assert_eq!(rows, 0);
    }

    #[test]
    fn a_page_over_the_page_size_takes_nothing() {
        let (end, rows) = take(&[(Some(ACCOUNT), "calls"), (Some(ACCOUNT), "sms")], 1);
        assert!(matches!(end, Err(DecodeError::TooManyRecords { max: 1 })));
        assert_eq!(rows, 0);
    }
}
