//! Configuration in two phases: the raw options (flags, env, TOML file; one definition in
//! `cli::options`) and the validated [`Config`] that every command works from. `Config`
//! holds the stages' own settings types (`domain::AuthToken`, `fetch::Limits`,
//! `store::OutputLocation`, `registry::DatabaseUrl`, `telemetry::LogFormat`) and builds them.
//!
//! Precedence is flag > env > file > default. Clap resolves flag and env; the file only fills
//! what both left unset. Nothing here touches the network or the database; a bad value fails
//! before any work starts.

mod file;
mod secret;

use secret::{auth_token, pseudonym_key, Layered, Secret};

use std::ops::RangeInclusive;
use std::path::PathBuf;

use secrecy::ExposeSecret;
use url::Url;

use crate::cli::{GlobalArgs, LimitOptions, Number, Settings};
use crate::domain::{AuthToken, ConnectAppSid};
use crate::fetch::limiter::{
    Limits, DEFAULT_MAX_IN_FLIGHT, DEFAULT_RATE_LIMIT, DEFAULT_RETRY_BUDGET, MAX_IN_FLIGHT,
    RATE_LIMITS, RETRY_BUDGETS,
};
use crate::pseudonym::Pseudonymization;
use crate::registry::DatabaseUrl;
use crate::store::OutputLocation;
use crate::telemetry::LogFormat;

/// `--purge-deauthorized-after`, in days: a day to a hundred years.
const PURGE_AFTER_DAYS: RangeInclusive<u32> = 1..=36_500;

/// A bad option value; the message names the option and where it came from.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

/// The validated configuration. Its `Debug` shows no secret.
#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub output: OutputLocation,
    pub api_base: Url,
    /// Absent unless given; commands that call the API ask for it with [`Config::auth_token`].
    auth_token: Option<AuthToken>,
    pub connect_app_sid: Option<ConnectAppSid>,
    pub jobs_dir: PathBuf,
    /// Where `run`, `backfill` and `demo` write their metrics at the end; none unless given.
    pub metrics_file: Option<PathBuf>,
    pub log_format: LogFormat,
    pub limits: Limits,
    /// Whether exports write phone numbers and names as pseudonyms (`--pseudonymize`).
    pseudonymize: bool,
    /// Where the pseudonym key is, unread: only an export that uses it reads and checks it
    /// ([`Config::pseudonyms`]).
    pseudonym_key: Option<Layered>,
    /// `run` and `schedule` purge accounts deauthorized more than this many days ago.
    pub purge_deauthorized_after: Option<u32>,
}

impl Config {
    /// Merges the options a command was given (flags/env) with the optional TOML file and
    /// validates every value; what neither sets takes its default.
    pub fn load(global: &GlobalArgs, given: Settings) -> Result<Self, ConfigError> {
        let file = match &global.config {
            Some(path) => file::read(path)?,
            None => Settings::default(),
        };
        // A secret given directly or as a file is taken from one layer: flag/env, else file.
        let token = Layered::pick(
            Secret::of(&given.api.auth_token, &given.api.auth_token_file),
            Secret::of(&file.api.auth_token, &file.api.auth_token_file),
            global.config.as_deref(),
        );
        let pseudonym_key = Layered::pick(
            Secret::of(
                &given.pseudonym.pseudonym_key,
                &given.pseudonym.pseudonym_key_file,
            ),
            Secret::of(
                &file.pseudonym.pseudonym_key,
                &file.pseudonym.pseudonym_key_file,
            ),
            global.config.as_deref(),
        );
        let mut set = given.or(file);
        set.log = global.log.clone().or(set.log);
        let limits = limits(&set.limits)?;
        let purge_deauthorized_after = number(
            "purge-deauthorized-after",
            &set.purge.purge_deauthorized_after,
            PURGE_AFTER_DAYS,
        )?;

        let database_url = match &set.database.database_url {
            Some(url) => DatabaseUrl::parse(url.expose_secret())
                .map_err(|e| ConfigError::new(format!("database-url: {e}")))?,
            None => DatabaseUrl::default(),
        };
        let output = OutputLocation::parse(set.output.output.as_deref().unwrap_or("./export"))
            .map_err(|e| ConfigError::new(format!("output: {e}")))?;
        let api_base = api_base(set.api.api_base.as_deref())?;
        let auth_token = token.map(|t| auth_token(&t)).transpose()?;
        let connect_app_sid = set
            .connect_app
            .connect_app_sid
            .map(|s| ConnectAppSid::parse(&s))
            .transpose()
            .map_err(|e| ConfigError::new(format!("connect-app-sid: {e}")))?;
        let jobs_dir = set.jobs.jobs_dir.unwrap_or_else(|| PathBuf::from("./jobs"));
        let log_format = match set.log.log_format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(format!(
                    "log-format: {other:?} is neither text nor json"
                )))
            }
        };

        Ok(Self {
            database_url,
            output,
            api_base,
            auth_token,
            connect_app_sid,
            jobs_dir,
            metrics_file: set.metrics.metrics_file,
            log_format,
            limits,
            pseudonymize: set.pseudonym.pseudonymize.unwrap_or(false),
            pseudonym_key,
            purge_deauthorized_after,
        })
    }

    /// What exports write: pseudonyms under the key when `--pseudonymize` is on or `jobs_turn_on`
    /// (a job file sets `pseudonymize = true`), else values in clear. The key is read and
    /// checked only then; otherwise it is left unread.
    pub fn pseudonyms(&self, jobs_turn_on: bool) -> Result<Pseudonymization, ConfigError> {
        let key = match &self.pseudonym_key {
            Some(source) if self.pseudonymize || jobs_turn_on => Some(pseudonym_key(source)?),
            _ => None,
        };
        Pseudonymization::new(self.pseudonymize, key)
            .map_err(|e| ConfigError::new(format!("pseudonymize: {e}")))
    }

    /// The Auth Token, or a configuration error saying how to give it.
    pub fn auth_token(&self) -> Result<&AuthToken, ConfigError> {
        self.auth_token.as_ref().ok_or_else(|| {
            ConfigError::new(
                "no auth token: set TWILIO_AUTH_TOKEN or TWILIO_AUTH_TOKEN_FILE (or --auth-token-file)",
            )
        })
    }

    /// The same configuration with another token (the demo brings its own).
    pub fn with_auth_token(mut self, token: AuthToken) -> Self {
        self.auth_token = Some(token);
        self
    }
}

/// The API base: an http(s) URL with a host and without credentials (ours go in a header).
fn api_base(given: Option<&str>) -> Result<Url, ConfigError> {
    let raw = given.unwrap_or("https://api.twilio.com");
    let shown = crate::redact::url(raw);
    let url = Url::parse(raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| ConfigError::new(format!("api-base: {shown:?} is not an http(s) URL")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::new(format!(
            "api-base: {shown:?} carries credentials; give the token as TWILIO_AUTH_TOKEN instead"
        )));
    }
    Ok(url)
}

fn limits(given: &LimitOptions) -> Result<Limits, ConfigError> {
    let rate_limit = number("rate-limit", &given.rate_limit, RATE_LIMITS)?;
    let max_in_flight = number("max-in-flight", &given.max_in_flight, MAX_IN_FLIGHT)?;
    let global_rate_limit = number("global-rate-limit", &given.global_rate_limit, RATE_LIMITS)?;
    let retry_budget = number("retry-budget", &given.retry_budget, RETRY_BUDGETS)?;
    Ok(Limits {
        rate_limit: rate_limit.unwrap_or(DEFAULT_RATE_LIMIT),
        max_in_flight: max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        global_rate_limit,
        retry_budget: retry_budget
            .map(|s| std::time::Duration::from_secs(s.into()))
            .unwrap_or(DEFAULT_RETRY_BUDGET),
    })
}

/// Reads the log format early, before the rest is validated, so that even a configuration
/// error is logged in the format asked for: the flag or the environment, else the `--config`
/// file's `log_format` (read on its own: another key's mistake does not hide it). A value that
/// is not `json`, or a file that cannot be read, gives text; [`Config::load`] then says why.
pub fn peek_log_format(args: &GlobalArgs) -> LogFormat {
    let file = || args.config.as_deref().and_then(file::peek_log_format);
    match args.log.log_format.clone().or_else(file).as_deref() {
        Some("json") => LogFormat::Json,
        _ => LogFormat::Text,
    }
}

/// A whole number within `range`, if one was given; the message gives the range.
fn number(
    name: &str,
    given: &Option<Number>,
    range: RangeInclusive<u32>,
) -> Result<Option<u32>, ConfigError> {
    let allowed = format!("a whole number from {} to {}", range.start(), range.end());
    let Some(Number(raw)) = given else {
        return Ok(None);
    };
    let raw = raw.trim();
    match raw.parse::<u64>() {
        Ok(n) => u32::try_from(n)
            .ok()
            .filter(|n| range.contains(n))
            .map(Some)
            .ok_or_else(|| {
                ConfigError::new(format!("{name}: {n} is out of range: expected {allowed}"))
            }),
        Err(_) => Err(ConfigError::new(format!(
            "{name}: {raw:?} is not {allowed}"
        ))),
    }
}

#[cfg(test)]
mod tests;
