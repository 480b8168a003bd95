//! The `usage_records` columns: every field of a Usage Record, typed (`docs/twilio-api.md` §5).

use super::schema::{col, Column, Kind};
use super::{extra_json, AppendRow, RowCursor};
use crate::decode::usage_records::UsageRecord;

/// The exported columns, in file order.
pub const COLUMNS: &[Column] = &[
    col("account_sid", Kind::Text, "The account the usage was read from (AC…); subaccounts are not included."),
    col("api_version", Kind::Text, "API version of the resource."),
    Column {
        name: "category",
        kind: Kind::Text,
        nullable: false,
        doc: "Usage category, free text (calls, calls-inbound, totalprice, …; new ones appear). Categories nest: never add them up.",
    },
    col("description", Kind::Text, "Plain-language description of the category."),
    col("start_date", Kind::Date, "First day included (GMT); the partition day."),
    col("end_date", Kind::Date, "Last day included (GMT)."),
    col("as_of", Kind::Timestamp, "Usage is up to date as of this instant (UTC)."),
    col("count", Kind::Decimal, "Number of usage events (e.g. calls), exact; null for money-only categories."),
    col("count_unit", Kind::Text, "Unit of count (calls, messages, …), may be empty."),
    col("usage", Kind::Decimal, "Billable quantity in usage_unit, exact."),
    col("usage_unit", Kind::Text, "Unit of usage (minutes, messages, usd, …)."),
    col("price", Kind::Decimal, "Total price in price_unit, exact."),
    col("price_unit", Kind::Text, "Currency of price, lower case (usd)."),
    col("uri", Kind::Text, "URI that reproduces this record, relative to https://api.twilio.com."),
    col("subresource_uris", Kind::Json, "Related usage lists (name → relative URI), as a JSON object."),
    col("extra", Kind::Json, "Fields the API sent that this version does not know, as a JSON object; null when there were none."),
];

impl AppendRow for UsageRecord<'_> {
    fn append(&self, r: &mut RowCursor<'_>) {
        r.text(self.account_sid.as_deref());
        r.text(self.api_version.as_deref());
        r.text(Some(&self.category));
        r.text(self.description.as_deref());
        r.date(self.start_date);
        r.date(self.end_date);
        r.timestamp(self.as_of);
        r.decimal(self.count);
        r.text(self.count_unit.as_deref());
        r.decimal(self.usage);
        r.text(self.usage_unit.as_deref());
        r.decimal(self.price);
        r.text(self.price_unit.as_deref());
        r.text(self.uri.as_deref());
        r.text(self.subresource_uris);
        r.text(extra_json(&self.extra).as_deref());
    }
}
