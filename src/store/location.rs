//! Where output goes, parsed: a local directory or an object store URL.

use std::fmt;
use std::path::PathBuf;

use object_store::path::Path as ObjectPath;
use url::Url;

/// An output location that cannot be used. URLs are shown with their passwords hidden.
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    #[error("the location is empty")]
    Empty,
    #[error(
        "unsupported scheme {scheme:?} in {shown:?} (expected a directory, file://, s3://, gs://, az://, azure://, adl://, abfs:// or abfss://)"
    )]
    UnsupportedScheme { scheme: String, shown: String },
    /// `file://HOST/…` names a directory on another machine; only `localhost` (or no host,
    /// `file:///…`) is this one.
    #[error("{shown:?} names a directory on host {host:?}: use file:///ABSOLUTE/PATH (or file://localhost/ABSOLUTE/PATH) or a plain path")]
    RemoteFileHost { host: String, shown: String },
    /// The URL, or its path percent-decoded, holds a control character, or bytes that are not
    /// UTF-8: no prefix of object names.
    #[error("the path of {shown:?} is not a usable prefix of object names: the URL or its path percent-decoded holds a control character or bytes that are not UTF-8")]
    BadPrefix { shown: String },
    /// A query or a fragment names no object and sets nothing (the stores take their settings
    /// from the environment): `s3://b/a#b` would write under `a`, `?sig=…` authenticate nothing.
    #[error("{shown:?} has a query or a fragment, which no store reads: give the store's settings in AWS_*, GOOGLE_* or AZURE_* variables (a SAS token in AZURE_STORAGE_SAS_KEY), and write a ? or # in a name as %3F or %23")]
    QueryOrFragment { shown: String },
}

/// Where output goes. `Display` and `Debug` hide any password in a URL.
#[derive(Clone, PartialEq, Eq)]
pub enum OutputLocation {
    /// A local directory.
    Local(PathBuf),
    /// An object store URL (`s3://`, `gs://`, `az://`, …) handled by `object_store`.
    Remote(Url),
}

impl OutputLocation {
    pub fn parse(value: &str) -> Result<Self, LocationError> {
        if value.is_empty() {
            return Err(LocationError::Empty);
        }
        if let Some(rest) = value.strip_prefix("file://") {
            return local_file_url(value, rest);
        }
        match Url::parse(value) {
            Ok(url) if url.scheme().len() > 1 => match url.scheme() {
                "s3" | "s3a" | "gs" | "az" | "azure" | "adl" | "abfs" | "abfss" => {
                    if url.query().is_some() || url.fragment().is_some() {
                        return Err(LocationError::QueryOrFragment {
                            shown: shown_base(&url),
                        });
                    }
                    // The URL parser drops a raw tab or newline: refused before it does.
                    match object_prefix(&url) {
                        Some(_) if !value.chars().any(char::is_control) => Ok(Self::Remote(url)),
                        _ => Err(LocationError::BadPrefix {
                            shown: crate::redact::url(value),
                        }),
                    }
                }
                other => Err(LocationError::UnsupportedScheme {
                    scheme: other.to_owned(),
                    shown: crate::redact::url(value),
                }),
            },
            // No scheme, or a one-letter one (a Windows drive): a path.
            _ => Ok(Self::Local(PathBuf::from(value))),
        }
    }
}

/// The prefix of every object name under `url`: its path, percent-decoded (`s3://b/my%20x`,
/// as a URL writes `my x`, is the prefix `my x`, not `my%20x`), without empty segments
/// (`a//b` is `a/b`).
pub(super) fn object_prefix(url: &Url) -> Option<ObjectPath> {
    let segments: Vec<&str> = url.path().split('/').filter(|s| !s.is_empty()).collect();
    let prefix = ObjectPath::from_url_path(segments.join("/")).ok()?;
    // `Path` refuses C0 controls only; U+0080–U+009F (a terminal's CSI among them) too.
    (!prefix.as_ref().chars().any(char::is_control)).then_some(prefix)
}

/// The prefix versions before this one took from `url`: its path encoded a second time
/// (`my%20x` became `my%2520x`, `~x` became `%7Ex`), where their files of that URL are.
pub(super) fn prefix_of_old(url: &Url) -> ObjectPath {
    ObjectPath::from(url.path().trim_matches('/'))
}

/// `url` as messages show it: without its query and fragment (where a signature may be), its
/// password hidden, without a trailing `/`.
pub(super) fn shown_base(url: &Url) -> String {
    let mut base = url.clone();
    base.set_query(None);
    base.set_fragment(None);
    crate::redact::url(base.as_str().trim_end_matches('/'))
}

/// The directory of `file://{rest}`: the authority must be empty or `localhost`, and what
/// follows it is an absolute path (`file:///x` and `file://localhost/x` are both `/x`).
fn local_file_url(value: &str, rest: &str) -> Result<OutputLocation, LocationError> {
    let (host, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if !(host.is_empty() || host.eq_ignore_ascii_case("localhost")) {
        return Err(LocationError::RemoteFileHost {
            host: host.to_owned(),
            shown: crate::redact::url(value),
        });
    }
    Ok(OutputLocation::Local(PathBuf::from(path)))
}

impl fmt::Display for OutputLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(p) => write!(f, "{}", p.display()),
            Self::Remote(u) => f.write_str(&crate::redact::url(u.as_str())),
        }
    }
}

impl fmt::Debug for OutputLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(p) => f.debug_tuple("Local").field(p).finish(),
            Self::Remote(_) => f.debug_tuple("Remote").field(&self.to_string()).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_prefix_is_the_urls_path_decoded_and_must_name_objects() {
        let prefix = |value: &str| match OutputLocation::parse(value).unwrap() {
            OutputLocation::Remote(url) => object_prefix(&url).unwrap().to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(prefix("s3://bucket/my%20prefix/x"), "my prefix/x");
        assert_eq!(prefix("s3://bucket/my prefix~1"), "my prefix~1");
        assert_eq!(prefix("az://cont/export%C3%A9"), "export\u{e9}");
        assert_eq!(prefix("s3://bucket/"), "");
        assert_eq!(prefix("s3://bucket/a//b/"), "a/b");
        for value in [
            "s3://u:pw@bucket/a%0Ab",
            "s3://bucket/a%FFb",
            "s3://bucket/t\tab",
            "s3://bucket/n\nl",
            "s3://bucket/c1%C2%9Bx",
        ] {
            let err = OutputLocation::parse(value).unwrap_err();
            assert!(
                matches!(err, LocationError::BadPrefix { .. }),
                "{value}: {err}"
            );
            assert!(!err.to_string().contains("pw"), "{err}");
        }
    }

    /// No store reads a URL's query or fragment: `#b` would silently cut the prefix, and a
    /// signature in the query would authenticate nothing.
    #[test]
    fn a_query_or_a_fragment_is_refused_without_its_contents() {
        for value in [
            "s3://bucket/a#b",
            "s3://u:pw@bucket/p?x=1",
            "s3://bucket/p?",
            "az://cont/x?sv=2024&sig=SIG",
            "gs://bucket/p#",
        ] {
            let err = OutputLocation::parse(value).unwrap_err();
            assert!(
                matches!(err, LocationError::QueryOrFragment { .. }),
                "{value}: {err}"
            );
            let said = err.to_string();
            assert!(!said.contains("pw") && !said.contains("SIG"), "{said}");
        }
        assert!(OutputLocation::parse("s3://bucket/a%23b%3Fc").is_ok());
    }

    #[test]
    fn a_file_url_is_an_absolute_path_on_this_host() {
        for value in ["file:///srv/export", "file://localhost/srv/export"] {
            assert_eq!(
                OutputLocation::parse(value).unwrap(),
                OutputLocation::Local(PathBuf::from("/srv/export")),
                "{value}"
            );
        }
        assert_eq!(
            OutputLocation::parse("file://localhost").unwrap(),
            OutputLocation::Local(PathBuf::from("/"))
        );
        for value in ["file://otherhost/srv/export", "file://export"] {
            let err = OutputLocation::parse(value).unwrap_err();
            assert!(
                matches!(err, LocationError::RemoteFileHost { .. }),
                "{value}: {err}"
            );
        }
    }
}
