//! The paging envelope (`docs/twilio-api.md` §3): the records and the link to the next page.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;

use super::wire::Key;
use super::{DecodeError, Record};

/// One decoded page: typed rows borrowing from the body, and where to go next.
#[derive(Debug)]
pub struct DecodedPage<R> {
    pub records: Vec<R>,
    /// Relative URI of the next page, verbatim; `None` on the last page.
    pub next_page_uri: Option<String>,
}

/// Decodes a page of `R` records. Other envelope keys (`page`, `uri`, `total`, …) are ignored.
pub fn decode_page<'a, R: Record<'a>>(body: &'a [u8]) -> Result<DecodedPage<R>, DecodeError> {
    decode_page_at_most(body, usize::MAX)
}

/// [`decode_page`] for a page that may hold at most `max` records: one more fails with
/// [`DecodeError::TooManyRecords`] as soon as it is read, before the rest of the page is
/// parsed, so an oversized page never costs more than `max` records of memory.
pub fn decode_page_at_most<'a, R: Record<'a>>(
    body: &'a [u8],
    max: usize,
) -> Result<DecodedPage<R>, DecodeError> {
    // Checked as UTF-8 once, in one pass over the whole page, rather than value by value as
    // they are borrowed: parsing a `str` then borrows every key and value unchecked.
    let text = simdutf8::compat::from_utf8(body).map_err(|e| {
        DecodeError::Malformed(serde::de::Error::custom(format!(
            "the page is not UTF-8: {e}"
        )))
    })?;
    let mut de = serde_json::Deserializer::from_str(text);
    let exceeded = Cell::new(false);
    let limit = Limit {
        max,
        exceeded: &exceeded,
    };
    let env = match Envelope::<R>(PhantomData, limit).deserialize(&mut de) {
        Err(_) if exceeded.get() => return Err(DecodeError::TooManyRecords { max }),
        env => env?,
    };
    de.end()?;
    let (records, failed) = env.records.ok_or_else(|| missing_key(R::ENVELOPE_KEY))?;
    // A page that parses but holds a value that cannot be typed fails after parsing, so a
    // cut-off page is always `Malformed` (retried), whatever its records hold.
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(DecodedPage {
        records,
        next_page_uri: env.next_page_uri,
    })
}

fn missing_key(key: &str) -> DecodeError {
    DecodeError::Malformed(serde::de::Error::custom(format!(
        "the page has no {key:?} array"
    )))
}

/// The typed records and the first record that could not be typed (typing stops there).
type Typed<R> = (Vec<R>, Option<DecodeError>);

struct RawEnvelope<R> {
    records: Option<Typed<R>>,
    next_page_uri: Option<String>,
}

/// The most records a page may hold, and where reading one more is noted.
#[derive(Clone, Copy)]
struct Limit<'l> {
    max: usize,
    exceeded: &'l Cell<bool>,
}

struct Envelope<'l, R>(PhantomData<R>, Limit<'l>);

impl<'de, R: Record<'de>> DeserializeSeed<'de> for Envelope<'_, R> {
    type Value = RawEnvelope<R>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, R: Record<'de>> Visitor<'de> for Envelope<'_, R> {
    type Value = RawEnvelope<R>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a page object with a {:?} array", R::ENVELOPE_KEY)
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut out = RawEnvelope {
            records: None,
            next_page_uri: None,
        };
        let mut next_seen = false;
        while let Some(Key(key)) = map.next_key()? {
            // A key given twice makes the page ambiguous (serde keeps the last): the records
            // or the link could be either, so the page is malformed rather than guessed at.
            if key == R::ENVELOPE_KEY {
                if out.records.is_some() {
                    return Err(serde::de::Error::duplicate_field(R::ENVELOPE_KEY));
                }
                out.records = Some(map.next_value_seed(Records::<R>(PhantomData, self.1))?);
            } else if key == "next_page_uri" {
                if std::mem::replace(&mut next_seen, true) {
                    return Err(serde::de::Error::duplicate_field("next_page_uri"));
                }
                out.next_page_uri = map
                    .next_value::<Option<String>>()?
                    .filter(|s| !s.is_empty());
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// The records array, each record typed as soon as it is parsed: no page of wire records is
/// ever held.
struct Records<'l, R>(PhantomData<R>, Limit<'l>);

impl<'de, R: Record<'de>> DeserializeSeed<'de> for Records<'_, R> {
    type Value = Typed<R>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, R: Record<'de>> Visitor<'de> for Records<'_, R> {
    type Value = Typed<R>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let limit = self.1;
        // serde_json gives no size hint: room for a full page up front (pages hold at most
        // 1000 records), instead of growing through five copies of it.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(limit.max).min(1000));
        let mut failed = None;
        let mut read = 0;
        while let Some(w) = seq.next_element::<R::Wire>()? {
            if read == limit.max {
                limit.exceeded.set(true);
                return Err(serde::de::Error::custom("too many records"));
            }
            read += 1;
            if failed.is_none() {
                match R::from_wire(w) {
                    Ok(r) => out.push(r),
                    Err(e) => failed = Some(e),
                }
            }
        }
        Ok((out, failed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::usage_records::UsageRecord;

    fn page(n: usize) -> String {
        let records: Vec<String> = (0..n)
            .map(|i| format!(r#"{{"category":"c{i}","start_date":"2026-03-01"}}"#))
            .collect();
        format!(
            r#"{{"usage_records":[{}],"next_page_uri":null}}"#,
            records.join(",")
        )
    }

    #[test]
    fn a_page_may_hold_up_to_max_records_and_not_one_more() {
        let full = page(3);
        let ok = decode_page_at_most::<UsageRecord>(full.as_bytes(), 3).unwrap();
        assert_eq!(ok.records.len(), 3);
        let err = decode_page_at_most::<UsageRecord>(full.as_bytes(), 2).unwrap_err();
        assert!(
            matches!(err, DecodeError::TooManyRecords { max: 2 }),
            "{err}"
        );
        // Reading stops at the extra record, before the cut end; below the limit a cut page
        // is malformed.
        let cut = &full[..full.len() - 3];
        assert!(matches!(
            decode_page_at_most::<UsageRecord>(cut.as_bytes(), 2),
            Err(DecodeError::TooManyRecords { .. })
        ));
        assert!(matches!(
            decode_page_at_most::<UsageRecord>(cut.as_bytes(), 5),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn keys_and_plain_values_borrow_from_the_page() {
        let body =
            r#"{"usage_records":[{"category":"calls","start_date":"2026-03-01","brand_new":1}]}"#;
        let page = decode_page::<UsageRecord>(body.as_bytes()).unwrap();
        let r = &page.records[0];
        assert!(matches!(r.category, std::borrow::Cow::Borrowed("calls")));
        assert_eq!(r.extra.len(), 1);
        assert!(
            matches!(r.extra[0].0, std::borrow::Cow::Borrowed("brand_new")),
            "an unknown key is not copied"
        );
        // A key with escapes is unescaped (and then owned), known or not.
        let body = r#"{"usage_records":[{"\u0063ategory":"calls","new\u005fone":2}]}"#;
        let page = decode_page::<UsageRecord>(body.as_bytes()).unwrap();
        assert_eq!(page.records[0].category, "calls");
        assert_eq!(page.records[0].extra[0].0, "new_one");
    }

    #[test]
    fn a_cut_page_is_malformed_even_after_a_value_that_cannot_be_typed() {
        let whole = r#"{"usage_records":[{"category":"c","start_date":"soon"},{"category":"d"}]}"#;
        assert!(matches!(
            decode_page::<UsageRecord>(whole.as_bytes()),
            Err(DecodeError::Field {
                field: "start_date",
                ..
            })
        ));
        let cut = &whole[..whole.len() - 5];
        assert!(matches!(
            decode_page::<UsageRecord>(cut.as_bytes()),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn a_key_given_twice_makes_the_page_malformed_whichever_key_it_is() {
        let rec = r#"{"category":"calls","start_date":"2026-03-01"}"#;
        let pages = [
            format!(r#"{{"usage_records":[{rec}],"usage_records":[]}}"#),
            format!(
                r#"{{"usage_records":[{rec}],"next_page_uri":"/x?Page=1","next_page_uri":null}}"#
            ),
            r#"{"usage_records":[{"category":"calls","price":"1.5","price":null}]}"#.to_owned(),
            r#"{"usage_records":[{"category":"calls","pri\u0063e":"1.5","price":"2"}]}"#.to_owned(),
            r#"{"usage_records":[{"category":"calls","brand_new":1,"brand_new":2}]}"#.to_owned(),
        ];
        for body in &pages {
            let err = decode_page::<UsageRecord>(body.as_bytes()).unwrap_err();
            assert!(
                matches!(&err, DecodeError::Malformed(_)) && err.to_string().contains("duplicate"),
                "{body}: {err}"
            );
        }
        // Each key once, null included, is a page.
        let once = r#"{"usage_records":[{"category":"calls","price":null,"brand_new":1}],"next_page_uri":null}"#;
        assert_eq!(
            decode_page::<UsageRecord>(once.as_bytes())
                .unwrap()
                .records
                .len(),
            1
        );
    }

    #[test]
    fn a_page_that_is_not_utf8_is_malformed() {
        let mut body = page(2).into_bytes();
        let at = body.iter().position(|b| *b == b'c').unwrap();
        body[at] = 0xff;
        let err = decode_page::<UsageRecord>(&body).unwrap_err();
        assert!(
            matches!(&err, DecodeError::Malformed(_)) && err.to_string().contains("UTF-8"),
            "{err}"
        );
    }
}
