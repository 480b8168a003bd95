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

/// How a category's daily amount comes about.
#[derive(Clone, Copy)]
enum Kind {
    /// The day's started calls that pass the predicate: count, billed minutes, summed price.
    Calls(fn(&Call) -> bool),
    /// Up to `max` random events a day, each using `units` (inclusive range) and costing
    /// `price` per `per` units (price in 1/10000 USD).
    Events {
        max: u64,
        units: (u64, u64),
        price: i64,
        per: i64,
    },
    /// A fractional quantity with nine decimals (storage, data) and no count; `price` per unit.
    Fractional { max_units: u64, price: i64 },
    /// Up to `max` sessions a day of `secs` seconds each (inclusive range), billed per second
    /// at `price` per minute: usage is kept in seconds and shown in minutes with 16 decimals,
    /// as Twilio writes it (`"0.0166666666666667"` for one second).
    PerSecond {
        max: u64,
        secs: (u64, u64),
        price: i64,
    },
    /// Billed on the 1st of each month: one item, or one per phone number of the account.
    Monthly { price: i64, per_number: bool },
    /// The sum of other categories (`sms` = inbound + outbound).
    Sum(&'static [&'static str]),
    /// The overall cost: sum of the `in_total` prices; usage equals price and count is null.
    TotalPrice,
}

struct Category {
    name: &'static str,
    description: &'static str,
    count_unit: &'static str,
    usage_unit: &'static str,
    kind: Kind,
    /// Counted in `totalprice`. Nested categories (`calls-inbound` ⊂ `calls`) are not, which is
    /// why `docs/twilio-api.md` §5 warns never to add categories together.
    in_total: bool,
}

impl Category {
    fn usage_scale(&self) -> u32 {
        match self.kind {
            Kind::Fractional { .. } => 9,
            Kind::TotalPrice => PRICE_SCALE,
            _ => 0,
        }
    }
}

const fn cat(
    name: &'static str,
    description: &'static str,
    count_unit: &'static str,
    usage_unit: &'static str,
    kind: Kind,
    in_total: bool,
) -> Category {
    Category {
        name,
        description,
        count_unit,
        usage_unit,
        kind,
        in_total,
    }
}

const fn events(max: u64, lo: u64, hi: u64, price: i64, per: i64) -> Kind {
    Kind::Events {
        max,
        units: (lo, hi),
        price,
        per,
    }
}

fn any_call(_: &Call) -> bool {
    true
}
fn is_inbound(c: &Call) -> bool {
    c.direction == "inbound"
}
fn is_outbound(c: &Call) -> bool {
    c.direction.starts_with("outbound")
}
fn is_client(c: &Call) -> bool {
    c.to.starts_with("client:") || c.from.starts_with("client:")
}
fn is_sip(c: &Call) -> bool {
    c.to.starts_with("sip:") || c.from.starts_with("sip:")
}
fn is_trunk_orig(c: &Call) -> bool {
    c.direction == "trunking-originating"
}
fn is_trunk_term(c: &Call) -> bool {
    c.direction == "trunking-terminating"
}

/// The categories every account reports, in list order. All names but the last are Twilio's lower-case
/// category names; `Usage-RCS-Messages` deliberately is not (mixed case, as seen on the wire) so
/// clients must treat categories as free text (`docs/twilio-api.md` §5).
#[rustfmt::skip] // One category per line reads better than rustfmt's seven.
static CATEGORIES: &[Category] = &[
    cat("calls", "Total Calls", "calls", "minutes", Kind::Calls(any_call), true),
    cat("calls-inbound", "Inbound Voice Calls", "calls", "minutes", Kind::Calls(is_inbound), false),
    cat("calls-outbound", "Outbound Voice Calls", "calls", "minutes", Kind::Calls(is_outbound), false),
    cat("calls-client", "Client Calls", "calls", "minutes", Kind::Calls(is_client), false),
    cat("calls-sip", "SIP Calls", "calls", "minutes", Kind::Calls(is_sip), false),
    cat("trunking-origination", "Trunking Origination Minutes", "calls", "minutes", Kind::Calls(is_trunk_orig), false),
    cat("trunking-termination", "Trunking Termination Minutes", "calls", "minutes", Kind::Calls(is_trunk_term), false),
    cat("totalprice", "Total Price", "", "usd", Kind::TotalPrice, false),
    cat("sms", "SMS Messages", "messages", "messages", Kind::Sum(&["sms-inbound", "sms-outbound"]), true),
    cat("sms-inbound", "Inbound SMS Messages", "messages", "messages", events(120, 1, 1, 79, 1), false),
    cat("sms-outbound", "Outbound SMS Messages", "messages", "messages", events(150, 1, 3, 79, 1), false),
    cat("mms", "MMS Messages", "messages", "messages", Kind::Sum(&["mms-inbound", "mms-outbound"]), true),
    cat("mms-inbound", "Inbound MMS Messages", "messages", "messages", events(20, 1, 1, 100, 1), false),
    cat("mms-outbound", "Outbound MMS Messages", "messages", "messages", events(20, 1, 1, 200, 1), false),
    cat("phonenumbers", "Phone Numbers", "phone numbers", "phone numbers", Kind::Monthly { price: 11_500, per_number: true }, true),
    cat("phonenumbers-local", "Local Phone Numbers", "phone numbers", "phone numbers", Kind::Monthly { price: 11_500, per_number: true }, false),
    cat("recordings", "Recordings", "recordings", "minutes", events(30, 1, 10, 25, 1), true),
    cat("recordingstorage", "Recording Storage", "", "minutes", Kind::Fractional { max_units: 3_000, price: 5 }, true),
    cat("transcriptions", "Transcriptions", "transcriptions", "minutes", events(10, 1, 5, 500, 1), true),
    cat("calleridlookups", "Caller ID Lookups", "lookups", "lookups", events(40, 1, 1, 100, 1), true),
    cat("lookups", "Lookups", "lookups", "lookups", events(25, 1, 1, 50, 1), true),
    cat("answering-machine-detection", "Answering Machine Detection", "calls", "calls", events(15, 1, 1, 75, 1), true),
    cat("amazon-polly", "Amazon Polly", "requests", "characters", events(20, 50, 2_000, 160, 1_000), true),
    cat("calls-media-stream-minutes", "Media Streams", "streams", "minutes", events(10, 1, 30, 40, 1), true),
    cat("calls-recordings", "Call Recordings", "recordings", "minutes", events(20, 1, 10, 25, 1), false),
    cat("calls-text-to-speech", "Text-to-Speech", "requests", "characters", events(30, 20, 800, 100, 1_000), true),
    cat("conversations", "Conversations", "conversations", "conversations", events(5, 1, 1, 50, 1), true),
    cat("conversations-participants", "Conversations Participants", "participants", "participants", events(10, 1, 1, 0, 1), false),
    cat("pv-room-participants", "Video Room Participant Minutes", "participants", "minutes", events(8, 1, 60, 40, 1), true),
    cat("pv-rooms", "Video Rooms", "rooms", "rooms", events(3, 1, 1, 0, 1), false),
    cat("voice-insights", "Voice Insights", "calls", "calls", events(40, 1, 1, 40, 1), true),
    cat("sms-messages-carrierfees", "SMS Carrier Fees", "messages", "messages", events(150, 1, 1, 30, 1), true),
    cat("a2p-10dlc-registrationfees-monthly", "A2P 10DLC Monthly Campaign Fee", "campaigns", "campaigns", Kind::Monthly { price: 15_000, per_number: false }, true),
    cat("turnmegabytes", "TURN Megabytes", "", "megabytes", Kind::Fractional { max_units: 50, price: 4 }, true),
    cat("wireless-usage-data", "Wireless Data", "", "megabytes", Kind::Fractional { max_units: 500, price: 100 }, true),
    cat("pv-composition-media-stored", "Composition Media Stored", "", "gigabytes", Kind::Fractional { max_units: 2, price: 250 }, true),
    cat("verify-push", "Verify Push", "verifications", "verifications", events(30, 1, 1, 10, 1), true),
    cat("studio-engagements", "Studio Engagements", "engagements", "engagements", events(40, 1, 1, 10, 1), true),
    cat("taskrouter-tasks", "TaskRouter Tasks", "tasks", "tasks", events(30, 1, 1, 20, 1), true),
    cat("channels-whatsapp-outbound", "WhatsApp Outbound Messages", "messages", "messages", events(50, 1, 1, 50, 1), true),
    cat("speech-recognition", "Speech Recognition", "requests", "seconds", events(10, 5, 120, 4, 15), true),
    cat("conversation-relay", "ConversationRelay", "sessions", "minutes", Kind::PerSecond { max: 12, secs: (1, 900), price: 70 }, true),
    cat("Usage-RCS-Messages", "RCS Messages", "messages", "messages", events(40, 1, 1, 75, 1), true),
];

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

/// Computes every category's amount for one (account, day) with history.
fn compute_day(data: &Dataset, acct_idx: usize, day: NaiveDate) -> Vec<Amount> {
    let mut out = vec![Amount::default(); CATEGORIES.len()];
    let Some(acct) = data.accounts.get(acct_idx) else {
        return out;
    };
    let day_no = u64::from(day.num_days_from_ce().unsigned_abs());
    let inputs = DayInputs {
        acct,
        day,
        calls: &data.day_calls(acct_idx, day),
        elapsed: data.elapsed_on(day),
    };
    for (i, c) in CATEGORIES.iter().enumerate() {
        let mut r = Rng::new(hash(&[
            data.seed(),
            TAG_USAGE,
            acct_idx as u64,
            day_no,
            i as u64,
        ]));
        if let Some(a) = inputs.amount(c.kind, &mut r) {
            out[i] = a;
        }
    }
    fill_sums_and_total(&mut out);
    out
}

/// What one (account, day)'s usage derives from besides the draws.
struct DayInputs<'a> {
    acct: &'a Account,
    day: NaiveDate,
    calls: &'a [Call],
    /// Seconds of the day up to the clock (all of them for a past day).
    elapsed: i64,
}

impl DayInputs<'_> {
    /// Today's events so far: the first `n * elapsed / day` of the day's draws, so the amounts
    /// only grow as `now` moves and equal the whole day's once it is over.
    fn so_far(&self, n: u64) -> u64 {
        (i128::from(n) * i128::from(self.elapsed) / 86_400) as u64
    }

    /// The amount of one category of `kind`, drawing from `r`; `None` for the categories
    /// computed from others.
    fn amount(&self, kind: Kind, r: &mut Rng) -> Option<Amount> {
        Some(match kind {
            Kind::Calls(pred) => {
                let mut a = Amount {
                    count: Some(0),
                    ..Amount::default()
                };
                // Calls that never started (queued) are not billed and not counted.
                for call in self
                    .calls
                    .iter()
                    .filter(|x| x.start_time.is_some() && pred(x))
                {
                    a.add(&Amount {
                        count: Some(1),
                        usage: call.duration.billed_minutes(),
                        price: call.price.unwrap_or(0),
                    });
                }
                a
            }
            Kind::Events {
                max,
                units: (lo, hi),
                price,
                per,
            } => {
                let n = self.so_far(if r.permille(850) { r.below(max + 1) } else { 0 });
                let usage = (0..n).map(|_| r.range(lo, hi)).sum::<u64>() as i64;
                Amount {
                    count: Some(n as i64),
                    usage,
                    price: usage * price / per,
                }
            }
            Kind::Fractional { max_units, price } => {
                // Nine decimals, e.g. "0.123456789": exercises decimal handling downstream.
                let nano = self.so_far(if r.permille(800) {
                    r.below(max_units * 1_000_000_000)
                } else {
                    0
                });
                Amount {
                    count: None,
                    usage: nano as i64,
                    price: (i128::from(nano) * i128::from(price) / 1_000_000_000) as i64,
                }
            }
            Kind::PerSecond {
                max,
                secs: (lo, hi),
                price,
            } => {
                let n = self.so_far(if r.permille(700) { r.below(max + 1) } else { 0 });
                let secs = (0..n).map(|_| r.range(lo, hi)).sum::<u64>() as i64;
                Amount {
                    count: Some(n as i64),
                    usage: secs,
                    price: secs * price / 60,
                }
            }
            Kind::Monthly { price, per_number } => {
                let qty = match (self.day.day(), per_number) {
                    (1, true) => self.acct.numbers.len() as i64,
                    (1, false) => 1,
                    _ => 0,
                };
                Amount {
                    count: Some(qty),
                    usage: qty,
                    price: qty * price,
                }
            }
            Kind::Sum(_) | Kind::TotalPrice => return None,
        })
    }
}

/// Fills the `Sum` categories from their parts and `totalprice` from the `in_total` prices.
fn fill_sums_and_total(out: &mut [Amount]) {
    for (i, c) in CATEGORIES.iter().enumerate() {
        if let Kind::Sum(parts) = c.kind {
            let mut a = Amount {
                count: Some(0),
                ..Amount::default()
            };
            for part in parts {
                if let Some(j) = CATEGORIES.iter().position(|x| x.name == *part) {
                    a.add(&out[j]);
                }
            }
            out[i] = a;
        }
    }
    let total: i64 = CATEGORIES
        .iter()
        .zip(out.iter())
        .filter(|(c, _)| c.in_total)
        .map(|(_, a)| a.price)
        .sum();
    for (c, a) in CATEGORIES.iter().zip(out.iter_mut()) {
        if matches!(c.kind, Kind::TotalPrice) {
            *a = Amount {
                count: None,
                usage: total,
                price: total,
            };
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal(0, 4), "0");
        assert_eq!(decimal(33_040, 4), "3.3040");
        assert_eq!(decimal(123_456_789, 9), "0.123456789");
        assert_eq!(decimal(37, 0), "37");
        assert_eq!(decimal(-5, 4), "-0.0005");
        assert_eq!(minutes_of_seconds(1), "0.0166666666666667");
        assert_eq!(minutes_of_seconds(2), "0.0333333333333333");
        assert_eq!(minutes_of_seconds(90), "1.5000000000000000");
        assert_eq!(minutes_of_seconds(0), "0");
    }

    #[test]
    fn relative_and_absolute_dates() {
        let today = day("2026-03-10");
        let q = Query::parse(Some(
            "StartDate=-30days&EndDate=%2B2days&X=2026-01-01&Y=+1days",
        ));
        assert_eq!(
            parse_date(&q, "StartDate", today).expect("ok"),
            Some(day("2026-02-08"))
        );
        assert_eq!(
            parse_date(&q, "EndDate", today).expect("ok"),
            Some(day("2026-03-12"))
        );
        assert_eq!(
            parse_date(&q, "X", today).expect("ok"),
            Some(day("2026-01-01"))
        );
        assert_eq!(parse_date(&q, "Missing", today).expect("ok"), None);
        assert_eq!(
            parse_date(&q, "Y", today).expect("ok"),
            Some(day("2026-03-11"))
        );
        let bad = Query::parse(Some("StartDate=last-week"));
        assert!(parse_date(&bad, "StartDate", today).is_err());
    }

    #[test]
    fn monthly_slices_clip_to_request_and_history() {
        let data = Dataset::new(1, 1, 40, 5, day("2026-03-10"));
        let s = slices(Period::Monthly, Some(day("2026-01-15")), None, &data);
        assert_eq!(
            s,
            vec![
                Slice {
                    start: day("2026-01-15"),
                    end: day("2026-01-31")
                },
                Slice {
                    start: day("2026-02-01"),
                    end: day("2026-02-28")
                },
                Slice {
                    start: day("2026-03-01"),
                    end: day("2026-03-10")
                },
            ]
        );
        let s = slices(Period::LastMonth, None, None, &data);
        assert_eq!(
            s,
            vec![Slice {
                start: day("2026-02-01"),
                end: day("2026-02-28")
            }]
        );
        assert!(slices(Period::AllTime, Some(day("2026-04-01")), None, &data).is_empty());
    }

    #[test]
    fn categories_are_unique_and_sums_resolve() {
        for (i, c) in CATEGORIES.iter().enumerate() {
            assert!(
                CATEGORIES[..i].iter().all(|o| o.name != c.name),
                "{}",
                c.name
            );
            if let Kind::Sum(parts) = c.kind {
                for p in parts {
                    assert!(CATEGORIES.iter().any(|o| o.name == *p), "{p}");
                }
            }
        }
        assert!(CATEGORIES.len() >= 35);
    }

    #[test]
    fn totalprice_usage_equals_price_and_calls_match_calls() {
        let data = Dataset::new(3, 1, 3, 50, day("2026-03-10"));
        let book = UsageBook::default();
        for d in data.first_day.iter_days().take(3) {
            let v = book.day(&data, 0, d);
            let tp = CATEGORIES
                .iter()
                .position(|c| c.name == "totalprice")
                .expect("tp");
            assert_eq!(v[tp].usage, v[tp].price);
            assert_eq!(v[tp].count, None);
            let started = data
                .day_calls(0, d)
                .iter()
                .filter(|c| c.start_time.is_some())
                .count();
            assert_eq!(v[0].count, Some(started as i64));
        }
    }

    #[test]
    fn todays_usage_grows_with_the_clock_and_matches_the_calls_so_far() {
        let d = day("2026-03-10");
        let data = Dataset::new(5, 1, 3, 80, d - Days::new(1));
        let book = UsageBook::default();
        let calls = CATEGORIES
            .iter()
            .position(|c| c.name == "calls")
            .expect("calls");
        let mut last: Option<Vec<Amount>> = None;
        for hours in [1, 8, 16, 23, 30] {
            data.set_now(crate::data::day_start(d) + chrono::TimeDelta::hours(hours));
            let now: Vec<Amount> = book.day(&data, 0, d).to_vec();
            let started = data
                .day_calls(0, d)
                .iter()
                .filter(|c| c.start_time.is_some())
                .count();
            assert_eq!(now[calls].count, Some(started as i64));
            if let Some(prev) = &last {
                for (c, (a, b)) in CATEGORIES.iter().zip(prev.iter().zip(&now)) {
                    assert!(
                        b.count >= a.count && b.usage >= a.usage,
                        "{} shrank",
                        c.name
                    );
                }
            }
            last = Some(now);
        }
        let whole = last.expect("ran");
        assert!(whole.iter().any(|a| a.usage > 0));
    }
}
