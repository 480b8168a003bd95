//! Usage records (`docs/twilio-api.md` §5) typed for export.

use std::borrow::Cow;

use super::value::{date, decimal, json, required_text, text, timestamp};
use super::wire::{wire_record, Extra};
use super::{DecodeError, Record};

wire_record!(
    /// A usage record as it arrives; every field may be null.
    UsageRecordWire {
        account_sid => "account_sid",
        api_version => "api_version",
        category => "category",
        description => "description",
        start_date => "start_date",
        end_date => "end_date",
        as_of => "as_of",
        count => "count",
        count_unit => "count_unit",
        usage => "usage",
        usage_unit => "usage_unit",
        price => "price",
        price_unit => "price_unit",
        uri => "uri",
        subresource_uris => "subresource_uris",
    }
);

type Text<'a> = Option<Cow<'a, str>>;

/// A typed usage record. Dates are days since 1970-01-01; decimals are scaled by 10^18.
#[derive(Debug, Clone)]
pub struct UsageRecord<'a> {
    pub account_sid: Text<'a>,
    pub api_version: Text<'a>,
    pub category: Cow<'a, str>,
    pub description: Text<'a>,
    pub start_date: Option<i32>,
    pub end_date: Option<i32>,
    pub as_of: Option<i64>,
    pub count: Option<i128>,
    pub count_unit: Text<'a>,
    pub usage: Option<i128>,
    pub usage_unit: Text<'a>,
    pub price: Option<i128>,
    pub price_unit: Text<'a>,
    pub uri: Text<'a>,
    pub subresource_uris: Option<&'a str>,
    pub extra: Extra<'a>,
}

impl<'a> Record<'a> for UsageRecord<'a> {
    const ENVELOPE_KEY: &'static str = "usage_records";
    type Wire = UsageRecordWire<'a>;

    fn from_wire(w: UsageRecordWire<'a>) -> Result<Self, DecodeError> {
        let category = required_text(w.category).map_err(|reason| DecodeError::Field {
            record: "(without category)".into(),
            field: "category",
            reason,
        })?;
        let start = text(w.start_date).ok().flatten().unwrap_or_default();
        let at = |field: &'static str| {
            let record = format!("{category} {start}");
            move |reason| DecodeError::Field {
                record,
                field,
                reason,
            }
        };
        Ok(UsageRecord {
            account_sid: text(w.account_sid).map_err(at("account_sid"))?,
            api_version: text(w.api_version).map_err(at("api_version"))?,
            description: text(w.description).map_err(at("description"))?,
            start_date: date(w.start_date).map_err(at("start_date"))?,
            end_date: date(w.end_date).map_err(at("end_date"))?,
            as_of: timestamp(w.as_of).map_err(at("as_of"))?,
            count: decimal(w.count).map_err(at("count"))?,
            count_unit: text(w.count_unit).map_err(at("count_unit"))?,
            usage: decimal(w.usage).map_err(at("usage"))?,
            usage_unit: text(w.usage_unit).map_err(at("usage_unit"))?,
            price: decimal(w.price).map_err(at("price"))?,
            price_unit: text(w.price_unit).map_err(at("price_unit"))?,
            uri: text(w.uri).map_err(at("uri"))?,
            subresource_uris: json(w.subresource_uris),
            extra: w.extra,
            category,
        })
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
