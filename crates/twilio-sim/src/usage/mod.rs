//! Usage Records: the nine lists under `/Usage/Records` (`docs/twilio-api.md` §5, §10.9).
//!
//! Each account has, for every day of history, one amount per category in [`CATEGORIES`]. The
//! call categories are computed from that day's generated calls (so `calls` agrees with the Calls
//! list); the others are drawn from the seed. Periods other than a day are exact sums of daily
//! amounts, done on scaled integers (never floats) and rendered as decimal strings. Amounts are
//! as of the simulator's `now`: today's calls are those visible so far, and today's other
//! categories grow in proportion to the part of the day that has passed.
//!
//! This module does not authenticate or generate calls, and it does not model Twilio's billing:
//! prices are plausible, not Twilio's rates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use serde_json::{json, Value};

use super::data::{Account, Call, Dataset};
use super::error::SimError;
use super::paging::{envelope, OffsetPager, Page, PageRequest};
use super::query::{encode_value, Query};
use super::rng::{hash, Rng, TAG_AS_OF, TAG_USAGE};

/// Upper bound on cached (account, day) amount vectors (~1 KiB each).
const CACHE_MAX_DAYS: usize = 20_000;
/// Prices are kept in 1/10000 of the currency unit.
const PRICE_SCALE: u32 = 4;

/// Which of the nine lists was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Period {
    Root,
    AllTime,
    Daily,
    Monthly,
    Yearly,
    Today,
    Yesterday,
    ThisMonth,
    LastMonth,
}

impl Period {
    /// Parses the `{Sub}` of `/Usage/Records/{Sub}.json`.
    pub(crate) fn from_segment(s: &str) -> Option<Self> {
        Some(match s {
            "AllTime" => Period::AllTime,
            "Daily" => Period::Daily,
            "Monthly" => Period::Monthly,
            "Yearly" => Period::Yearly,
            "Today" => Period::Today,
            "Yesterday" => Period::Yesterday,
            "ThisMonth" => Period::ThisMonth,
            "LastMonth" => Period::LastMonth,
            _ => return None,
        })
    }

    /// The path after `/Usage/Records` for this list, without `.json`.
    fn suffix(self) -> &'static str {
        match self {
            Period::Root => "",
            Period::AllTime => "/AllTime",
            Period::Daily => "/Daily",
            Period::Monthly => "/Monthly",
            Period::Yearly => "/Yearly",
            Period::Today => "/Today",
            Period::Yesterday => "/Yesterday",
            Period::ThisMonth => "/ThisMonth",
            Period::LastMonth => "/LastMonth",
        }
    }
}

/// One category's totals: `usage` is scaled by the category's `usage_scale`, `price` by 10^4.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Amount {
    count: Option<i64>,
    usage: i64,
    price: i64,
}

impl Amount {
    fn add(&mut self, o: &Amount) {
        self.count = match (self.count, o.count) {
            (Some(a), Some(b)) => Some(a + b),
            (a, None) => a,
            (None, b) => b,
        };
        self.usage += o.usage;
        self.price += o.price;
    }
}

mod amounts;
mod categories;
#[cfg(test)]
mod tests;

use amounts::compute_day;
use categories::{Category, Kind, CATEGORIES};

/// Per-(account, day) amounts, computed on demand and cached within a bound.
#[derive(Default)]
pub(crate) struct UsageBook {
    cache: Mutex<AmountsCache>,
}

/// Cached amounts and the `now` they were computed for.
#[derive(Default)]
struct AmountsCache {
    now: Option<DateTime<Utc>>,
    days: HashMap<(usize, NaiveDate), DayAmounts>,
}

/// Every category's amount for one (account, day), aligned with [`CATEGORIES`].
type DayAmounts = Arc<Vec<Amount>>;

impl UsageBook {
    /// The amounts of every category for one account and day (zeros outside the history).
    fn day(&self, data: &Dataset, acct: usize, day: NaiveDate) -> DayAmounts {
        let now = data.now();
        {
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if cache.now != Some(now) {
                // Time moved: every cached amount may have grown.
                cache.days.clear();
                cache.now = Some(now);
            }
            if let Some(v) = cache.days.get(&(acct, day)) {
                return Arc::clone(v);
            }
        }
        let v = Arc::new(compute_day(data, acct, day));
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.now != Some(now) {
            return v;
        }
        if cache.days.len() >= CACHE_MAX_DAYS {
            cache.days.clear();
        }
        cache.days.insert((acct, day), Arc::clone(&v));
        v
    }

    /// Exact sums over `accts` and the days of `[from, to]` that have history.
    fn sum(&self, data: &Dataset, accts: &[usize], from: NaiveDate, to: NaiveDate) -> Vec<Amount> {
        let mut total = vec![Amount::default(); CATEGORIES.len()];
        for (i, c) in CATEGORIES.iter().enumerate() {
            // Count-less categories stay null in aggregates too.
            if !matches!(c.kind, Kind::Fractional { .. } | Kind::TotalPrice) {
                total[i].count = Some(0);
            }
        }
        let (from, to) = (from.max(data.first_day), to.min(data.today()));
        for &acct in accts {
            for day in from.iter_days().take_while(|d| *d <= to) {
                for (t, a) in total.iter_mut().zip(self.day(data, acct, day).iter()) {
                    t.add(a);
                }
            }
        }
        total
    }

    /// Ground truth for `Simulator::daily_usage_on`: the Daily records of one day, all
    /// categories, without subaccounts.
    pub(crate) fn daily_records(
        &self,
        data: &Dataset,
        acct: &Account,
        day: NaiveDate,
    ) -> Vec<Value> {
        if !data.in_history(day) {
            return Vec::new();
        }
        let slice = Slice {
            start: day,
            end: day,
        };
        let sums = self.sum(data, &[acct.idx], day, day);
        CATEGORIES
            .iter()
            .zip(&sums)
            .map(|(c, a)| render(data, acct, c, a, slice, Period::Daily))
            .collect()
    }

    /// `GET /2010-04-01/Accounts/{AC}/Usage/Records[/{Sub}].json`
    pub(crate) fn list(
        &self,
        data: &Dataset,
        acct: &Account,
        period: Period,
        q: &Query,
        path: &str,
    ) -> Result<Value, SimError> {
        let req = PageRequest::parse(q)?;
        let cats: Vec<usize> = match q.get("Category") {
            // Exact match: names are free text and case is significant (`Usage-RCS-Messages`).
            Some(name) => CATEGORIES
                .iter()
                .position(|c| c.name == name)
                .into_iter()
                .collect(),
            None => (0..CATEGORIES.len()).collect(),
        };
        let include_sub = match q.get("IncludeSubaccounts") {
            None => true,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => return Err(SimError::invalid("IncludeSubaccounts", v)),
        };
        let start = parse_date(q, "StartDate", data.today())?;
        let end = parse_date(q, "EndDate", data.today())?;
        let slices = slices(period, start, end, data);
        let accts = data.rollup(acct.idx, include_sub);

        let total = slices.len() * cats.len();
        let pager = OffsetPager::new(data.seed(), &[TAG_USAGE, acct.idx as u64, period as u64]);
        let window = pager.window(&req, total)?;
        let mut sums: HashMap<usize, Vec<Amount>> = HashMap::new();
        let records = window
            .range
            .map(|k| {
                let (s, c) = (k / cats.len(), cats[k % cats.len()]);
                let slice = slices[s];
                let amounts = sums
                    .entry(s)
                    .or_insert_with(|| self.sum(data, &accts, slice.start, slice.end));
                render(data, acct, &CATEGORIES[c], &amounts[c], slice, period)
            })
            .collect();
        let page = Page {
            records,
            next_token: window.next_token,
            prev_token: window.prev_token,
        };
        Ok(envelope("usage_records", path, q, &req, page))
    }
}

/// The dates one record covers (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slice {
    start: NaiveDate,
    end: NaiveDate,
}

/// The records' date ranges for a list, in list order.
///
/// Root/AllTime and the fixed periods give one range (zeros if it holds no history); Daily,
/// Monthly and Yearly give one per period that overlaps both the request and the history,
/// clipped to the request.
fn slices(
    period: Period,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
    data: &Dataset,
) -> Vec<Slice> {
    let today = data.today();
    let one = |s: NaiveDate, e: NaiveDate| {
        let (s, e) = (start.map_or(s, |x| x.max(s)), end.map_or(e, |x| x.min(e)));
        if s <= e {
            vec![Slice { start: s, end: e }]
        } else {
            Vec::new()
        }
    };
    let month_start = |d: NaiveDate| d.with_day(1).unwrap_or(d);
    match period {
        Period::Root | Period::AllTime => {
            // The request's dates replace the defaults here rather than narrowing them.
            let (s, e) = (start.unwrap_or(data.first_day), end.unwrap_or(today));
            if s <= e {
                vec![Slice { start: s, end: e }]
            } else {
                Vec::new()
            }
        }
        Period::Today => one(today, today),
        Period::Yesterday => {
            let y = today.pred_opt().unwrap_or(today);
            one(y, y)
        }
        Period::ThisMonth => one(month_start(today), today),
        Period::LastMonth => {
            let this = month_start(today);
            let prev = this.checked_sub_months(Months::new(1)).unwrap_or(this);
            one(prev, this.pred_opt().unwrap_or(this))
        }
        Period::Daily | Period::Monthly | Period::Yearly => {
            let (s, e) = (start.unwrap_or(data.first_day), end.unwrap_or(today));
            let (from, to) = (s.max(data.first_day), e.min(today));
            let mut out = Vec::new();
            let mut p = from;
            while p <= to {
                let (first, next) = match period {
                    Period::Daily => (p, p.succ_opt()),
                    Period::Monthly => {
                        let m = month_start(p);
                        (m, m.checked_add_months(Months::new(1)))
                    }
                    _ => (
                        p.with_ordinal(1).unwrap_or(p),
                        NaiveDate::from_ymd_opt(p.year() + 1, 1, 1),
                    ),
                };
                let Some(next) = next else { break };
                let last = next.pred_opt().unwrap_or(next);
                // A record covers its period as far as the request reaches, like the
                // Root/AllTime record, even where the history starts later.
                out.push(Slice {
                    start: first.max(s),
                    end: last.min(e),
                });
                p = next;
            }
            out
        }
    }
}

/// `YYYY-MM-DD`, or `-30days`/`+30days` relative to the simulator's today.
fn parse_date(q: &Query, name: &str, today: NaiveDate) -> Result<Option<NaiveDate>, SimError> {
    let Some(raw) = q.get(name) else {
        return Ok(None);
    };
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(Some(d));
    }
    // An unencoded `+30days` arrives form-decoded as " 30days"; read it as meant.
    let offset: i64 = raw
        .trim()
        .strip_suffix("days")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| SimError::invalid(name, raw))?;
    let shifted = if offset >= 0 {
        today.checked_add_days(Days::new(offset.unsigned_abs()))
    } else {
        today.checked_sub_days(Days::new(offset.unsigned_abs()))
    };
    shifted
        .map(Some)
        .ok_or_else(|| SimError::invalid(name, raw))
}

/// Renders one usage record exactly as the API serves it.
fn render(
    data: &Dataset,
    acct: &Account,
    c: &Category,
    a: &Amount,
    slice: Slice,
    period: Period,
) -> Value {
    let base = format!("/2010-04-01/Accounts/{}/Usage/Records", acct.sid);
    let category = encode_value(c.name);
    let sub = |seg: &str| format!("{base}/{seg}.json?Category={category}");
    // Data for a period is final a day or so after it ends; as_of never passes now.
    let as_of_day = slice.end.succ_opt().unwrap_or(slice.end).min(data.today());
    let secs = hash(&[data.seed(), TAG_AS_OF, acct.idx as u64]) % 86_400;
    let as_of = (super::data::day_start(as_of_day) + chrono::TimeDelta::seconds(secs as i64))
        .min(data.now())
        .format("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string();
    json!({
        "account_sid": acct.sid,
        "api_version": "2010-04-01",
        "as_of": as_of,
        "category": c.name,
        "count": a.count.map(|n| decimal(n, 0)),
        "count_unit": c.count_unit,
        "description": c.description,
        "end_date": slice.end.to_string(),
        "price": decimal(a.price, PRICE_SCALE),
        "price_unit": "usd",
        "start_date": slice.start.to_string(),
        "subresource_uris": {
            "all_time": sub("AllTime"),
            "daily": sub("Daily"),
            "last_month": sub("LastMonth"),
            "monthly": sub("Monthly"),
            "this_month": sub("ThisMonth"),
            "today": sub("Today"),
            "yearly": sub("Yearly"),
            "yesterday": sub("Yesterday"),
        },
        "uri": format!(
            "{base}{}.json?Category={category}&StartDate={}&EndDate={}",
            period.suffix(),
            slice.start,
            slice.end
        ),
        "usage": match c.kind {
            Kind::PerSecond { .. } => minutes_of_seconds(a.usage),
            _ => decimal(a.usage, c.usage_scale()),
        },
        "usage_unit": c.usage_unit,
    })
}

/// A scaled integer as a decimal string with exactly `scale` decimals; zero is `"0"` as on the
/// wire.
fn decimal(v: i64, scale: u32) -> String {
    if v == 0 {
        return "0".to_owned();
    }
    let sign = if v < 0 { "-" } else { "" };
    let abs = v.unsigned_abs();
    if scale == 0 {
        return format!("{sign}{abs}");
    }
    let unit = 10u64.pow(scale);
    format!(
        "{sign}{}.{:0width$}",
        abs / unit,
        abs % unit,
        width = scale as usize
    )
}

/// Seconds as minutes with 16 decimals, rounded half up (`"0.0166666666666667"` for one
/// second); zero is `"0"` as on the wire.
fn minutes_of_seconds(secs: i64) -> String {
    if secs == 0 {
        return "0".to_owned();
    }
    let unit = 10i128.pow(16);
    let scaled = (i128::from(secs) * unit + 30) / 60;
    format!("{}.{:016}", scaled / unit, scaled % unit)
}
