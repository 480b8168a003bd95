//! The paging envelope (`shared/twilio/README.md` §3): the records and the link to the next page.

use std::borrow::Cow;
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
    let mut de = serde_json::Deserializer::from_slice(body);
    let env = Envelope::<R>(PhantomData).deserialize(&mut de)?;
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

struct Envelope<R>(PhantomData<R>);

impl<'de, R: Record<'de>> DeserializeSeed<'de> for Envelope<R> {
    type Value = RawEnvelope<R::Wire>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, R: Record<'de>> Visitor<'de> for Envelope<R> {
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
                out.records = Some(map.next_value_seed(Records::<R::Wire>(PhantomData))?);
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

struct Records<W>(PhantomData<W>);

impl<'de, W: serde::Deserialize<'de>> DeserializeSeed<'de> for Records<W> {
    type Value = Vec<W>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, W: serde::Deserialize<'de>> Visitor<'de> for Records<W> {
    type Value = Vec<W>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(64).min(1000));
        while let Some(w) = seq.next_element()? {
            out.push(w);
        }
        Ok(out)
    }
}
