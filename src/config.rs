//! Configuration in two phases: the raw options (flags, env, TOML file) and the validated
//! [`Config`] that every command works from.
//!
//! Precedence is flag > env > file > default (PRODUCT.md "Binary and configuration"). Clap
//! resolves flag and env; the file only fills what both left unset. Nothing here touches the
//! network or the database; a bad value fails before any work starts.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::domain::ConnectAppSid;

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
#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// TOML file that may set any of these options (keys as the long flags, e.g. database_url)
    #[arg(long, env = "TWILIO_EXPORT_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Registry and checkpoints: sqlite://FILE (created if missing) or postgres://… [default: sqlite://twilio-export.db]
    #[arg(long, env = "DATABASE_URL", global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Where Parquet goes: a directory, file://…, s3://bucket/prefix, gs://…, az://… [default: ./export]
    #[arg(long, env = "EXPORT_OUTPUT", global = true, value_name = "LOCATION")]
    pub output: Option<String>,

    /// Twilio REST base URL [default: https://api.twilio.com]
    #[arg(long, env = "TWILIO_API_BASE", global = true, value_name = "URL")]
    pub api_base: Option<String>,

    /// The Connect app owner's Auth Token (never printed)
    #[arg(
        long,
        env = "TWILIO_AUTH_TOKEN",
        global = true,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub auth_token: Option<String>,

    /// File holding the Auth Token (used when no token is given directly)
    #[arg(
        long,
        env = "TWILIO_AUTH_TOKEN_FILE",
        global = true,
        value_name = "FILE"
    )]
    pub auth_token_file: Option<PathBuf>,

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

    /// Most requests per second to one account [default: 25]
    #[arg(
        long,
        env = "TWILIO_EXPORT_RATE_LIMIT",
        global = true,
        value_name = "N"
    )]
    pub rate_limit: Option<String>,

    /// Most concurrent requests to one account [default: 4]
    #[arg(
        long,
        env = "TWILIO_EXPORT_MAX_IN_FLIGHT",
        global = true,
        value_name = "N"
    )]
    pub max_in_flight: Option<String>,

    /// Most requests per second in all [default: none]
    #[arg(
        long,
        env = "TWILIO_EXPORT_GLOBAL_RATE_LIMIT",
        global = true,
        value_name = "N"
    )]
    pub global_rate_limit: Option<String>,

    /// Seconds one request may spend waiting out 429s before its window fails [default: 600]
    #[arg(
        long,
        env = "TWILIO_EXPORT_RETRY_BUDGET",
        global = true,
        value_name = "SECONDS"
    )]
    pub retry_budget: Option<String>,
}

/// The same keys as [`GlobalArgs`], read from the TOML file.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database_url: Option<String>,
    output: Option<String>,
    api_base: Option<String>,
    auth_token: Option<String>,
    auth_token_file: Option<PathBuf>,
    connect_app_sid: Option<String>,
    jobs_dir: Option<PathBuf>,
    log_format: Option<String>,
    rate_limit: Option<toml::Value>,
    max_in_flight: Option<toml::Value>,
    global_rate_limit: Option<toml::Value>,
    retry_budget: Option<toml::Value>,
}

/// Default per-account request rate. Twilio limits concurrency, not rate, and does not publish
/// the number (`shared/twilio/README.md` §6); 25/s at 4 in flight stays far below it.
pub const DEFAULT_RATE_LIMIT: u32 = 25;
/// Default per-account requests in flight (README §6 suggests 4-8).
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 4;
/// Default time one request may spend waiting out 429s: generous, since a 429 was not
/// processed and waiting costs nothing but time.
pub const DEFAULT_RETRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(600);

/// The Connect app owner's Auth Token. Its `Debug` is redacted and it has no `Display`.
#[derive(Clone)]
pub struct AuthToken(SecretString);

impl AuthToken {
    pub fn new(token: String) -> Result<Self, ConfigError> {
        let token = token.trim().to_owned();
        if token.is_empty() {
            return Err(ConfigError::new("the auth token is empty"));
        }
        Ok(Self(SecretString::from(token)))
    }

    /// The token itself, for the HTTP client and signature checks only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken([redacted])")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Request quotas (applied per account, and one global).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub rate_limit: u32,
    pub max_in_flight: u32,
    pub global_rate_limit: Option<u32>,
    /// Time one request may spend waiting out 429s.
    pub retry_budget: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rate_limit: DEFAULT_RATE_LIMIT,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            global_rate_limit: None,
            retry_budget: DEFAULT_RETRY_BUDGET,
        }
    }
}

/// Where output goes, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputLocation {
    /// A local directory.
    Local(PathBuf),
    /// An object store URL (`s3://`, `gs://`, `az://`, …) handled by `object_store`.
    Remote(Url),
}

impl OutputLocation {
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        if value.is_empty() {
            return Err(ConfigError::new("output: the location is empty"));
        }
        if let Some(path) = value.strip_prefix("file://") {
            return Ok(Self::Local(PathBuf::from(path)));
        }
        match Url::parse(value) {
            Ok(url) if url.scheme().len() > 1 => match url.scheme() {
                "s3" | "s3a" | "gs" | "az" | "azure" | "adl" | "abfs" | "abfss" => {
                    Ok(Self::Remote(url))
                }
                other => Err(ConfigError::new(format!(
                    "output: unsupported scheme {other:?} in {value:?} (expected a directory, file://, s3://, gs://, az://, azure://, adl://, abfs:// or abfss://)"
                ))),
            },
            // No scheme, or a one-letter one (a Windows drive): a path.
            _ => Ok(Self::Local(PathBuf::from(value))),
        }
    }
}

impl fmt::Display for OutputLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(p) => write!(f, "{}", p.display()),
            Self::Remote(u) => write!(f, "{u}"),
        }
    }
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
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
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let pick = |a: &Option<String>, f: Option<String>| a.clone().or(f);

        let database_url = pick(&args.database_url, file.database_url)
            .unwrap_or_else(|| "sqlite://twilio-export.db".to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::new(format!(
                "database-url: {:?} is neither sqlite://… nor postgres://…",
                redact_url(&database_url)
            )));
        }

        let output = OutputLocation::parse(
            &pick(&args.output, file.output).unwrap_or_else(|| "./export".to_owned()),
        )?;

        let api_base_raw = pick(&args.api_base, file.api_base)
            .unwrap_or_else(|| "https://api.twilio.com".to_owned());
        let api_base = Url::parse(&api_base_raw)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                ConfigError::new(format!("api-base: {api_base_raw:?} is not an http(s) URL"))
            })?;

        let token_file = args.auth_token_file.clone().or(file.auth_token_file);
        let auth_token = match (args.auth_token.clone().or(file.auth_token), token_file) {
            (Some(t), _) => Some(AuthToken::new(t)?),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    ConfigError::new(format!(
                        "auth-token-file: cannot read {}: {e}",
                        path.display()
                    ))
                })?;
                Some(AuthToken::new(text).map_err(|_| {
                    ConfigError::new(format!("auth-token-file: {} is empty", path.display()))
                })?)
            }
            (None, None) => None,
        };

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

        let limits = Limits {
            rate_limit: number("rate-limit", &args.rate_limit, file.rate_limit)?
                .unwrap_or(DEFAULT_RATE_LIMIT),
            max_in_flight: number("max-in-flight", &args.max_in_flight, file.max_in_flight)?
                .unwrap_or(DEFAULT_MAX_IN_FLIGHT),
            global_rate_limit: number(
                "global-rate-limit",
                &args.global_rate_limit,
                file.global_rate_limit,
            )?,
            retry_budget: number("retry-budget", &args.retry_budget, file.retry_budget)?
                .map(|s| std::time::Duration::from_secs(s.into()))
                .unwrap_or(DEFAULT_RETRY_BUDGET),
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
                "no auth token: set TWILIO_AUTH_TOKEN, TWILIO_AUTH_TOKEN_FILE or --auth-token",
            )
        })
    }

    /// The same configuration with another token (the demo brings its own).
    pub fn with_auth_token(mut self, token: AuthToken) -> Self {
        self.auth_token = Some(token);
        self
    }
}

/// Reads the only log format option early, before the rest is validated, so that even a
/// configuration error is logged in the format asked for.
pub fn peek_log_format(args: &GlobalArgs) -> LogFormat {
    match args.log_format.as_deref() {
        Some("json") => LogFormat::Json,
        _ => LogFormat::Text,
    }
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(format!("config: cannot read {}: {e}", path.display())))?;
    // Accept the flags' spelling (database-url) as well as TOML's usual one (database_url).
    let table: toml::Table = text
        .parse()
        .map_err(|e| ConfigError::new(format!("config: {}: {e}", path.display())))?;
    let table: toml::Table = table
        .into_iter()
        .map(|(k, v)| (k.replace('-', "_"), v))
        .collect();
    FileSettings::deserialize(toml::Value::Table(table))
        .map_err(|e| ConfigError::new(format!("config: {}: {e}", path.display())))
}

fn number(
    name: &str,
    arg: &Option<String>,
    file: Option<toml::Value>,
) -> Result<Option<u32>, ConfigError> {
    let raw = match (arg, file) {
        (Some(a), _) => a.clone(),
        (None, Some(toml::Value::Integer(i))) => i.to_string(),
        (None, Some(toml::Value::String(s))) => s,
        (None, Some(other)) => {
            return Err(ConfigError::new(format!(
                "{name}: {other} is not a whole number"
            )))
        }
        (None, None) => return Ok(None),
    };
    match u32::from_str(raw.trim()) {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(ConfigError::new(format!(
            "{name}: {raw:?} is not a whole number above 0"
        ))),
    }
}

/// A database URL with any password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => url.to_owned(),
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
        assert_eq!(c.database_url, "sqlite://twilio-export.db");
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
}
