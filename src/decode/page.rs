//! The paging envelope (`docs/twilio-api.md` §3): the records and the link to the next page.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;

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
    let mut de = serde_json::Deserializer::from_slice(body);
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
    let records = env
        .records
        .ok_or_else(|| missing_key(R::ENVELOPE_KEY))?
        .into_iter()
        .map(R::from_wire)
        .collect::<Result<Vec<_>, _>>()?;
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

struct RawEnvelope<W> {
    records: Option<Vec<W>>,
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
    type Value = RawEnvelope<R::Wire>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, R: Record<'de>> Visitor<'de> for Envelope<'_, R> {
    type Value = RawEnvelope<R::Wire>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a page object with a {:?} array", R::ENVELOPE_KEY)
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut out = RawEnvelope {
            records: None,
            next_page_uri: None,
        };
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == R::ENVELOPE_KEY {
                out.records = Some(map.next_value_seed(Records::<R::Wire>(PhantomData, self.1))?);
            } else if key == "next_page_uri" {
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

struct Records<'l, W>(PhantomData<W>, Limit<'l>);

impl<'de, W: serde::Deserialize<'de>> DeserializeSeed<'de> for Records<'_, W> {
    type Value = Vec<W>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, W: serde::Deserialize<'de>> Visitor<'de> for Records<'_, W> {
    type Value = Vec<W>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let limit = self.1;
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(64).min(1000).min(limit.max));
        while let Some(w) = seq.next_element()? {
            if out.len() == limit.max {
                limit.exceeded.set(true);
                return Err(serde::de::Error::custom("too many records"));
            }
            out.push(w);
        }
        Ok(out)
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
}
