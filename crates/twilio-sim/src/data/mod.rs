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

mod generate;
#[cfg(test)]
mod tests;

pub(crate) use generate::make_account;
use generate::DayGen;
