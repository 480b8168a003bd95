//! The generation of accounts and of one (account, day) of calls: names, numbers, the root
//! calls and their dialed legs, how each settles and what it costs.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::*;

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
pub(super) struct DayGen<'a> {
    pub(super) seed: u64,
    pub(super) acct: &'a Account,
    pub(super) ord: u16,
    /// The stream of the root call being generated.
    pub(super) r: Rng,
    pub(super) day_last: DateTime<Utc>,
    /// The instant the calls are shown at.
    pub(super) now: DateTime<Utc>,
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
    pub(super) fn root_call(&mut self, idx: u32, start: DateTime<Utc>) -> (Call, &'static str) {
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
    pub(super) fn child_call(&mut self, idx: u32, parent: &Call) -> Call {
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
