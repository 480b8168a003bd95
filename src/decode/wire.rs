//! The wire form of a record: each known field as a borrowed raw JSON value, unknown ones kept.
//!
//! Written with a macro instead of `#[serde(flatten)]` because flatten buffers every value and
//! cannot keep `RawValue`s; this visitor keeps everything borrowed from the page.

use std::borrow::Cow;

use serde_json::value::RawValue;

/// Fields of a record that the code does not know (yet): name and raw JSON.
pub type Extra<'a> = Vec<(Cow<'a, str>, &'a RawValue)>;

/// Declares a wire struct with one `Option<&RawValue>` per known field plus `extra`.
macro_rules! wire_record {
    ($(#[$doc:meta])* $name:ident { $($field:ident => $json:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Default, Debug)]
        pub struct $name<'a> {
            $(pub $field: Option<&'a serde_json::value::RawValue>,)+
            pub extra: $crate::decode::wire::Extra<'a>,
        }

        impl<'de: 'a, 'a> serde::Deserialize<'de> for $name<'a> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V<'a>(std::marker::PhantomData<&'a ()>);
                impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
                    type Value = $name<'a>;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " object"))
                    }
                    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                            match key.as_ref() {
                                $($json => out.$field = Some(map.next_value()?),)+
                                _ => {
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
    };
}

pub(crate) use wire_record;
