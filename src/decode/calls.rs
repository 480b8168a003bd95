//! Call records (`docs/twilio-api.md` §4.2) typed for export.

use std::borrow::Cow;

use super::value::{decimal, integer, json, required_text, text, timestamp};
use super::wire::{wire_record, Extra};
use super::{DecodeError, Record};

wire_record!(
    /// A call as it arrives; every field may be null.
    CallWire {
        sid => "sid",
        account_sid => "account_sid",
        parent_call_sid => "parent_call_sid",
        date_created => "date_created",
        date_updated => "date_updated",
        start_time => "start_time",
        end_time => "end_time",
        duration => "duration",
        price => "price",
        price_unit => "price_unit",
        status => "status",
        direction => "direction",
        answered_by => "answered_by",
        to => "to",
        from => "from",
        to_formatted => "to_formatted",
        from_formatted => "from_formatted",
        phone_number_sid => "phone_number_sid",
        group_sid => "group_sid",
        trunk_sid => "trunk_sid",
        forwarded_from => "forwarded_from",
        caller_name => "caller_name",
        queue_time => "queue_time",
        api_version => "api_version",
        uri => "uri",
        subresource_uris => "subresource_uris",
    }
);

type Text<'a> = Option<Cow<'a, str>>;

/// A typed call. Timestamps are UTC microseconds, `price` is scaled by 10^18.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub sid: Cow<'a, str>,
    pub account_sid: Text<'a>,
    pub parent_call_sid: Text<'a>,
    pub date_created: Option<i64>,
    pub date_updated: Option<i64>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub duration: Option<i64>,
    pub price: Option<i128>,
    pub price_unit: Text<'a>,
    pub status: Text<'a>,
    pub direction: Text<'a>,
    pub answered_by: Text<'a>,
    pub to: Text<'a>,
    pub from: Text<'a>,
    pub to_formatted: Text<'a>,
    pub from_formatted: Text<'a>,
    pub phone_number_sid: Text<'a>,
    pub group_sid: Text<'a>,
    pub trunk_sid: Text<'a>,
    pub forwarded_from: Text<'a>,
    pub caller_name: Text<'a>,
    pub queue_time: Option<i64>,
    pub api_version: Text<'a>,
    pub uri: Text<'a>,
    /// Raw JSON object.
    pub subresource_uris: Option<&'a str>,
    /// Fields the API added after this code was written.
    pub extra: Extra<'a>,
}

impl<'a> Record<'a> for Call<'a> {
    const ENVELOPE_KEY: &'static str = "calls";
    type Wire = CallWire<'a>;

    fn from_wire(w: CallWire<'a>) -> Result<Self, DecodeError> {
        let sid = required_text(w.sid).map_err(|reason| DecodeError::Field {
            record: "(without sid)".into(),
            field: "sid",
            reason,
        })?;
        let at = |field: &'static str| {
            let record = sid.to_string();
            move |reason| DecodeError::Field {
                record,
                field,
                reason,
            }
        };
        Ok(Call {
            account_sid: text(w.account_sid).map_err(at("account_sid"))?,
            parent_call_sid: text(w.parent_call_sid).map_err(at("parent_call_sid"))?,
            date_created: timestamp(w.date_created).map_err(at("date_created"))?,
            date_updated: timestamp(w.date_updated).map_err(at("date_updated"))?,
            start_time: timestamp(w.start_time).map_err(at("start_time"))?,
            end_time: timestamp(w.end_time).map_err(at("end_time"))?,
            duration: integer(w.duration).map_err(at("duration"))?,
            price: decimal(w.price).map_err(at("price"))?,
            price_unit: text(w.price_unit).map_err(at("price_unit"))?,
            status: text(w.status).map_err(at("status"))?,
            direction: text(w.direction).map_err(at("direction"))?,
            answered_by: text(w.answered_by).map_err(at("answered_by"))?,
            to: text(w.to).map_err(at("to"))?,
            from: text(w.from).map_err(at("from"))?,
            to_formatted: text(w.to_formatted).map_err(at("to_formatted"))?,
            from_formatted: text(w.from_formatted).map_err(at("from_formatted"))?,
            phone_number_sid: text(w.phone_number_sid).map_err(at("phone_number_sid"))?,
            group_sid: text(w.group_sid).map_err(at("group_sid"))?,
            trunk_sid: text(w.trunk_sid).map_err(at("trunk_sid"))?,
            forwarded_from: text(w.forwarded_from).map_err(at("forwarded_from"))?,
            caller_name: text(w.caller_name).map_err(at("caller_name"))?,
            queue_time: integer(w.queue_time).map_err(at("queue_time"))?,
            api_version: text(w.api_version).map_err(at("api_version"))?,
            uri: text(w.uri).map_err(at("uri"))?,
            subresource_uris: json(w.subresource_uris),
            extra: w.extra,
            sid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_page;

    const PAGE: &str = r#"{"calls":[{"sid":"CA9b1e6f0c2d7a4e3b8c5d1f2a6e9b0c47","account_sid":"AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80",
      "duration":"172","price":"-0.0280","price_unit":"USD","queue_time":"0","caller_name":"Zo\u00eb",
      "start_time":"Sun, 01 Mar 2026 18:42:11 +0000","end_time":null,"subresource_uris":{"events":"/x"},
      "brand_new_field":{"a":[1,2]}},
      {"sid":"CA4d2a8c6e1b9f4a0d7e3c5b2f8a1d6e93","duration":"","price":null}],
      "next_page_uri":"/2010-04-01/Accounts/AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80/Calls.json?Page=1&PageToken=PAx","page":0,"total":5}"#;

    #[test]
    fn decodes_every_field_and_keeps_unknown_ones() {
        let page = decode_page::<Call>(PAGE.as_bytes()).unwrap();
        assert_eq!(page.records.len(), 2);
        assert!(page.next_page_uri.unwrap().ends_with("PageToken=PAx"));
        let c = &page.records[0];
        assert_eq!(c.duration, Some(172));
        assert_eq!(c.price, Some(-28_000_000_000_000_000));
        assert_eq!(c.caller_name.as_deref(), Some("Zoë"));
        assert_eq!(c.end_time, None);
        assert_eq!(c.subresource_uris, Some(r#"{"events":"/x"}"#));
        assert_eq!(c.extra.len(), 1);
        assert_eq!(c.extra[0].0, "brand_new_field");
        let c = &page.records[1];
        assert_eq!((c.duration, c.price), (None, None));
    }

    #[test]
    fn a_bad_value_names_the_record_and_field() {
        let body = r#"{"calls":[{"sid":"CA1","price":"ten"}],"next_page_uri":null}"#;
        let err = decode_page::<Call>(body.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("CA1") && err.contains("price"), "{err}");
    }

    #[test]
    fn broken_json_is_malformed() {
        for body in [
            "",
            "{\"calls\":[{\"sid\":\"CA1\"",
            "<html>",
            "{\"accounts\":[]}",
        ] {
            let err = decode_page::<Call>(body.as_bytes()).unwrap_err();
            assert!(matches!(err, DecodeError::Malformed(_)), "{body}: {err}");
        }
    }
}
