//! The database: connected accounts, export runs, partitions written, windows that failed, and
//! the checkpoints, leases and job runs of scheduled exports. The only module that contains SQL.
//!
//! One API over two backends through sqlx's `Any` driver: SQLite (the default, a file created
//! on first use, WAL) and Postgres (shared state for several workers). Queries use `$n`
//! placeholders, which both understand. Migrations are embedded per backend and applied on
//! connect. Times are stored as RFC 3339 UTC text so that both backends read the same.

mod accounts;
mod checkpoints;
mod deletions;
mod lease_clock;
mod leases;
mod many;
mod modes;
mod partitions;
mod runs;
mod url;

pub use accounts::{Account, AccountStatus, NewAccount, Skip, TwilioStatus, UnknownStatus};
pub use checkpoints::{CheckpointRecord, JobRunRecord, PairOutcome};
pub use deletions::{Deletion, DeletionReason, DeletionRequest};
pub use lease_clock::LeaseClock;
pub use leases::{LeaseGrant, LeaseHolder, LeaseRecord, Standing};
pub use modes::ModeRule;
pub use partitions::{
    ModeSpan, PairMode, PairModes, PartitionRecord, PartitionSummary, WindowFailure,
};
pub use runs::{RunId, RunOutcome, RunRecord, RunTotals};
pub use url::{DatabaseUrl, UnknownDatabase};

use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};

use crate::domain::Resource;
use crate::redact::url as redact_url;

/// What the caller can do about a database error.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot open the database {url}: {cause}")]
    Open { url: String, cause: sqlx::Error },
    #[error("cannot migrate the database {url}: {cause}")]
    Migrate {
        url: String,
        cause: sqlx::migrate::MigrateError,
    },
    /// A stored value this version cannot read: the database was changed by something else.
    #[error("the database holds an unreadable {what}: {value:?}")]
    Corrupt { what: &'static str, value: String },
    #[error("database error: {0}")]
    Other(sqlx::Error),
}

// Messages show their cause, so no variant also returns it as `source()`.
impl From<sqlx::Error> for RegistryError {
    fn from(e: sqlx::Error) -> Self {
        Self::Other(e)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The registry. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    pool: AnyPool,
    /// What lease expiry reads (the system clock unless a test shifts it).
    lease_clock: LeaseClock,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Every SQLite connection: WAL lets readers (status) run beside a writer; the busy timeout
/// makes concurrent processes wait instead of failing.
const SQLITE_PRAGMAS: &str = "pragma journal_mode = wal; pragma busy_timeout = 10000; pragma synchronous = normal; pragma foreign_keys = on;";

impl Registry {
    /// Opens (creating a SQLite file if missing) and migrates.
    pub async fn connect(url: &str) -> Result<Self, RegistryError> {
        sqlx::any::install_default_drivers();
        let shown = redact_url(url);
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let open = |source| RegistryError::Open {
            url: shown.clone(),
            cause: source,
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(open)?
            .disable_statement_logging();
        // One connection first: a file that is not a database, or a refused login, is then
        // reported at once with its cause (the pool would retry until its timeout, and say
        // only that it timed out).
        let mut first = options.connect().await.map_err(open)?;
        if backend == Backend::Sqlite {
            first.execute(SQLITE_PRAGMAS).await.map_err(open)?;
        }
        let _ = first.close().await;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            // sqlx pings a connection before lending it out, in case the server dropped it. A
            // SQLite connection is a file this process holds open, which cannot go stale; the
            // ping was a round trip to its worker thread before every query (a tenth of an
            // export's thread switches over many small days).
            .test_before_acquire(backend != Backend::Sqlite)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(SQLITE_PRAGMAS).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(open)?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|source| RegistryError::Migrate {
                url: shown.clone(),
                cause: source,
            })?;
        Ok(Self {
            pool,
            lease_clock: LeaseClock::system(),
        })
    }

    /// This registry with leases that expire by `clock` (tests move it instead of waiting).
    pub fn with_lease_clock(self, clock: LeaseClock) -> Self {
        Self {
            lease_clock: clock,
            ..self
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A stored value parsed into its domain type; one that does not parse is corrupt.
pub(crate) fn parsed<T: FromStr>(what: &'static str, value: String) -> Result<T, RegistryError> {
    match value.parse() {
        Ok(v) => Ok(v),
        Err(_) => Err(RegistryError::Corrupt { what, value }),
    }
}

/// [`parsed`] for a value that may be null.
pub(crate) fn parsed_opt<T: FromStr>(
    what: &'static str,
    value: Option<String>,
) -> Result<Option<T>, RegistryError> {
    value.map(|v| parsed(what, v)).transpose()
}

/// A resource as stored and shown (`calls`, `usage_records`).
fn table_name<S: serde::Serializer>(r: &Resource, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.table_name())
}

/// Now, as stored.
pub(crate) fn now_text() -> String {
    instant_text(chrono::Utc::now())
}

/// An instant as the registry stores it and `status --json` shows it: RFC 3339 in UTC, to the
/// millisecond, with `Z` (`2026-03-08T09:00:00.000Z`).
pub fn instant_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A registry in a SQLite file of a new temporary directory (kept while the directory is).
#[cfg(test)]
pub(crate) async fn temporary() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    let registry = Registry::connect(&url).await.unwrap();
    (dir, registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sqlite_connection_is_lent_without_a_ping_first() {
        let (_dir, registry) = temporary().await;
        assert!(!registry.pool.options().get_test_before_acquire());
    }
}
