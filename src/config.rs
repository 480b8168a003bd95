//! Configuration in two phases: the raw options (flags, env, TOML file) and the validated
//! [`Config`] that every command works from.
//!
//! Precedence is flag > env > file > default (PRODUCT.md "Binary and configuration"). Clap
//! resolves flag and env; the file only fills what both left unset. Nothing here touches the
//! network or the database; a bad value fails before any work starts.

mod file;

use std::fmt;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::domain::{AuthToken, ConnectAppSid};
use crate::fetch::limiter::{
    Limits, DEFAULT_MAX_IN_FLIGHT, DEFAULT_RATE_LIMIT, DEFAULT_RETRY_BUDGET, MAX_IN_FLIGHT,
    RATE_LIMITS, RETRY_BUDGETS,
};
use crate::registry::DatabaseUrl;
use crate::store::OutputLocation;
use crate::telemetry::LogFormat;
use file::FileSettings;

/// A bad option value; the message names the option and where it came from.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

/// The options every command shares. Doc comments are the `--help` text.
///
/// Values that may be secret (the token, the database URL) are [`SecretString`]s from the
/// start; `Debug` shows the other URLs through [`crate::redact::url`].
#[derive(Args, Clone, Default)]
pub struct GlobalArgs {
    /// TOML file that may set any of these options (keys as the long flags, e.g. database_url)
    #[arg(long, env = "TWILIO_EXPORT_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Registry and checkpoints: sqlite://FILE (created if missing) or postgres://… [default: sqlite://twilio-export.db]
    #[arg(
        long,
        env = "DATABASE_URL",
        global = true,
        hide_env_values = true,
        value_name = "URL",
        value_parser = secret
    )]
    pub database_url: Option<SecretString>,

    /// Where Parquet goes: a directory, file://…, s3://bucket/prefix, gs://…, az://… [default: ./export]
    #[arg(long, env = "EXPORT_OUTPUT", global = true, value_name = "LOCATION")]
    pub output: Option<String>,

    /// Twilio REST base URL [default: https://api.twilio.com]
    #[arg(long, env = "TWILIO_API_BASE", global = true, value_name = "URL")]
    pub api_base: Option<String>,

    /// The Connect app owner's Auth Token (never printed). Prefer the environment variable or
    /// --auth-token-file: a value on the command line is visible to every local user (ps,
    /// /proc/PID/cmdline)
    #[arg(
        long,
        env = "TWILIO_AUTH_TOKEN",
        global = true,
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = secret
    )]
    pub auth_token: Option<SecretString>,

    /// File holding the Auth Token (used when no token is given directly)
    #[arg(
        long,
        env = "TWILIO_AUTH_TOKEN_FILE",
        global = true,
        value_name = "FILE"
    )]
    pub auth_token_file: Option<PathBuf>,

    /// Set when the Auth Token came from the command line (see [`crate::cli::Cli::parse_args`]).
    #[arg(skip)]
    pub auth_token_in_argv: bool,

    /// Our Connect App (CN…)
    #[arg(
        long,
        env = "TWILIO_CONNECT_APP_SID",
        global = true,
        value_name = "CN…"
    )]
    pub connect_app_sid: Option<String>,

    /// Directory of job files [default: ./jobs]
    #[arg(long, env = "TWILIO_EXPORT_JOBS", global = true, value_name = "DIR")]
    pub jobs_dir: Option<PathBuf>,

    /// Log format: text or json [default: text]
    #[arg(
        long,
        env = "TWILIO_EXPORT_LOG_FORMAT",
        global = true,
        value_name = "FORMAT"
    )]
    pub log_format: Option<String>,

    /// Most requests per second to one account, 1-10000 [default: 25]
    #[arg(
        long,
        env = "TWILIO_EXPORT_RATE_LIMIT",
        global = true,
        value_name = "N"
    )]
    pub rate_limit: Option<String>,

    /// Most concurrent requests to one account, 1-1000 [default: 4]
    #[arg(
        long,
        env = "TWILIO_EXPORT_MAX_IN_FLIGHT",
        global = true,
        value_name = "N"
    )]
    pub max_in_flight: Option<String>,

    /// Most requests per second in all, 1-10000 [default: none]
    #[arg(
        long,
        env = "TWILIO_EXPORT_GLOBAL_RATE_LIMIT",
        global = true,
        value_name = "N"
    )]
    pub global_rate_limit: Option<String>,

    /// Seconds one request may spend waiting out 429s before its window fails, 1-86400 [default: 600]
    #[arg(
        long,
        env = "TWILIO_EXPORT_RETRY_BUDGET",
        global = true,
        value_name = "SECONDS"
    )]
    pub retry_budget: Option<String>,
}

impl fmt::Debug for GlobalArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = |v: &Option<String>| v.as_deref().map(crate::redact::url);
        f.debug_struct("GlobalArgs")
            .field("config", &self.config)
            .field("database_url", &self.database_url)
            .field("output", &url(&self.output))
            .field("api_base", &url(&self.api_base))
            .field("auth_token", &self.auth_token)
            .field("auth_token_file", &self.auth_token_file)
            .field("auth_token_in_argv", &self.auth_token_in_argv)
            .field("connect_app_sid", &self.connect_app_sid)
            .field("jobs_dir", &self.jobs_dir)
            .field("log_format", &self.log_format)
            .field("rate_limit", &self.rate_limit)
            .field("max_in_flight", &self.max_in_flight)
            .field("global_rate_limit", &self.global_rate_limit)
            .field("retry_budget", &self.retry_budget)
            .finish()
    }
}

/// Clap's parser for values that may be secret: any text, kept as a [`SecretString`].
pub(crate) fn secret(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(text))
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
    pub log_format: LogFormat,
    pub limits: Limits,
}

impl Config {
    /// Merges flags/env with the optional TOML file and validates every value.
    pub fn load(args: &GlobalArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => file::read(path)?,
            None => FileSettings::default(),
        };
        let limits = limits(args, &file)?;
        let pick = |a: &Option<String>, f: Option<String>| a.clone().or(f);

        let database_url = match args.database_url.as_ref().or(file.database_url.as_ref()) {
            Some(url) => DatabaseUrl::parse(url.expose_secret())
                .map_err(|e| ConfigError::new(format!("database-url: {e}")))?,
            None => DatabaseUrl::default(),
        };
        let output = OutputLocation::parse(
            &pick(&args.output, file.output).unwrap_or_else(|| "./export".to_owned()),
        )
        .map_err(|e| ConfigError::new(format!("output: {e}")))?;
        let api_base = api_base(pick(&args.api_base, file.api_base).as_deref())?;
        let auth_token = auth_token(
            args.auth_token.as_ref().or(file.auth_token.as_ref()),
            args.auth_token_file.clone().or(file.auth_token_file),
        )?;
        let connect_app_sid = pick(&args.connect_app_sid, file.connect_app_sid)
            .map(|s| ConnectAppSid::parse(&s))
            .transpose()
            .map_err(|e| ConfigError::new(format!("connect-app-sid: {e}")))?;
        let jobs_dir = args
            .jobs_dir
            .clone()
            .or(file.jobs_dir)
            .unwrap_or_else(|| PathBuf::from("./jobs"));
        let log_format = match pick(&args.log_format, file.log_format).as_deref() {
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
            log_format,
            limits,
        })
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

/// The token given directly, else the one in the token file, else none.
fn auth_token(
    given: Option<&SecretString>,
    file: Option<PathBuf>,
) -> Result<Option<AuthToken>, ConfigError> {
    match (given, file) {
        (Some(t), _) => AuthToken::new(t.expose_secret().to_owned())
            .map(Some)
            .map_err(|e| ConfigError::new(format!("auth-token: {e}"))),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::new(format!(
                    "auth-token-file: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            let token = AuthToken::new(text).map_err(|_| {
                ConfigError::new(format!("auth-token-file: {} is empty", path.display()))
            })?;
            Ok(Some(token))
        }
        (None, None) => Ok(None),
    }
}

fn limits(args: &GlobalArgs, file: &FileSettings) -> Result<Limits, ConfigError> {
    let rate_limit = number(
        "rate-limit",
        &args.rate_limit,
        &file.rate_limit,
        RATE_LIMITS,
    )?;
    let max_in_flight = number(
        "max-in-flight",
        &args.max_in_flight,
        &file.max_in_flight,
        MAX_IN_FLIGHT,
    )?;
    let global_rate_limit = number(
        "global-rate-limit",
        &args.global_rate_limit,
        &file.global_rate_limit,
        RATE_LIMITS,
    )?;
    let retry_budget = number(
        "retry-budget",
        &args.retry_budget,
        &file.retry_budget,
        RETRY_BUDGETS,
    )?;
    Ok(Limits {
        rate_limit: rate_limit.unwrap_or(DEFAULT_RATE_LIMIT),
        max_in_flight: max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        global_rate_limit,
        retry_budget: retry_budget
            .map(|s| std::time::Duration::from_secs(s.into()))
            .unwrap_or(DEFAULT_RETRY_BUDGET),
    })
}

/// Reads the only log format option early, before the rest is validated, so that even a
/// configuration error is logged in the format asked for.
pub fn peek_log_format(args: &GlobalArgs) -> LogFormat {
    match args.log_format.as_deref() {
        Some("json") => LogFormat::Json,
        _ => LogFormat::Text,
    }
}

/// A whole number within `range`, from the flag/env or else the file; the message gives the
/// range.
fn number(
    name: &str,
    arg: &Option<String>,
    file: &Option<toml::Value>,
    range: RangeInclusive<u32>,
) -> Result<Option<u32>, ConfigError> {
    let allowed = format!("a whole number from {} to {}", range.start(), range.end());
    let raw = match (arg, file) {
        (Some(a), _) => a.trim().to_owned(),
        (None, Some(toml::Value::Integer(i))) => i.to_string(),
        (None, Some(toml::Value::String(s))) => s.trim().to_owned(),
        (None, Some(other)) => {
            return Err(ConfigError::new(format!(
                "{name}: expected {allowed}, found {}",
                other.type_str()
            )))
        }
        (None, None) => return Ok(None),
    };
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
mod tests {
    use super::*;

    fn args() -> GlobalArgs {
        GlobalArgs::default()
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let c = Config::load(&args()).unwrap();
        assert_eq!(c.database_url.expose(), "sqlite://twilio-export.db");
        assert_eq!(c.output, OutputLocation::Local(PathBuf::from("./export")));
        assert_eq!(c.api_base.as_str(), "https://api.twilio.com/");
        assert_eq!(c.limits, Limits::default());
        assert!(c.auth_token().is_err());
    }

    #[test]
    fn flag_wins_over_file_and_file_fills_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "output = \"s3://bucket/prefix\"\nrate-limit = 7\nauth_token = \"secret-token\"\n",
        )
        .unwrap();
        let mut a = args();
        a.config = Some(path);
        a.rate_limit = Some("3".into());
        let c = Config::load(&a).unwrap();
        assert!(matches!(c.output, OutputLocation::Remote(_)));
        assert_eq!(c.limits.rate_limit, 3);
        assert_eq!(c.auth_token().unwrap().expose(), "secret-token");
        assert!(!format!("{c:?}").contains("secret-token"));
    }

    #[test]
    fn bad_values_name_the_option() {
        type Case = (fn(&mut GlobalArgs), &'static str);
        let cases: Vec<Case> = vec![
            (|a| a.rate_limit = Some("fast".into()), "rate-limit"),
            (|a| a.max_in_flight = Some("0".into()), "max-in-flight"),
            (|a| a.api_base = Some("ftp://x".into()), "api-base"),
            (|a| a.log_format = Some("xml".into()), "log-format"),
            (
                |a| a.connect_app_sid = Some("CN12".into()),
                "connect-app-sid",
            ),
            (
                |a| a.database_url = Some("mysql://x".into()),
                "database-url",
            ),
            (|a| a.config = Some("/nonexistent/c.toml".into()), "config"),
            (|a| a.output = Some("ftp://host/x".into()), "output"),
        ];
        for (set, name) in cases {
            let mut a = args();
            set(&mut a);
            let err = Config::load(&a).unwrap_err().to_string();
            assert!(err.starts_with(name), "{err}");
        }
    }

    #[test]
    fn unknown_file_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "outptu = \"x\"\n").unwrap();
        let mut a = args();
        a.config = Some(path);
        let err = Config::load(&a).unwrap_err().to_string();
        assert!(err.contains("outptu"), "{err}");
    }

    #[test]
    fn numbers_out_of_range_are_refused_with_the_range() {
        type Case = (fn(&mut GlobalArgs, &str), &'static str, &'static str);
        let cases: [Case; 4] = [
            (|a, v| a.rate_limit = Some(v.into()), "rate-limit", "10000"),
            (
                |a, v| a.global_rate_limit = Some(v.into()),
                "global-rate-limit",
                "10000",
            ),
            (
                |a, v| a.max_in_flight = Some(v.into()),
                "max-in-flight",
                "1000",
            ),
            (
                |a, v| a.retry_budget = Some(v.into()),
                "retry-budget",
                "86400",
            ),
        ];
        for (set, name, max) in cases {
            for bad in ["0", "4294967295", "4294967296", "-1"] {
                let mut a = args();
                set(&mut a, bad);
                let err = Config::load(&a).unwrap_err().to_string();
                assert!(err.starts_with(name), "{err}");
                assert!(err.contains(&format!("from 1 to {max}")), "{err}");
            }
            let mut a = args();
            set(&mut a, max);
            assert!(Config::load(&a).is_ok(), "{name} {max}");
        }
    }

    #[test]
    fn no_password_shows_in_config_debug_or_messages() {
        let mut a = args();
        a.database_url =
            Some("postgres://me:hunter1@db/x?password=hunter2&sslpassword=hunter3".into());
        a.auth_token = Some("hunter4".into());
        a.output = Some("az://me:hunter5@store.example.com/x?sig=hunter6".into());
        let c = Config::load(&a).unwrap();
        let shown = format!("{c:?} {} {} {a:?}", c.database_url, c.output);
        assert!(!shown.contains("hunter"), "{shown}");
        assert!(
            shown.contains("postgres://me:****@db/x?password=****"),
            "{shown}"
        );
        assert!(c.database_url.expose().contains("hunter2"));

        a.database_url = Some("mysql://me:hunter1@db/x?password=hunter2".into());
        let err = Config::load(&a).unwrap_err().to_string();
        assert!(
            err.starts_with("database-url") && !err.contains("hunter"),
            "{err}"
        );
        let mut a = args();
        a.api_base = Some("https://AC1:hunter7@api.twilio.com".into());
        let err = Config::load(&a).unwrap_err().to_string();
        assert!(
            err.contains("carries credentials") && !err.contains("hunter"),
            "{err}"
        );
    }
}
