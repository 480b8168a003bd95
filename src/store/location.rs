//! Where output goes, parsed: a local directory or an object store URL.

use std::fmt;
use std::path::PathBuf;

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
                    Ok(Self::Remote(url))
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
