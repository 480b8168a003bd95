//! The registry's database URL.

use std::fmt;
use std::path::Path;

/// A URL that names no database we can keep a registry in; shown with its passwords hidden.
#[derive(Debug, thiserror::Error)]
pub enum UnknownDatabase {
    #[error("{shown:?} is neither sqlite://… nor postgres://…")]
    Scheme { shown: String },
    /// An in-memory SQLite database: gone, with every account registered in it, when the
    /// process ends.
    #[error("{shown:?} names no file: an in-memory registry is lost when the command ends; name a file, as in sqlite://twilio-export.db")]
    InMemory { shown: String },
}

/// The registry's database URL: `sqlite:…` or `postgres://…`. It may carry a password (in
/// its user-info or as `?password=`), so its `Display` and `Debug` show it with every
/// password hidden ([`crate::redact::url`]); only [`DatabaseUrl::expose`] gives the URL to
/// connect with.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub const DEFAULT: &'static str = "sqlite://twilio-export.db";

    pub fn parse(text: &str) -> Result<Self, UnknownDatabase> {
        let shown = || crate::redact::url(text);
        if let Some(rest) = text.strip_prefix("sqlite:") {
            let file = rest
                .trim_start_matches("//")
                .split('?')
                .next()
                .unwrap_or_default();
            if file.is_empty() || file == ":memory:" || rest.contains("mode=memory") {
                return Err(UnknownDatabase::InMemory { shown: shown() });
            }
            return Ok(Self(text.to_owned()));
        }
        let known = ["postgres://", "postgresql://"];
        if known.iter().any(|scheme| text.starts_with(scheme)) {
            Ok(Self(text.to_owned()))
        } else {
            Err(UnknownDatabase::Scheme { shown: shown() })
        }
    }

    /// A SQLite file.
    pub fn sqlite_file(path: &Path) -> Self {
        Self(format!("sqlite://{}", path.display()))
    }

    /// The URL with its password, for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Default for DatabaseUrl {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::redact::url(&self.0))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}
