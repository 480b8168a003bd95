//! Deterministic generation of the simulated accounts and their calls.
//!
//! Accounts are built eagerly (there are few). Calls are generated lazily per (account, day) from
//! hashes of (seed, account, day, call) and kept in a bounded cache, so a history of 100k calls costs CPU
//! on demand, not memory. A call SID carries its day and position (masked so SIDs still look
//! random), so a SID from a URL or a page token is resolved by regenerating one day instead of
//! keeping an index.
//!
//! Time: the dataset has a `now`, the last second of the configured `today` until
//! [`Dataset::set_now`] moves it forward. Nothing created after `now` exists, and what a call
//! shows is a deterministic function of the call and `now` (`docs/twilio-api.md` §4.1, §10.8):
//! - a completed call is `in-progress` until it ends; a busy, failed, unanswered or canceled one
//!   is `ringing` until it settles, seconds after it started;
//! - about one call in five reports late: it shows `queued`, `ringing` or `in-progress` for up to
//!   22 hours after it started, so every call has settled by the end of the next day;
//! - a completed call's price appears 30 seconds to 24 minutes after it ended (70%), 1 to 36
//!   hours after (26%), or never (4%), and `date_updated` moves with it.
//!
//! A call's SID, start, parties and final values never depend on `now`, so moving `now` forward
//! only adds calls and settles recent ones. Usage derives from the calls visible at `now`.
//!
//! This module does not render JSON, filter or page: `calls`, `usage` and `accounts` do that.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};

use super::rng::{
    hash, sid, Rng, TAG_ACCOUNT, TAG_AUTH_TOKEN, TAG_CALL, TAG_CONNECT_APP, TAG_DAY, TAG_GROUP,
    TAG_NUMBER, TAG_TRUNK,
};

/// Upper bound on cached calls across all cached days (~400 bytes each), keeping memory small.
const CACHE_MAX_CALLS: usize = 50_000;
/// Root calls per (account, day) are capped at a million and a half, enough for a day of a
/// million calls (`--calls-per-day 1000000`) in a memory benchmark. A SID's tail holds the
/// low 16 bits of a call's position; its random part is hashed from the whole position.
const MAX_ROOT_CALLS_PER_DAY: u64 = 1_500_000;
/// The longest call we generate; `EndTime` filters rely on it to bound the days they scan.
pub(crate) const MAX_CALL_SECS: i64 = 3600;
/// The longest a late-reporting call shows an in-flight status after it started. With calls of
/// at most an hour, every call of a day has settled by the end of the next day.
const LATE_MAX_SECS: u64 = 22 * 3600;

/// Formats an instant as Twilio's RFC 2822 `+0000` timestamp (`docs/twilio-api.md` §1).
pub(crate) fn rfc2822(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

/// Midnight UTC at the start of `day`.
pub(crate) fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `t` moved by `secs` seconds, saturating at the ends of the representable range, so that
/// extreme dates in a request cannot panic the server.
pub(crate) fn shift(t: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    t.checked_add_signed(TimeDelta::seconds(secs))
        .unwrap_or(if secs < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// The connect app SID the default config derives from `seed`.
pub(crate) fn connect_app_sid_for_seed(seed: u64) -> String {
    sid("CN", &[seed, TAG_CONNECT_APP])
}

/// One phone number an account owns.
#[derive(Debug, Clone)]
pub(crate) struct OwnNumber {
    pub(crate) e164: String,
    pub(crate) sid: String,
}

/// A simulated account.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub(crate) idx: usize,
    pub(crate) sid: String,
    pub(crate) friendly_name: String,
    /// The owning account, for subaccounts. Every generated account is a main account today;
    /// the field exists so a parent/subaccount tree can be added without reshaping the data.
    pub(crate) parent: Option<usize>,
    pub(crate) status: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) date_created: DateTime<Utc>,
    pub(crate) date_updated: DateTime<Utc>,
    /// The account's own (fake) auth token, served in the Account body like the real API does.
    /// It is never accepted as a credential: Connect requests use the app owner's token.
    pub(crate) own_auth_token: String,
    pub(crate) numbers: Vec<OwnNumber>,
    pub(crate) group_sid: String,
    pub(crate) trunk_sid: String,
}

/// The value of a call's `duration` field, which Twilio sends in three shapes for "none".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallDuration {
    Null,
    Empty,
    Secs(u32),
}

impl CallDuration {
    /// Billed minutes: each started minute counts.
    pub(crate) fn billed_minutes(self) -> i64 {
        match self {
            CallDuration::Secs(s) => i64::from(s.div_ceil(60)),
            CallDuration::Null | CallDuration::Empty => 0,
        }
    }
}

/// A generated call; `calls::render` turns it into the API's JSON object.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) sid: String,
    pub(crate) parent_call_sid: Option<String>,
    pub(crate) date_created: DateTime<Utc>,
    pub(crate) date_updated: DateTime<Utc>,
    pub(crate) start_time: Option<DateTime<Utc>>,
    pub(crate) end_time: Option<DateTime<Utc>>,
    pub(crate) duration: CallDuration,
    /// The charge in 1/10000 USD as a positive magnitude; the API shows it negated.
    pub(crate) price: Option<i64>,
    pub(crate) status: &'static str,
    pub(crate) direction: &'static str,
    pub(crate) answered_by: Option<&'static str>,
    pub(crate) to: String,
    pub(crate) from: String,
    pub(crate) phone_number_sid: Option<String>,
    pub(crate) group_sid: Option<String>,
    pub(crate) trunk_sid: Option<String>,
    pub(crate) forwarded_from: Option<String>,
    pub(crate) caller_name: Option<&'static str>,
    pub(crate) queue_time_ms: u32,
}

impl Call {
    /// The list order key: newest first by start time, then SID descending. Calls that have not
    /// started (queued) sort by creation time, which lies on the same day.
    pub(crate) fn key(&self) -> (DateTime<Utc>, &str) {
        (self.start_time.unwrap_or(self.date_created), &self.sid)
    }
}

/// All generated data and the caches that make lazy generation cheap.
pub(crate) struct Dataset {
    seed: u64,
    calls_per_day: u32,
    /// The simulator's clock: nothing generated lies after it. Only moves forward.
    now: RwLock<DateTime<Utc>>,
    /// The first day of history; after the first `today` when the config asks for zero days.
    /// It stays put when `now` moves, so the history grows.
    pub(crate) first_day: NaiveDate,
    pub(crate) accounts: Vec<Account>,
    cache: Mutex<DayCache>,
}

struct DayCache {
    /// The `now` the cached days were generated for.
    now: DateTime<Utc>,
    days: HashMap<(usize, NaiveDate), Arc<Vec<Call>>>,
    calls: usize,
}

impl Dataset {
    pub(crate) fn new(
        seed: u64,
        accounts: usize,
        days: u32,
        calls_per_day: u32,
        today: NaiveDate,
    ) -> Self {
        let first_day = if days == 0 {
            today.succ_opt().unwrap_or(today)
        } else {
            today
                .checked_sub_days(Days::new(u64::from(days - 1)))
                .unwrap_or(NaiveDate::MIN)
        };
        let accounts = (0..accounts)
            .map(|i| make_account(seed, i, first_day))
            .collect();
        let now = shift(day_start(today), 86_399);
        Dataset {
            seed,
            calls_per_day,
            now: RwLock::new(now),
            first_day,
            accounts,
            cache: Mutex::new(DayCache {
                now,
                days: HashMap::new(),
                calls: 0,
            }),
        }
    }

    /// The simulator's "now"; nothing generated lies after it.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        *self.now.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The UTC day of [`Dataset::now`]: the last day of history.
    pub(crate) fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    /// Moves `now` forward to `t` (an earlier instant changes nothing) and forgets the days
    /// generated for the old `now`. Returns the new `now`.
    pub(crate) fn set_now(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let mut now = self.now.write().unwrap_or_else(PoisonError::into_inner);
        if t > *now {
            *now = t;
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            cache.now = t;
            cache.days.clear();
            cache.calls = 0;
        }
        *now
    }

    /// How many seconds of `day` have passed at `now`: 0 before it, 86 400 once it is over.
    pub(crate) fn elapsed_on(&self, day: NaiveDate) -> i64 {
        ((self.now() - day_start(day)).num_seconds() + 1).clamp(0, 86_400)
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    pub(crate) fn account_by_sid(&self, sid: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.sid == sid)
    }

    pub(crate) fn in_history(&self, day: NaiveDate) -> bool {
        day >= self.first_day && day <= self.today()
    }

    /// The accounts whose usage rolls up into `idx` (itself, plus its subaccounts when asked).
    pub(crate) fn rollup(&self, idx: usize, include_subaccounts: bool) -> Vec<usize> {
        let mut out = vec![idx];
        if include_subaccounts {
            // Walk the tree breadth-first; with flat accounts this adds nothing yet.
            let mut i = 0;
            while i < out.len() {
                let parent = out[i];
                out.extend(
                    self.accounts
                        .iter()
                        .filter(|a| a.parent == Some(parent))
                        .map(|a| a.idx),
                );
                i += 1;
            }
        }
        out
    }

    /// Every call of `acct` created on `day` by `now` (including calls that have not started),
    /// as they stand at `now`, sorted newest first by [`Call::key`]. Empty outside the history.
    pub(crate) fn day_calls(&self, acct: usize, day: NaiveDate) -> Arc<Vec<Call>> {
        if !self.in_history(day) || acct >= self.accounts.len() {
            return Arc::new(Vec::new());
        }
        let now = self.now();
        {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if cache.now == now {
                if let Some(calls) = cache.days.get(&(acct, day)) {
                    return Arc::clone(calls);
                }
            }
        }
        // Generate outside the lock; a concurrent duplicate generation is harmless.
        let calls = Arc::new(self.generate_day(&self.accounts[acct], day, now));
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.now != now {
            // `now` moved meanwhile: answer for the instant asked, but do not cache it.
            return calls;
        }
        if cache.calls + calls.len() > CACHE_MAX_CALLS {
            // Crude but correct: everything is regenerable, so forgetting is always safe.
            cache.days.clear();
            cache.calls = 0;
        }
        cache.calls += calls.len();
        cache.days.insert((acct, day), Arc::clone(&calls));
        calls
    }

    /// Finds a call of `acct` by SID, by decoding the day from the SID and regenerating that day.
    pub(crate) fn find_call(&self, acct: usize, call_sid: &str) -> Option<Call> {
        let (ord, _) = decode_call_sid(self.seed, call_sid)?;
        let day = day_from_ordinal(ord)?;
        self.day_calls(acct, day)
            .iter()
            .find(|c| c.sid == call_sid)
            .cloned()
    }

    fn generate_day(&self, acct: &Account, day: NaiveDate, now: DateTime<Utc>) -> Vec<Call> {
        let ord = day_ordinal(day);
        let mut r = Rng::new(hash(&[self.seed, TAG_DAY, acct.idx as u64, u64::from(ord)]));
        // About one day in twelve is quiet; the rest vary from half to one and a half times the mean.
        let roots = if self.calls_per_day == 0 || r.permille(80) {
            0
        } else {
            (u64::from(self.calls_per_day) * r.range(50, 150) / 100).min(MAX_ROOT_CALLS_PER_DAY)
        };
        // Calls exactly on the day's edges catch off-by-one errors in day filters.
        let edge_first = roots > 0 && r.permille(600);
        let edge_last = roots > 1 && r.permille(600);
        let mut g = DayGen {
            seed: self.seed,
            acct,
            ord,
            r,
            day_last: day_start(day) + TimeDelta::seconds(86_399),
            now,
        };
        let mut calls = Vec::with_capacity(roots as usize + roots as usize / 4);
        for k in 0..roots {
            // Each root call (and its child leg) draws from its own stream, so its SID, start
            // time and parties stay the same when `now` moves; only its state changes
            // ("calls change between runs", `docs/twilio-api.md` §10.8).
            g.r = Rng::new(hash(&[
                self.seed,
                TAG_CALL,
                acct.idx as u64,
                u64::from(ord),
                k,
            ]));
            let sec = match k {
                0 if edge_first => 0,
                1 if edge_last => 86_399,
                _ => g.r.below(86_400),
            };
            let start = day_start(day) + TimeDelta::seconds(sec as i64);
            let idx = (k * 2) as u32;
            let (root, settled) = g.root_call(idx, start);
            // The leg a completed call placed exists from when that call was dialled.
            let dials = settled == "completed"
                && root.start_time.is_some()
                && matches!(root.direction, "inbound" | "outbound-api")
                && g.r.permille(180);
            let child = dials.then(|| g.child_call(idx + 1, &root));
            calls.push(root);
            calls.extend(child);
        }
        // Calls created after `now` do not exist yet.
        calls.retain(|c| c.date_created <= now);
        calls.sort_by(|a, b| b.key().cmp(&a.key()));
        calls
    }
}

/// Days since 1970-01-01, truncated to 16 bits for the SID tail: SIDs resolve for days up to
/// 2149, far beyond any simulated history.
fn day_ordinal(day: NaiveDate) -> u16 {
    (day - NaiveDate::default()).num_days() as u16
}

fn day_from_ordinal(ord: u16) -> Option<NaiveDate> {
    NaiveDate::default().checked_add_days(Days::new(u64::from(ord)))
}

/// Mints a call SID whose last 8 hex digits hold (day ordinal, position's low 16 bits) XOR a
/// mask derived from the random part, so the day can be recovered without an index. The random
/// part hashes the whole position, so SIDs stay distinct past 65 536 calls a day.
fn call_sid(seed: u64, acct: usize, ord: u16, idx: u32) -> String {
    let a = hash(&[seed, TAG_CALL, acct as u64, u64::from(ord), u64::from(idx)]);
    let b = (hash(&[a, TAG_CALL]) >> 32) as u32;
    let tail = ((u32::from(ord) << 16) | (idx & 0xffff)) ^ sid_mask(seed, a, b);
    format!("CA{a:016x}{b:08x}{tail:08x}")
}

fn sid_mask(seed: u64, a: u64, b: u32) -> u32 {
    (hash(&[seed, a, u64::from(b)]) >> 32) as u32
}

/// The (day ordinal, position) encoded in a call SID, if it has the right shape.
fn decode_call_sid(seed: u64, call_sid: &str) -> Option<(u16, u16)> {
    let hex = call_sid.strip_prefix("CA")?;
    // `from_str_radix` would accept a leading `+`, so check the alphabet first.
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let a = u64::from_str_radix(&hex[..16], 16).ok()?;
    let b = u32::from_str_radix(&hex[16..24], 16).ok()?;
    let tail = u32::from_str_radix(&hex[24..], 16).ok()? ^ sid_mask(seed, a, b);
    Some(((tail >> 16) as u16, tail as u16))
}

const FRIENDLY_NAMES: [&str; 8] = [
    "Acme Dental Group",
    "Bluebird Logistics",
    "Café Müller GmbH",
    "Northwind Traders",
    "Zephyr Health",
    "Kōbe Ramen Co.",
    "O'Neill & Sons, Plumbing",
    "Sunrise Realty",
];
const AREA_CODES: [&str; 6] = ["415", "212", "312", "206", "617", "303"];

pub(crate) fn make_account(seed: u64, idx: usize, first_day: NaiveDate) -> Account {
    let i = idx as u64;
    let mut r = Rng::new(hash(&[seed, TAG_ACCOUNT, i, 1]));
    let base_name = FRIENDLY_NAMES[idx % FRIENDLY_NAMES.len()];
    let friendly_name = match idx / FRIENDLY_NAMES.len() {
        0 => base_name.to_owned(),
        n => format!("{base_name} {}", n + 1),
    };
    // Created some weeks before the history starts, at an arbitrary time of day.
    let date_created = day_start(first_day)
        - TimeDelta::days(r.range(20, 400) as i64)
        - TimeDelta::seconds(r.below(86_400) as i64);
    let date_updated = date_created + TimeDelta::seconds(r.range(60, 86_400 * 10) as i64);
    let area = *r.pick(&AREA_CODES);
    let numbers = (0..r.range(1, 3))
        .map(|k| OwnNumber {
            e164: format!("+1{area}555{:04}", 100 + (i * 3 + k) % 100),
            sid: sid("PN", &[seed, TAG_NUMBER, i, k]),
        })
        .collect();
    Account {
        idx,
        sid: sid("AC", &[seed, TAG_ACCOUNT, i]),
        friendly_name,
        parent: None,
        status: "active",
        kind: "Full",
        date_created,
        date_updated,
        own_auth_token: sid("", &[seed, TAG_AUTH_TOKEN, i]),
        numbers,
        group_sid: sid("GP", &[seed, TAG_GROUP, i]),
        trunk_sid: sid("TK", &[seed, TAG_TRUNK, i]),
    }
}

const CALLER_NAMES: [&str; 10] = [
    "Zoë Ångström",
    "山田太郎",
    "José Ñúñez",
    "Ελένη Παπαδοπούλου",
    "Müller, Jürgen",
    "O'Brien \"Sully\"",
    "📞 Pizza Palace 🍕",
    "WIRELESS CALLER",
    "ACME CORP",
    "",
];
const CLIENT_NAMES: [&str; 4] = ["alice", "bob", "carol", "support-agent-7"];
const SIP_USERS: [&str; 3] = ["bob", "frontdesk", "+14155550111"];
const ANSWERED_BY: [&str; 6] = [
    "human",
    "machine_start",
    "machine_end_beep",
    "machine_end_silence",
    "fax",
    "unknown",
];

/// Generation state for one (account, day).
struct DayGen<'a> {
    seed: u64,
    acct: &'a Account,
    ord: u16,
    /// The stream of the root call being generated.
    r: Rng,
    day_last: DateTime<Utc>,
    /// The instant the calls are shown at.
    now: DateTime<Utc>,
}

impl DayGen<'_> {
    fn own_number(&mut self) -> OwnNumber {
        self.r.pick(&self.acct.numbers).clone()
    }

    fn us_number(&mut self) -> String {
        // 555-01xx is reserved for fiction in the NANP.
        format!(
            "+1{}555{:04}",
            self.r.pick(&AREA_CODES),
            self.r.range(100, 199)
        )
    }

    fn external_party(&mut self) -> String {
        match self.r.below(100) {
            0..70 => self.us_number(),
            // Ofcom's drama range and ACMA's fictitious mobile range.
            70..78 => format!("+442079460{:03}", self.r.below(1000)),
            78..85 => format!("+61491570{:03}", self.r.range(156, 159)),
            85..95 => format!("client:{}", self.r.pick(&CLIENT_NAMES)),
            _ => format!("sip:{}@example.com", self.r.pick(&SIP_USERS)),
        }
    }

    /// A root call as it stands at `now`, and the status it settles on.
    fn root_call(&mut self, idx: u32, start: DateTime<Utc>) -> (Call, &'static str) {
        let direction = self.r.weighted(&[
            ("inbound", 50),
            ("outbound-api", 36),
            ("trunking-terminating", 7),
            ("trunking-originating", 7),
        ]);
        let settled = self.r.weighted(&[
            ("completed", 78),
            ("no-answer", 8),
            ("busy", 6),
            ("failed", 4),
            ("canceled", 4),
        ]);
        // One call in five reports late, showing an in-flight status for a while after it
        // started. The choice uses a side stream so that the main stream, and with it the rest
        // of the call, does not depend on `now`.
        let mut status = settled;
        let mut side = Rng::new(self.r.next_u64());
        if side.permille(200) {
            let shown = side.weighted(&[("in-progress", 6), ("ringing", 5), ("queued", 6)]);
            let until = start + TimeDelta::seconds(side.range(60, LATE_MAX_SECS) as i64);
            if self.now < until {
                status = shown;
            }
        }
        let own = self.own_number();
        let (from, to, phone_number_sid) = match direction {
            "inbound" | "trunking-originating" => (self.external_party(), own.e164, Some(own.sid)),
            _ => {
                let pn = self.r.permille(700).then_some(own.sid);
                (own.e164, self.external_party(), pn)
            }
        };
        let mut call = self.blank(idx, start, direction, status, from, to);
        call.phone_number_sid = phone_number_sid;
        if direction == "inbound" {
            if self.r.permille(400) {
                call.caller_name = Some(*self.r.pick(&CALLER_NAMES));
            }
            if self.r.permille(80) {
                call.forwarded_from = Some(self.us_number());
            }
        }
        if direction.starts_with("trunking") {
            call.trunk_sid = Some(self.acct.trunk_sid.clone());
        }
        if direction == "outbound-api" && self.r.permille(300) {
            call.queue_time_ms = self.r.below(3000) as u32;
        }
        // Drawn whatever the status, so that the child leg's draws do not depend on `now`.
        let (amd, answered_by) = (self.r.permille(400), *self.r.pick(&ANSWERED_BY));
        if direction == "outbound-api" && call.status == "completed" && amd {
            call.answered_by = Some(answered_by);
        }
        (call, settled)
    }

    /// An `outbound-dial` leg that `parent` placed with `<Dial>`.
    fn child_call(&mut self, idx: u32, parent: &Call) -> Call {
        let parent_start = parent.start_time.unwrap_or(parent.date_created);
        // Stay on the parent's day so a day's calls and their children are generated together.
        let start =
            (parent_start + TimeDelta::seconds(self.r.range(1, 8) as i64)).min(self.day_last);
        let status = self.r.weighted(&[
            ("completed", 70),
            ("no-answer", 12),
            ("busy", 10),
            ("failed", 4),
            ("canceled", 4),
        ]);
        let from = if parent.direction == "inbound" {
            parent.to.clone()
        } else {
            parent.from.clone()
        };
        let to = self.external_party();
        let mut call = self.blank(idx, start, "outbound-dial", status, from, to);
        call.parent_call_sid = Some(parent.sid.clone());
        call
    }

    /// A call with consistent times, duration and price for `status`; optional fields unset.
    fn blank(
        &mut self,
        idx: u32,
        start: DateTime<Utc>,
        direction: &'static str,
        status: &'static str,
        from: String,
        to: String,
    ) -> Call {
        let sid = call_sid(self.seed, self.acct.idx, self.ord, idx);
        let date_created = start - TimeDelta::seconds(self.r.below(3) as i64);
        let group_sid = self.r.permille(50).then(|| self.acct.group_sid.clone());
        // Status-dependent draws come from a fork, so the main stream advances the same way
        // whatever the status (see `generate_day`).
        let mut st = Rng::new(self.r.next_u64());
        let mut call = Call {
            sid,
            parent_call_sid: None,
            date_created,
            date_updated: start,
            start_time: Some(start),
            end_time: None,
            duration: CallDuration::Null,
            price: None,
            status,
            direction,
            answered_by: None,
            to,
            from,
            phone_number_sid: None,
            group_sid,
            trunk_sid: None,
            forwarded_from: None,
            caller_name: None,
            queue_time_ms: 0,
        };
        settle(&mut call, &mut st, start, self.now);
        call
    }
}

/// Gives `call`, dialled at `start` with its status, the status, times, duration and price it
/// shows at `now`, drawing from `st`.
fn settle(call: &mut Call, st: &mut Rng, start: DateTime<Utc>, now: DateTime<Utc>) {
    let secs = |n: u64| TimeDelta::seconds(n as i64);
    let priced_at = if call.status == "completed" {
        complete(call, st, start, now)
    } else {
        None
    };
    call.date_updated = match call.status {
        "completed" => {
            let settled_at = call.end_time.unwrap_or(start) + secs(st.below(5));
            priced_at.map_or(settled_at, |p| p.max(settled_at))
        }
        "queued" => {
            // Not dialled yet: no start time; it was created at `start`.
            call.start_time = None;
            call.date_created = start;
            start
        }
        "busy" | "failed" | "no-answer" => {
            call.duration = st.weighted(&[
                (CallDuration::Secs(0), 2),
                (CallDuration::Empty, 1),
                (CallDuration::Null, 1),
            ]);
            if st.permille(100) {
                call.price = Some(0);
            }
            start + secs(st.range(1, 40))
        }
        "canceled" => {
            call.duration = *st.pick(&[CallDuration::Secs(0), CallDuration::Null]);
            start + secs(st.range(1, 20))
        }
        // ringing, in-progress
        _ => start + secs(st.below(30)),
    };
    if matches!(call.status, "busy" | "failed" | "no-answer" | "canceled")
        && call.date_updated > now
    {
        // Not settled yet: still ringing, nothing final to show.
        call.status = "ringing";
        call.duration = CallDuration::Null;
        call.price = None;
        call.date_updated = start;
    }
    call.date_updated = call.date_updated.min(now).max(call.date_created);
}

/// The duration, end and price at `now` of a call answered at `start`: still in progress if it
/// ends after `now`, priced once its price delay has passed. Returns when it was priced.
fn complete(
    call: &mut Call,
    st: &mut Rng,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let d = match st.below(100) {
        0..5 => 0,
        5..15 => st.range(1, 15),
        15..85 => st.range(16, 300),
        _ => st.range(301, MAX_CALL_SECS as u64),
    };
    let end = start + TimeDelta::seconds(d as i64);
    if end > now {
        call.status = "in-progress";
        return None;
    }
    call.end_time = Some(end);
    call.duration = CallDuration::Secs(d as u32);
    let at = price_delay(st.below(1000))
        .map(|delay| end + delay)
        .filter(|&at| at <= now)?;
    call.price = Some(call.duration.billed_minutes() * rate(call.direction, &call.to, &call.from));
    Some(at)
}

/// How long after a completed call ends its price appears, from one draw `u` in `0..1000`:
/// 30 s to 24 min for 70% of calls, 1 to 36 hours for 26%, never for 4% (`docs/twilio-api.md` §4.1: "price
/// can lag").
fn price_delay(u: u64) -> Option<TimeDelta> {
    let u = u as i64;
    match u {
        0..700 => Some(TimeDelta::seconds(30 + u * 2)),
        700..960 => Some(TimeDelta::seconds(3600 + (u - 700) * 35 * 3600 / 260)),
        _ => None,
    }
}

/// Per-minute rate in 1/10000 USD.
fn rate(direction: &str, to: &str, from: &str) -> i64 {
    let voip = |s: &str| s.starts_with("client:") || s.starts_with("sip:");
    if voip(to) || voip(from) {
        return 40;
    }
    match direction {
        "inbound" => 85,
        "trunking-terminating" => 45,
        "trunking-originating" => 30,
        _ => 140,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn rfc2822_has_correct_weekday_and_padding() {
        let t = day("2026-03-01").and_hms_opt(8, 2, 3).expect("t").and_utc();
        assert_eq!(rfc2822(t), "Sun, 01 Mar 2026 08:02:03 +0000");
    }

    #[test]
    fn call_sid_round_trips_day_and_position() {
        let ord = day_ordinal(day("2026-03-01"));
        let s = call_sid(42, 1, ord, 517);
        assert_eq!(s.len(), 34);
        assert_eq!(decode_call_sid(42, &s), Some((ord, 517)));
        assert_eq!(day_from_ordinal(ord), Some(day("2026-03-01")));
        assert_eq!(decode_call_sid(42, "CA+123"), None);
        assert_eq!(decode_call_sid(42, &s.replace("CA", "PN")), None);
    }

    #[test]
    fn generation_is_deterministic_and_consistent() {
        let a = Dataset::new(7, 2, 5, 60, day("2026-03-05"));
        let b = Dataset::new(7, 2, 5, 60, day("2026-03-05"));
        assert_eq!(a.accounts[1].sid, b.accounts[1].sid);
        let now = a.now();
        for acct in 0..2 {
            for d in a.first_day.iter_days().take(5) {
                let x = a.day_calls(acct, d);
                let y = b.day_calls(acct, d);
                let sids: Vec<_> = x.iter().map(|c| &c.sid).collect();
                assert_eq!(sids, y.iter().map(|c| &c.sid).collect::<Vec<_>>());
                for c in x.iter() {
                    if let Some(s) = c.start_time {
                        assert_eq!(s.date_naive(), d);
                        assert!(c.date_created <= s);
                    }
                    if let Some(e) = c.end_time {
                        assert_eq!(c.status, "completed");
                        assert!(c.start_time.is_some_and(|s| s <= e));
                        assert!(e <= c.date_updated);
                    }
                    assert!(c.date_updated <= now);
                    if let Some(p) = &c.parent_call_sid {
                        assert!(x.iter().any(|o| &o.sid == p), "parent on same day");
                    }
                    let found = a.find_call(acct, &c.sid).expect("findable");
                    assert_eq!(found.sid, c.sid);
                }
            }
        }
        assert!(a
            .find_call(1, &a.day_calls(0, day("2026-03-04"))[0].sid)
            .is_none());
    }

    #[test]
    fn moving_today_only_settles_in_flight_calls() {
        let d = day("2026-03-05");
        let before = Dataset::new(9, 1, 3, 200, d);
        let after = Dataset::new(9, 1, 3, 200, d + TimeDelta::days(1));
        let (old, new) = (before.day_calls(0, d), after.day_calls(0, d));
        let in_flight = |c: &Call| matches!(c.status, "queued" | "ringing" | "in-progress");
        assert!(old.iter().filter(|c| in_flight(c)).count() > 5);
        assert!(!new.iter().any(in_flight));
        for c in old.iter() {
            let n = new
                .iter()
                .find(|x| x.sid == c.sid)
                .expect("same SID once settled");
            assert_eq!((c.direction, &c.to, &c.from), (n.direction, &n.to, &n.from));
            assert_eq!(c.caller_name, n.caller_name);
            assert_eq!(
                c.start_time.unwrap_or(c.date_created),
                n.start_time.unwrap_or(n.date_created)
            );
            if !in_flight(c) {
                assert_eq!(
                    (c.status, c.duration, c.end_time),
                    (n.status, n.duration, n.end_time)
                );
            }
        }
    }

    #[test]
    fn moving_now_adds_calls_and_settles_them_for_good() {
        let d = day("2026-03-05");
        // The clock starts at the end of the day before and moves through `d` and beyond.
        let data = Dataset::new(11, 1, 3, 300, d - TimeDelta::days(1));
        let in_flight = |c: &Call| matches!(c.status, "queued" | "ringing" | "in-progress");
        let mut seen: Vec<Call> = Vec::new();
        let mut in_flight_at_noon = 0;
        for hours in [6, 12, 18, 24, 30, 48, 60, 80, 200] {
            let now = data.set_now(day_start(d) + TimeDelta::hours(hours));
            let calls = data.day_calls(0, d);
            assert!(calls.len() >= seen.len(), "calls never disappear");
            for c in calls.iter() {
                assert!(c.date_created <= now && c.date_updated <= now);
                assert!(c.start_time.is_none_or(|s| s <= now));
                assert!(c.end_time.is_none_or(|e| e <= now));
            }
            for old in &seen {
                let new = calls
                    .iter()
                    .find(|c| c.sid == old.sid)
                    .expect("still there");
                assert_eq!(
                    (old.direction, &old.to, &old.from),
                    (new.direction, &new.to, &new.from)
                );
                if !in_flight(old) {
                    assert_eq!(
                        (old.status, old.end_time, old.duration),
                        (new.status, new.end_time, new.duration)
                    );
                }
                if old.price.is_some() {
                    assert_eq!(old.price, new.price, "a price once shown stays");
                }
            }
            if hours == 12 {
                in_flight_at_noon = calls.iter().filter(|c| in_flight(c)).count();
                assert!(calls
                    .iter()
                    .all(|c| c.date_created < day_start(d) + TimeDelta::hours(12)));
            }
            if hours >= 48 {
                assert!(
                    !calls.iter().any(in_flight),
                    "settled by the end of the next day"
                );
            }
            seen = calls.to_vec();
        }
        assert!(in_flight_at_noon > 5, "{in_flight_at_noon}");
        // Nothing changes after the price horizon (36 hours after the last call ended).
        let before: Vec<_> = seen
            .iter()
            .map(|c| (c.sid.clone(), c.price, c.date_updated))
            .collect();
        data.set_now(day_start(d) + TimeDelta::days(30));
        let after: Vec<_> = data
            .day_calls(0, d)
            .iter()
            .map(|c| (c.sid.clone(), c.price, c.date_updated))
            .collect();
        assert_eq!(before, after);
        // The clock does not go back.
        let now = data.now();
        assert_eq!(data.set_now(day_start(d)), now);
    }
}
