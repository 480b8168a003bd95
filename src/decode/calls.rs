//! Call records (`docs/twilio-api.md` §4.2) typed for export.

use super::value::{required_text, ValueError};
use super::wire::record;

/// The Call resource, declared once: each column in file order as `name: Kind "doc"`, where
/// the JSON key is the name and `Kind` one of [`super::field`]'s. [`record!`] makes
/// [`CallWire`] and [`Call`] of it, `batch::calls` the column list and the append (and the
/// `extra` column after these). Adding a field is one line here.
macro_rules! call_columns {
    ($then:ident) => {
        $then! {
            /// A typed call. Timestamps are UTC microseconds, `price` is scaled by 10^18.
            Call / CallWire in "calls" {
                sid: Key                "Unique id of the call (CA followed by 32 hex digits).",
                account_sid: Text       "The account that owns the call (AC…).",
                parent_call_sid: Text   "The call that created this leg, for child legs (CA…).",
                date_created: Timestamp "When the call resource was created (UTC).",
                date_updated: Timestamp "When the call resource was last updated (UTC).",
                start_time: Timestamp   "When the call started (UTC); null before dialing. The partition day is its UTC date.",
                end_time: Timestamp     "When the call ended (UTC); null unless it completed.",
                duration: Int64         "Length of the call in whole seconds; null when Twilio sends it empty.",
                price: Decimal          "Charge for the call in price_unit, exact; negative for a charge; null until priced.",
                price_unit: Text        "Currency of price (ISO 4217, e.g. USD).",
                status: Text            "queued, ringing, in-progress, completed, busy, failed, no-answer or canceled.",
                direction: Text         "inbound, outbound-api, outbound-dial, trunking-terminating or trunking-originating.",
                answered_by: Text       "Answering machine detection result (human, machine_start, …).",
                to: Personal                "Who was called: E.164 number, SIP address, client:name or sim:SID.",
                from: Personal              "Who called: E.164 number, SIP address, client:name or sim:SID.",
                to_formatted: Personal      "to, formatted for display.",
                from_formatted: Personal    "from, formatted for display.",
                phone_number_sid: Text  "For inbound calls, the IncomingPhoneNumber that received it (PN…).",
                group_sid: Text         "The group the call belongs to (GP…).",
                trunk_sid: Text         "The SIP trunk used (TK…).",
                forwarded_from: Personal    "The forwarding number, for forwarded inbound calls.",
                caller_name: Personal       "Caller name from a CNAM lookup, when enabled.",
                queue_time: Int64       "Wait before the call was placed, in milliseconds.",
                api_version: Text       "API version used to create the call.",
                uri: Text               "URI of the call resource, relative to https://api.twilio.com.",
                subresource_uris: Json  "Subresources of the call (name → relative URI), as a JSON object.",
            }
        }
    };
}

pub(crate) use call_columns;

call_columns!(record);

impl CallWire<'_> {
    /// How a decode error names the call: by its sid.
    fn record_name(&self) -> String {
        match required_text(self.sid) {
            Ok(sid) => sid.into_owned(),
            Err(ValueError::Missing) => "(without sid)".to_owned(),
            Err(_) => "(with an unreadable sid)".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode_page, DecodeError};

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

    /// A phone number or a name that cannot be typed fails its record without the value
    /// (errors are logged and recorded; the value may be a customer's number).
    #[test]
    fn a_bad_personal_value_is_not_quoted() {
        for (field, value) in [
            ("caller_name", r#"["Jane Secretname"]"#),
            ("forwarded_from", r#"{"n":"+15550001111"}"#),
            ("to", r#""\ud800+15550001111""#),
        ] {
            let body =
                format!(r#"{{"calls":[{{"sid":"CA1","{field}":{value}}}],"next_page_uri":null}}"#);
            let err = decode_page::<Call>(body.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(err.contains("CA1") && err.contains(field), "{err}");
            assert!(
                !err.contains("Secretname") && !err.contains("5550001111"),
                "{err}"
            );
        }
        let body = r#"{"calls":[{"sid":"CA1","status":["odd"]}],"next_page_uri":null}"#;
        let err = decode_page::<Call>(body.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("odd"),
            "other columns still say what they got: {err}"
        );
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
