//! The usage categories every simulated account reports, and how each one's daily amount comes
//! about.

use super::PRICE_SCALE;
use crate::data::Call;

/// How a category's daily amount comes about.
#[derive(Clone, Copy)]
pub(super) enum Kind {
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

pub(super) struct Category {
    pub(super) name: &'static str,
    pub(super) description: &'static str,
    pub(super) count_unit: &'static str,
    pub(super) usage_unit: &'static str,
    pub(super) kind: Kind,
    /// Counted in `totalprice`. Nested categories (`calls-inbound` ⊂ `calls`) are not, which is
    /// why `docs/twilio-api.md` §5 warns never to add categories together.
    pub(super) in_total: bool,
}

impl Category {
    pub(super) fn usage_scale(&self) -> u32 {
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
pub(super) static CATEGORIES: &[Category] = &[
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
