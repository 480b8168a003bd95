//! The `calls` columns: every field of the Call resource, typed (`docs/twilio-api.md` §4.2).

use super::schema::{col, Column, Kind};
use super::{extra_json, AppendRow, RowCursor};
use crate::decode::calls::Call;

/// The exported columns, in file order.
pub const COLUMNS: &[Column] = &[
    Column {
        name: "sid",
        kind: Kind::Text,
        nullable: false,
        doc: "Unique id of the call (CA followed by 32 hex digits).",
    },
    col("account_sid", Kind::Text, "The account that owns the call (AC…)."),
    col("parent_call_sid", Kind::Text, "The call that created this leg, for child legs (CA…)."),
    col("date_created", Kind::Timestamp, "When the call resource was created (UTC)."),
    col("date_updated", Kind::Timestamp, "When the call resource was last updated (UTC)."),
    col("start_time", Kind::Timestamp, "When the call started (UTC); null before dialing. The partition day is its UTC date."),
    col("end_time", Kind::Timestamp, "When the call ended (UTC); null unless it completed."),
    col("duration", Kind::Int64, "Length of the call in whole seconds; null when Twilio sends it empty."),
    col("price", Kind::Decimal, "Charge for the call in price_unit, exact; negative for a charge; null until priced."),
    col("price_unit", Kind::Text, "Currency of price (ISO 4217, e.g. USD)."),
    col("status", Kind::Text, "queued, ringing, in-progress, completed, busy, failed, no-answer or canceled."),
    col("direction", Kind::Text, "inbound, outbound-api, outbound-dial, trunking-terminating or trunking-originating."),
    col("answered_by", Kind::Text, "Answering machine detection result (human, machine_start, …)."),
    col("to", Kind::Text, "Who was called: E.164 number, SIP address, client:name or sim:SID."),
    col("from", Kind::Text, "Who called: E.164 number, SIP address, client:name or sim:SID."),
    col("to_formatted", Kind::Text, "to, formatted for display."),
    col("from_formatted", Kind::Text, "from, formatted for display."),
    col("phone_number_sid", Kind::Text, "For inbound calls, the IncomingPhoneNumber that received it (PN…)."),
    col("group_sid", Kind::Text, "The group the call belongs to (GP…)."),
    col("trunk_sid", Kind::Text, "The SIP trunk used (TK…)."),
    col("forwarded_from", Kind::Text, "The forwarding number, for forwarded inbound calls."),
    col("caller_name", Kind::Text, "Caller name from a CNAM lookup, when enabled."),
    col("queue_time", Kind::Int64, "Wait before the call was placed, in milliseconds."),
    col("api_version", Kind::Text, "API version used to create the call."),
    col("uri", Kind::Text, "URI of the call resource, relative to https://api.twilio.com."),
    col("subresource_uris", Kind::Json, "Subresources of the call (name → relative URI), as a JSON object."),
    col("extra", Kind::Json, "Fields the API sent that this version does not know, as a JSON object; null when there were none."),
];

impl AppendRow for Call<'_> {
    fn append(&self, r: &mut RowCursor<'_>) {
        r.text(Some(&self.sid));
        r.text(self.account_sid.as_deref());
        r.text(self.parent_call_sid.as_deref());
        r.timestamp(self.date_created);
        r.timestamp(self.date_updated);
        r.timestamp(self.start_time);
        r.timestamp(self.end_time);
        r.int64(self.duration);
        r.decimal(self.price);
        r.text(self.price_unit.as_deref());
        r.text(self.status.as_deref());
        r.text(self.direction.as_deref());
        r.text(self.answered_by.as_deref());
        r.text(self.to.as_deref());
        r.text(self.from.as_deref());
        r.text(self.to_formatted.as_deref());
        r.text(self.from_formatted.as_deref());
        r.text(self.phone_number_sid.as_deref());
        r.text(self.group_sid.as_deref());
        r.text(self.trunk_sid.as_deref());
        r.text(self.forwarded_from.as_deref());
        r.text(self.caller_name.as_deref());
        r.int64(self.queue_time);
        r.text(self.api_version.as_deref());
        r.text(self.uri.as_deref());
        r.text(self.subresource_uris);
        r.text(extra_json(&self.extra).as_deref());
    }
}
