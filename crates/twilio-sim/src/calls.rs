//! The Calls list and instance endpoints (`docs/twilio-api.md` §4, §10.4–§10.6).
//!
//! Filters follow §4.1: `To`, `From`, `ParentCallSid`, `Status`, and `StartTime`/`EndTime` with
//! the `>` (inclusive) and `<` (exclusive) operators in the parameter name, on whole UTC days
//! (`YYYY-MM-DD`) or instants (`YYYY-MM-DDTHH:MM:SSZ`). Lists are newest first by start time,
//! ties broken by SID descending; calls not yet started (queued) sort by creation time and never
//! match a time filter. A repeated filter must hold for every value. Pages resume from
//! `PA<sid>`/`PB<sid>` tokens relative to that call, not to a position, and only the days a
//! page needs are generated.
//!
//! This module does not authenticate (`routes` does) and does not generate calls (`data` does).

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

use super::data::{day_start, rfc2822, shift, Account, Call, CallDuration, Dataset, MAX_CALL_SECS};
use super::error::SimError;
use super::paging::{envelope, Page, PageRequest};
use super::query::Query;

/// Renders a call exactly as the API serves it.
pub(crate) fn render(acct: &Account, c: &Call) -> Value {
    let base = format!("/2010-04-01/Accounts/{}/Calls/{}", acct.sid, c.sid);
    let sub = |name: &str| format!("{base}/{name}.json");
    json!({
        "account_sid": acct.sid,
        "answered_by": c.answered_by,
        "api_version": "2010-04-01",
        "caller_name": c.caller_name,
        "date_created": rfc2822(c.date_created),
        "date_updated": rfc2822(c.date_updated),
        "direction": c.direction,
        "duration": match c.duration {
            CallDuration::Null => Value::Null,
            CallDuration::Empty => json!(""),
            CallDuration::Secs(s) => json!(s.to_string()),
        },
        "end_time": c.end_time.map(rfc2822),
        "forwarded_from": c.forwarded_from,
        "from": c.from,
        "from_formatted": formatted(&c.from),
        "group_sid": c.group_sid,
        "parent_call_sid": c.parent_call_sid,
        "phone_number_sid": c.phone_number_sid,
        "price": price_value(c),
        "price_unit": "USD",
        "queue_time": c.queue_time_ms.to_string(),
        "sid": c.sid,
        "start_time": c.start_time.map(rfc2822),
        "status": c.status,
        "subresource_uris": {
            "notifications": sub("Notifications"),
            "recordings": sub("Recordings"),
            "payments": sub("Payments"),
            "events": sub("Events"),
            "siprec": sub("Siprec"),
            "streams": sub("Streams"),
            "transcriptions": sub("Transcriptions"),
            "user_defined_message_subscriptions": sub("UserDefinedMessageSubscriptions"),
            "user_defined_messages": sub("UserDefinedMessages"),
        },
        "to": c.to,
        "to_formatted": formatted(&c.to),
        "trunk_sid": c.trunk_sid,
        "uri": format!("{base}.json"),
    })
}

/// `GET /2010-04-01/Accounts/{AC}/Calls/{CA}.json`
pub(crate) fn fetch(
    data: &Dataset,
    acct: &Account,
    call_sid: &str,
    path: &str,
) -> Result<Value, SimError> {
    data.find_call(acct.idx, call_sid)
        .map(|c| render(acct, &c))
        .ok_or_else(|| SimError::not_found(path))
}

/// How Calls pages depart from the plain list (`SimConfig::sloppy_pages`, `late_call`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Quirks {
    /// Pages also carry a repeat and a stray call ([`sloppy_extras`]).
    pub sloppy: bool,
    /// The list's second-newest call comes on its last page instead of its first.
    pub late_call: bool,
}

/// `GET /2010-04-01/Accounts/{AC}/Calls.json`
pub(crate) fn list(
    data: &Dataset,
    acct: &Account,
    q: &Query,
    path: &str,
    quirks: Quirks,
) -> Result<Value, SimError> {
    let req = PageRequest::parse(q)?;
    let filter = Filter::parse(q)?;
    let scan = Scan {
        data,
        acct: acct.idx,
        filter: &filter,
    };
    let cursor = Cursor::parse(data, acct, &req)?;
    let (calls, has_next) = match &cursor {
        Cursor::Older { after, skip } => {
            let mut v = scan.older(after.as_ref(), *skip, req.size + 1);
            let more = v.len() > req.size;
            v.truncate(req.size);
            (v, more)
        }
        Cursor::Newer(anchor) => {
            let mut v = scan.newer(anchor, req.size);
            v.reverse();
            let more = v
                .last()
                .is_some_and(|last| !scan.older(Some(last), 0, 1).is_empty());
            (v, more)
        }
    };
    let next_token = if has_next {
        calls.last().map(|c| format!("PA{}", c.sid))
    } else {
        None
    };
    let prev_token = calls.first().map(|c| format!("PB{}", c.sid));
    let mut calls = calls;
    if quirks.late_call {
        let first = matches!(
            cursor,
            Cursor::Older {
                after: None,
                skip: 0
            }
        );
        move_late_call(&scan, &mut calls, first, has_next, req.size);
    }
    let mut records: Vec<Value> = calls.iter().map(|c| render(acct, c)).collect();
    if quirks.sloppy {
        records.extend(sloppy_extras(data, acct, &filter, &calls, has_next));
    }
    let page = Page {
        records,
        next_token,
        prev_token,
    };
    Ok(envelope("calls", path, q, &req, page))
}

/// Holds the list's second-newest call back from its `first` page, when more pages follow,
/// and adds it to its last, when that page is not the first and has room for it (`size`).
/// The page's tokens are made before, from the calls in their true order.
fn move_late_call(scan: &Scan, calls: &mut Vec<Call>, first: bool, has_next: bool, size: usize) {
    let Some(late) = scan.older(None, 1, 1).pop() else {
        return;
    };
    if first && has_next {
        calls.retain(|c| c.sid != late.sid);
    } else if !first && !has_next && calls.len() < size {
        calls.push(late);
    }
}

/// What a sloppy server adds to a page: its first call again, and on the last page the newest
/// call that started before the `StartTime` lower bound.
fn sloppy_extras(
    data: &Dataset,
    acct: &Account,
    filter: &Filter,
    calls: &[Call],
    has_next: bool,
) -> Vec<Value> {
    let mut extra: Vec<Value> = calls.first().map(|c| render(acct, c)).into_iter().collect();
    if let (false, Some(lo)) = (has_next, filter.start.lo) {
        let before = shift(lo, -1);
        let stray = data
            .day_calls(acct.idx, before.date_naive())
            .iter()
            .find(|c| c.start_time.is_some_and(|t| t < lo))
            .map(|c| render(acct, c));
        extra.extend(stray);
    }
    extra
}

enum Cursor {
    /// Page 0, a `PA<sid>` token (the calls after that one), or legacy `Page` arithmetic
    /// without a token (skip that many matching calls).
    Older { after: Option<Call>, skip: usize },
    /// A `PB<sid>` token: the page of calls just before that one.
    Newer(Call),
}

impl Cursor {
    /// Where a page starts: after its `Page` × `PageSize` newest calls, or at its `PageToken`
    /// (`PA` + the sid of the call it follows, `PB` + the sid of the call it precedes).
    fn parse(data: &Dataset, acct: &Account, req: &PageRequest) -> Result<Self, SimError> {
        let Some(t) = &req.token else {
            return Ok(Cursor::Older {
                after: None,
                skip: req.page.saturating_mul(req.size),
            });
        };
        let (newer, sid) = if let Some(s) = t.strip_prefix("PA") {
            (false, s)
        } else if let Some(s) = t.strip_prefix("PB") {
            (true, s)
        } else {
            return Err(SimError::BadPageToken);
        };
        // Any call of this account is a valid anchor, even one the filters exclude: the
        // token marks a position in the order, which is all a cursor needs.
        let anchor = data
            .find_call(acct.idx, sid)
            .ok_or(SimError::BadPageToken)?;
        Ok(if newer {
            Cursor::Newer(anchor)
        } else {
            Cursor::Older {
                after: Some(anchor),
                skip: 0,
            }
        })
    }
}

/// A half-open time interval `[lo, hi)`; either side may be open.
#[derive(Debug, Default, Clone, Copy)]
struct Interval {
    lo: Option<DateTime<Utc>>,
    hi: Option<DateTime<Utc>>,
}

impl Interval {
    fn narrow_lo(&mut self, t: DateTime<Utc>) {
        self.lo = Some(self.lo.map_or(t, |lo| lo.max(t)));
    }

    fn narrow_hi(&mut self, t: DateTime<Utc>) {
        self.hi = Some(self.hi.map_or(t, |hi| hi.min(t)));
    }

    fn is_open(&self) -> bool {
        self.lo.is_none() && self.hi.is_none()
    }

    /// Whether `t` lies inside; a missing time never matches a constrained interval.
    fn contains(&self, t: Option<DateTime<Utc>>) -> bool {
        if self.is_open() {
            return true;
        }
        t.is_some_and(|t| self.lo.is_none_or(|lo| t >= lo) && self.hi.is_none_or(|hi| t < hi))
    }
}

/// A parsed `StartTime`/`EndTime` value.
#[derive(Debug, Clone, Copy)]
enum TimeValue {
    Day(NaiveDate),
    Instant(DateTime<Utc>),
}

impl TimeValue {
    fn parse(name: &str, raw: &str) -> Result<Self, SimError> {
        if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            return Ok(TimeValue::Day(d));
        }
        DateTime::parse_from_rfc3339(raw)
            .map(|t| TimeValue::Instant(t.with_timezone(&Utc)))
            .map_err(|_| SimError::invalid(name, raw))
    }

    /// The instant `>` and `<` compare against: midnight for a day.
    fn instant(self) -> DateTime<Utc> {
        match self {
            TimeValue::Day(d) => day_start(d),
            TimeValue::Instant(t) => t,
        }
    }

    /// The interval the plain (operator-less) parameter selects.
    fn exact(self) -> (DateTime<Utc>, DateTime<Utc>) {
        match self {
            TimeValue::Day(d) => (day_start(d), shift(day_start(d), 86_400)),
            // Call times have whole seconds, so "equal" is the one-second interval.
            TimeValue::Instant(t) => (t, shift(t, 1)),
        }
    }
}

/// Every §4.1 filter of one request; all must hold.
#[derive(Debug, Default)]
struct Filter {
    to: Vec<String>,
    from: Vec<String>,
    parent: Vec<String>,
    status: Vec<String>,
    start: Interval,
    end: Interval,
}

impl Filter {
    fn parse(q: &Query) -> Result<Self, SimError> {
        let owned = |name: &str| q.all(name).map(str::to_owned).collect::<Vec<_>>();
        let mut f = Filter {
            to: owned("To"),
            from: owned("From"),
            parent: owned("ParentCallSid"),
            status: owned("Status"),
            ..Filter::default()
        };
        for (field, iv) in [("StartTime", &mut f.start), ("EndTime", &mut f.end)] {
            for raw in q.all(field) {
                let (lo, hi) = TimeValue::parse(field, raw)?.exact();
                iv.narrow_lo(lo);
                iv.narrow_hi(hi);
            }
            let gt = format!("{field}>");
            for raw in q.all(&gt) {
                iv.narrow_lo(TimeValue::parse(&gt, raw)?.instant());
            }
            let lt = format!("{field}<");
            for raw in q.all(&lt) {
                iv.narrow_hi(TimeValue::parse(&lt, raw)?.instant());
            }
        }
        Ok(f)
    }

    fn matches(&self, c: &Call) -> bool {
        let all = |want: &[String], have: &str| want.iter().all(|w| w == have);
        all(&self.to, &c.to)
            && all(&self.from, &c.from)
            && self
                .parent
                .iter()
                .all(|p| c.parent_call_sid.as_deref() == Some(p.as_str()))
            && all(&self.status, c.status)
            && self.start.contains(c.start_time)
            && self.end.contains(c.end_time)
    }

    /// The days whose generated calls can match: a call's sort key lies on the day it was
    /// generated for, its start is at most `MAX_CALL_SECS` before its end, and never after it.
    fn day_range(&self, data: &Dataset) -> (NaiveDate, NaiveDate) {
        let mut lo = data.first_day;
        let mut hi = data.today();
        let last_day = |t: DateTime<Utc>| shift(t, -1).date_naive();
        if let Some(t) = self.start.lo {
            lo = lo.max(t.date_naive());
        }
        if let Some(t) = self.start.hi {
            hi = hi.min(last_day(t));
        }
        if let Some(t) = self.end.lo {
            lo = lo.max(shift(t, -MAX_CALL_SECS).date_naive());
        }
        if let Some(t) = self.end.hi {
            hi = hi.min(last_day(t));
        }
        (lo, hi)
    }
}

/// Walks the matching calls of one account in list order, generating only the days it visits.
struct Scan<'a> {
    data: &'a Dataset,
    acct: usize,
    filter: &'a Filter,
}

impl Scan<'_> {
    /// Up to `limit` matching calls that sort after `anchor` (older), skipping the first `skip`.
    fn older(&self, anchor: Option<&Call>, mut skip: usize, limit: usize) -> Vec<Call> {
        let (lo, mut hi) = self.filter.day_range(self.data);
        if let Some(a) = anchor {
            hi = hi.min(a.key().0.date_naive());
        }
        let mut out = Vec::new();
        let mut day = hi;
        while day >= lo && out.len() < limit {
            let calls = self.data.day_calls(self.acct, day);
            // A day's calls are sorted newest first: those after the anchor start here.
            let from = anchor.map_or(0, |a| calls.partition_point(|c| c.key() >= a.key()));
            for c in &calls[from..] {
                if !self.filter.matches(c) {
                    continue;
                }
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                out.push(c.clone());
                if out.len() == limit {
                    break;
                }
            }
            let Some(prev) = day.pred_opt() else { break };
            day = prev;
        }
        out
    }

    /// The `limit` matching calls that sort just before `anchor` (newer), nearest first.
    fn newer(&self, anchor: &Call, limit: usize) -> Vec<Call> {
        let (mut lo, hi) = self.filter.day_range(self.data);
        lo = lo.max(anchor.key().0.date_naive());
        let mut out = Vec::new();
        let mut day = lo;
        while day <= hi && out.len() < limit {
            for c in self.data.day_calls(self.acct, day).iter().rev() {
                if c.key() <= anchor.key() || !self.filter.matches(c) {
                    continue;
                }
                out.push(c.clone());
                if out.len() == limit {
                    break;
                }
            }
            let Some(next) = day.succ_opt() else { break };
            day = next;
        }
        out
    }
}

/// The API's price: a string with four decimals (`"-0.0280"`), except on trunk calls, which
/// show it as a JSON number computed in binary floating point (`-0.30000000000000004`), as a
/// serializer of doubles would: the spec types `price` as a number, so clients must take both.
fn price_value(c: &Call) -> Value {
    match c.price {
        None => Value::Null,
        Some(p) if p != 0 && c.direction.starts_with("trunking") => json!(-(p as f64 * 0.0001)),
        Some(p) => json!(price_string(p)),
    }
}

/// The API's price string: the charge negated, four decimals (`"-0.0280"`).
fn price_string(magnitude: i64) -> String {
    let sign = if magnitude > 0 { "-" } else { "" };
    format!("{sign}{}.{:04}", magnitude / 10_000, magnitude % 10_000)
}

/// Display form of a number: `(415) 555-0143` for NANP numbers, everything else unchanged.
fn formatted(addr: &str) -> String {
    let digits = addr
        .strip_prefix("+1")
        .filter(|d| d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit()));
    match digits {
        Some(d) => format!("({}) {}-{}", &d[..3], &d[3..6], &d[6..]),
        None => addr.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_and_number_formats() {
        assert_eq!(price_string(280), "-0.0280");
        assert_eq!(price_string(123_456), "-12.3456");
        assert_eq!(price_string(0), "0.0000");
        assert_eq!(formatted("+14155550143"), "(415) 555-0143");
        assert_eq!(formatted("+442079460321"), "+442079460321");
        assert_eq!(formatted("client:alice"), "client:alice");
    }

    #[test]
    fn time_filters_have_day_semantics() {
        let q = Query::parse(Some(
            "StartTime%3E=2026-03-01&StartTime%3C=2026-03-02&EndTime=2026-03-01T10:00:00Z",
        ));
        let f = Filter::parse(&q).expect("parse");
        let t = |s: &str| {
            Some(
                DateTime::parse_from_rfc3339(s)
                    .expect("t")
                    .with_timezone(&Utc),
            )
        };
        assert!(f.start.contains(t("2026-03-01T00:00:00Z")));
        assert!(f.start.contains(t("2026-03-01T23:59:59Z")));
        assert!(!f.start.contains(t("2026-03-02T00:00:00Z")));
        assert!(!f.start.contains(t("2026-02-28T23:59:59Z")));
        assert!(!f.start.contains(None));
        assert!(f.end.contains(t("2026-03-01T10:00:00Z")));
        assert!(!f.end.contains(t("2026-03-01T10:00:01Z")));
        assert!(Filter::parse(&Query::parse(Some("StartTime=yesterday"))).is_err());
        assert!(Filter::default().start.contains(None));
        // The extreme dates chrono parses (its MAX and MIN days) must not overflow.
        let q = Query::parse(Some("StartTime=%2B262142-12-31&EndTime%3E=-262143-01-01"));
        let f = Filter::parse(&q).expect("parse extremes");
        let data = Dataset::new(1, 1, 2, 5, NaiveDate::from_ymd_opt(2026, 3, 1).expect("d"));
        let (lo, hi) = f.day_range(&data);
        assert!(lo > hi, "nothing to scan");
    }
}
