//! A record declared once: from its field list, [`record!`] makes the wire form (each known
//! field as a borrowed raw JSON value, unknown ones kept), the typed row and the typing
//! between them.
//!
//! The wire form has its own visitor instead of `#[serde(flatten)]` because flatten buffers
//! every value and cannot keep `RawValue`s; this one keeps everything borrowed from the page.

use std::borrow::Cow;

use serde_json::value::RawValue;

/// Fields of a record that the code does not know (yet): name and raw JSON.
pub type Extra<'a> = Vec<(Cow<'a, str>, &'a RawValue)>;

/// An object key, borrowed from the page unless it holds escapes (serde's own `Cow<str>`
/// always allocates).
pub struct Key<'a>(pub Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Declares a record from its fields, `name: Kind "doc"` in file order, where `Kind` is one of
/// [`super::field`]'s kinds and the JSON key is the field's name:
///
/// - `$wire`: one `Option<&RawValue>` per field plus `extra`, deserialized from a page;
/// - `$row`: one typed value per field (`<Kind as Field>::Value`) plus `extra`;
/// - `Record for $row`, typing each field with its kind; the first field that cannot be
///   typed fails the record, named by `$wire::record_name` (written next to the declaration).
///
/// The same list also declares the record's columns (`batch::columns_of!`); resources keep it
/// in a table macro (`decode::calls::call_columns!`) that both expand.
macro_rules! record {
    (
        $(#[$meta:meta])*
        $row:ident / $wire:ident in $envelope:literal {
            $($field:ident: $kind:ident $doc:literal),+ $(,)?
        }
    ) => {
        /// The record as it arrives: every field raw, and possibly null or absent.
        #[derive(Default, Debug)]
        pub struct $wire<'a> {
            $(pub $field: Option<&'a serde_json::value::RawValue>,)+
            pub extra: $crate::decode::wire::Extra<'a>,
        }

        impl $wire<'_> {
            #[cold]
            fn fail(&self, field: &'static str, reason: $crate::decode::value::ValueError) -> $crate::decode::DecodeError {
                $crate::decode::DecodeError::Field {
                    record: $crate::telemetry::escape_controls(&self.record_name()).into_owned(),
                    field,
                    reason,
                }
            }
        }

        impl<'de: 'a, 'a> serde::Deserialize<'de> for $wire<'a> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V<'a>(std::marker::PhantomData<&'a ()>);
                impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
                    type Value = $wire<'a>;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($row), " object"))
                    }
                    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                        let mut out = $wire::default();
                        // A field given twice makes the record ambiguous (which value is
                        // it?): the page is malformed, as for any JSON we cannot read as one
                        // record, rather than keeping one of the values.
                        while let Some($crate::decode::wire::Key(key)) = map.next_key()? {
                            match key.as_ref() {
                                $(stringify!($field) => {
                                    if out.$field.is_some() {
                                        return Err(serde::de::Error::duplicate_field(stringify!($field)));
                                    }
                                    out.$field = Some(map.next_value()?)
                                })+
                                _ => {
                                    if out.extra.iter().any(|(k, _)| *k == key) {
                                        return Err(serde::de::Error::custom(format_args!("duplicate field {:?}", key)));
                                    }
                                    let v: &'de serde_json::value::RawValue = map.next_value()?;
                                    out.extra.push((key, v));
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V(std::marker::PhantomData))
            }
        }

        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $row<'a> {
            $(
                #[doc = $doc]
                pub $field: <$crate::decode::field::$kind as $crate::decode::field::Field<'a>>::Value,
            )+
            /// Fields the API added after this code was written.
            pub extra: $crate::decode::wire::Extra<'a>,
        }

        impl<'a> $crate::decode::Record<'a> for $row<'a> {
            const ENVELOPE_KEY: &'static str = $envelope;
            type Wire = $wire<'a>;

            fn from_wire(w: $wire<'a>) -> Result<Self, $crate::decode::DecodeError> {
                use $crate::decode::field::Field as _;
                Ok($row {
                    $(
                        $field: $crate::decode::field::$kind::read(w.$field)
                            .map_err(|reason| w.fail(stringify!($field), reason))?,
                    )+
                    extra: w.extra,
                })
            }
        }
    };
}

pub(crate) use record;
