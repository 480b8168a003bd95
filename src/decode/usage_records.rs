//! Usage records (`docs/twilio-api.md` §5) typed for export.

use super::value::{required_text, text, ValueError};
use super::wire::record;

/// The Usage Record resource, declared once: each column in file order as `name: Kind "doc"`,
/// where the JSON key is the name and `Kind` one of [`super::field`]'s. [`record!`] makes
/// [`UsageRecordWire`] and [`UsageRecord`] of it, `batch::usage_records` the column list and
/// the append (and the `extra` column after these). Adding a field is one line here.
macro_rules! usage_record_columns {
    ($then:ident) => {
        $then! {
            /// A typed usage record. Dates are days since 1970-01-01; decimals are scaled by
            /// 10^18.
            UsageRecord / UsageRecordWire in "usage_records" {
                account_sid: Text      "The account the usage was read from (AC…); subaccounts are not included.",
                api_version: Text      "API version of the resource.",
                category: Key          "Usage category, free text (calls, calls-inbound, totalprice, …; new ones appear). Categories nest: never add them up.",
                description: Text      "Plain-language description of the category.",
                start_date: Date       "First day included (GMT); the partition day.",
                end_date: Date         "Last day included (GMT).",
                as_of: Timestamp       "Usage is up to date as of this instant (UTC).",
                count: Decimal         "Number of usage events (e.g. calls), exact; null for money-only categories.",
                count_unit: Text       "Unit of count (calls, messages, …), may be empty.",
                usage: Decimal         "Billable quantity in usage_unit, exact.",
                usage_unit: Text       "Unit of usage (minutes, messages, usd, …).",
                price: Decimal         "Total price in price_unit, exact.",
                price_unit: Text       "Currency of price, lower case (usd).",
                uri: Text              "URI that reproduces this record, relative to https://api.twilio.com.",
                subresource_uris: Json "Related usage lists (name → relative URI), as a JSON object.",
            }
        }
    };
}

pub(crate) use usage_record_columns;

usage_record_columns!(record);

impl UsageRecordWire<'_> {
    /// How a decode error names the record: by category and day.
    fn record_name(&self) -> String {
        match required_text(self.category) {
            Ok(category) => {
                let day = text(self.start_date).ok().flatten().unwrap_or_default();
                format!("{category} {day}")
            }
            Err(ValueError::Missing) => "(without category)".to_owned(),
            Err(_) => "(with an unreadable category)".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_page;

    #[test]
    fn decodes_strings_and_numbers_exactly() {
        let body = r#"{"usage_records":[{"category":"calls","count":"37","usage":"118","price":3.304,
            "start_date":"2026-03-01","end_date":"2026-03-01","as_of":"2026-03-03T04:11:52+00:00","count_unit":""},
            {"category":"Usage-RCS-Messages","count":null,"usage":"0.123456789","price":"0","start_date":"2026-03-01"}],
            "next_page_uri":null}"#;
        let page = decode_page::<UsageRecord>(body.as_bytes()).unwrap();
        let r = &page.records[0];
        assert_eq!(r.count, Some(37 * 10i128.pow(18)));
        assert_eq!(r.price, Some(3_304_000_000_000_000_000));
        assert_eq!(r.start_date, Some(20513));
        assert_eq!(r.count_unit.as_deref(), Some(""));
        let r = &page.records[1];
        assert_eq!(r.category, "Usage-RCS-Messages");
        assert_eq!(r.usage, Some(123_456_789_000_000_000));
        assert_eq!(r.count, None);
    }

    #[test]
    fn too_many_digits_are_reported_with_the_record() {
        let body = r#"{"usage_records":[{"category":"sms","usage":"0.1234567890123456789","start_date":"2026-03-01"}]}"#;
        let err = decode_page::<UsageRecord>(body.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sms 2026-03-01") && err.contains("usage"),
            "{err}"
        );
    }
}
