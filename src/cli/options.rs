//! The options, written once: each group below is at the same time the clap arguments (flag,
//! env variable, `--help` text under the group's heading), the keys of the TOML file (the
//! field names) and the rule that a flag or env value wins over the file's ([`options!`]).
//!
//! A command flattens the groups it uses, so its `--help` lists only those; `--config` and
//! `--log-format` ([`GlobalArgs`]) are accepted by every command, under "Global options".
//! Values that may be secret (the token, the database URL) are [`SecretString`]s from the
//! start; `Debug` shows the other values that may be URLs through [`crate::redact::url`].
//! Nothing is checked here: `Config::load` (in `config`) parses the merged values.

use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;

/// Defines an option group: the clap struct (every field an `Option`), its file keys, how a
/// file value is stored and how it yields to a value given as a flag or env variable.
macro_rules! options {
    ($(#[$meta:meta])* pub struct $name:ident {
        $($(#[$fmeta:meta])* pub $field:ident: Option<$ty:ty>,)*
    }) => {
        #[derive(clap::Args, Clone, Default)]
        $(#[$meta])*
        pub struct $name {
            $($(#[$fmeta])* pub $field: Option<$ty>,)*
        }

        impl $name {
            /// The keys of the file that set this group's options (the long flags with `_`).
            pub const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// Each option of `self` (flag or env), else the one of `file`.
            pub fn or(self, file: Self) -> Self {
                Self { $($field: self.$field.or(file.$field),)* }
            }

            /// Stores a file value; `None` when `key` is not this group's.
            fn set(&mut self, key: &str, value: toml::Value) -> Option<Result<(), FileValueError>> {
                match key {
                    $(stringify!($field) => {
                        Some(FileValue::from_toml(value).map(|v| self.$field = Some(v)))
                    })*
                    _ => None,
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    $(.field(stringify!($field), &self.$field.as_ref().map(Shown::shown)))*
                    .finish()
            }
        }
    };
}

options! {
    /// The registry of accounts, runs and checkpoints.
    #[command(next_help_heading = "Registry")]
    pub struct DatabaseOptions {
        /// Registry and checkpoints: sqlite://FILE (created if missing) or postgres://… [default: sqlite://twilio-export.db]
        #[arg(
            long,
            env = "DATABASE_URL",
            hide_env_values = true,
            value_name = "URL",
            value_parser = secret()
        )]
        pub database_url: Option<SecretString>,
    }
}

options! {
    /// Where the Parquet goes.
    #[command(next_help_heading = "Output")]
    pub struct OutputOptions {
        /// Where Parquet goes: a directory, file://…, s3://bucket/prefix, gs://…, az://… [default: ./export]
        // URLs may hold credentials (`?sig=…`, `user:pass@`): `--help` never shows the value.
        #[arg(long, env = "EXPORT_OUTPUT", hide_env_values = true, value_name = "LOCATION")]
        pub output: Option<String>,
    }
}

options! {
    /// How the Twilio API is reached.
    #[command(next_help_heading = "Twilio API")]
    pub struct ApiOptions {
        /// Twilio REST base URL [default: https://api.twilio.com]
        #[arg(long, env = "TWILIO_API_BASE", hide_env_values = true, value_name = "URL")]
        pub api_base: Option<String>,
        /// The Connect app owner's Auth Token (never printed). Prefer the environment variable or
        /// --auth-token-file: a value on the command line is visible to every local user (ps,
        /// /proc/PID/cmdline)
        #[arg(
            long,
            env = "TWILIO_AUTH_TOKEN",
            hide_env_values = true,
            value_name = "TOKEN",
            value_parser = secret()
        )]
        pub auth_token: Option<SecretString>,
        /// File holding the Auth Token. A flag or environment variable, in either form, wins over
        /// the config file's; both forms at once are refused
        #[arg(long, env = "TWILIO_AUTH_TOKEN_FILE", value_name = "FILE")]
        pub auth_token_file: Option<PathBuf>,
    }
}

options! {
    /// Our Connect App (the receiver checks callbacks against it).
    #[command(next_help_heading = "Twilio API")]
    pub struct ConnectAppOptions {
        /// Our Connect App (CN…)
        #[arg(long, env = "TWILIO_CONNECT_APP_SID", value_name = "CN…")]
        pub connect_app_sid: Option<String>,
    }
}

options! {
    /// The job files of scheduled runs.
    #[command(next_help_heading = "Jobs")]
    pub struct JobsOptions {
        /// Directory of job files [default: ./jobs]
        #[arg(long, env = "TWILIO_EXPORT_JOBS", value_name = "DIR")]
        pub jobs_dir: Option<PathBuf>,
    }
}

options! {
    /// Request quotas and retries; checked against their ranges by `Config::load`.
    #[command(next_help_heading = "Request limits")]
    pub struct LimitOptions {
        /// Most requests per second to one account, 1-10000 [default: 25]
        #[arg(long, env = "TWILIO_EXPORT_RATE_LIMIT", value_name = "N")]
        pub rate_limit: Option<Number>,
        /// Most concurrent requests to one account, 1-1000 [default: 4]
        #[arg(long, env = "TWILIO_EXPORT_MAX_IN_FLIGHT", value_name = "N")]
        pub max_in_flight: Option<Number>,
        /// Most requests per second in all, 1-10000 [default: none]
        #[arg(long, env = "TWILIO_EXPORT_GLOBAL_RATE_LIMIT", value_name = "N")]
        pub global_rate_limit: Option<Number>,
        /// Seconds one request may spend waiting out 429s before its window fails, 1-86400 [default: 600]
        #[arg(long, env = "TWILIO_EXPORT_RETRY_BUDGET", value_name = "SECONDS")]
        pub retry_budget: Option<Number>,
    }
}

options! {
    /// Where a batch run leaves its metrics (`run`, `backfill`, `demo`).
    #[command(next_help_heading = "Metrics")]
    pub struct MetricsOptions {
        /// At the end of the run, write its metrics to FILE in the node_exporter textfile format
        /// (replaced atomically: written beside it, then renamed) [default: none]
        #[arg(long, env = "TWILIO_EXPORT_METRICS_FILE", value_name = "FILE")]
        pub metrics_file: Option<PathBuf>,
    }
}

options! {
    /// Pseudonyms of phone numbers and names (`run`, `schedule`, `backfill`, `demo`).
    #[command(next_help_heading = "Data protection")]
    pub struct PseudonymOptions {
        /// Write the columns that carry a phone number or a name (to, from, to_formatted,
        /// from_formatted, forwarded_from, caller_name) as the lowercase hex HMAC-SHA256 of each
        /// value under the pseudonym key; null and empty values are kept. A job file's
        /// `pseudonymize` overrides it for its job. Exports refuse (exit 2) to mix modes or keys
        /// in the export (every account): changing them is one backfill over every account and
        /// exported day [default: false]
        #[arg(
            long,
            env = "TWILIO_EXPORT_PSEUDONYMIZE",
            value_name = "BOOL",
            num_args = 0..=1,
            default_missing_value = "true",
            value_parser = clap::builder::BoolishValueParser::new()
        )]
        pub pseudonymize: Option<bool>,
        /// The pseudonym key itself, at least 16 bytes (never printed or stored). Prefer the
        /// environment variable or --pseudonym-key-file: a value on the command line is visible
        /// to every local user
        #[arg(
            long,
            env = "TWILIO_EXPORT_PSEUDONYM_KEY",
            hide_env_values = true,
            value_name = "KEY",
            value_parser = secret()
        )]
        pub pseudonym_key: Option<SecretString>,
        /// File holding the pseudonym key: its bytes as they are, at least 16, but for one
        /// trailing line end (\n or \r\n). A key given directly (flag or environment) wins over
        /// the config file's; both forms at once are refused
        #[arg(long, env = "TWILIO_EXPORT_PSEUDONYM_KEY_FILE", value_name = "FILE")]
        pub pseudonym_key_file: Option<PathBuf>,
    }
}

options! {
    /// Data protection: when the data of deauthorized accounts is purged (`run`, `schedule`).
    #[command(next_help_heading = "Data protection")]
    pub struct PurgeOptions {
        /// Purge accounts deauthorized more than DAYS days ago: delete all their partitions and
        /// registry rows, as `accounts purge` does, before each run or schedule tick, 1-36500
        /// [default: never]
        #[arg(long, env = "TWILIO_EXPORT_PURGE_DEAUTHORIZED_AFTER", value_name = "DAYS")]
        pub purge_deauthorized_after: Option<Number>,
    }
}

options! {
    /// How logs are written (every command).
    #[command(next_help_heading = "Global options")]
    pub struct LogOptions {
        /// Log format: text or json [default: text]
        #[arg(long, env = "TWILIO_EXPORT_LOG_FORMAT", global = true, value_name = "FORMAT")]
        pub log_format: Option<String>,
    }
}

/// The options every command takes, wherever they stand on the command line.
#[derive(clap::Args, Clone, Default, Debug)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// TOML file that may set the shared options (keys as the long flags, e.g. database_url);
    /// not the options of one command alone, such as serve's --listen
    #[arg(long, env = "TWILIO_EXPORT_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub log: LogOptions,
    /// Set when the Auth Token came from the command line (see [`crate::cli::Cli::parse_args`]).
    #[arg(skip)]
    pub auth_token_in_argv: bool,
    /// Set when the pseudonym key came from the command line (as `auth_token_in_argv`).
    #[arg(skip)]
    pub pseudonym_key_in_argv: bool,
    /// Options given before the command that this command does not take (ignored; see
    /// `cli::leading`).
    #[arg(skip)]
    pub ignored_leading: Vec<String>,
}

/// Every option group: what one command was given, or what the file sets.
#[derive(Clone, Default, Debug)]
pub struct Settings {
    pub database: DatabaseOptions,
    pub output: OutputOptions,
    pub api: ApiOptions,
    pub connect_app: ConnectAppOptions,
    pub jobs: JobsOptions,
    pub limits: LimitOptions,
    pub metrics: MetricsOptions,
    pub pseudonym: PseudonymOptions,
    pub purge: PurgeOptions,
    pub log: LogOptions,
}

impl Settings {
    /// Every key a file may set.
    pub fn keys() -> Vec<&'static str> {
        [
            DatabaseOptions::KEYS,
            OutputOptions::KEYS,
            ApiOptions::KEYS,
            ConnectAppOptions::KEYS,
            JobsOptions::KEYS,
            LimitOptions::KEYS,
            MetricsOptions::KEYS,
            PseudonymOptions::KEYS,
            PurgeOptions::KEYS,
            LogOptions::KEYS,
        ]
        .concat()
    }

    /// Each option given (flag or env), else the file's.
    pub fn or(self, file: Self) -> Self {
        Self {
            database: self.database.or(file.database),
            output: self.output.or(file.output),
            api: self.api.or(file.api),
            connect_app: self.connect_app.or(file.connect_app),
            jobs: self.jobs.or(file.jobs),
            limits: self.limits.or(file.limits),
            metrics: self.metrics.or(file.metrics),
            pseudonym: self.pseudonym.or(file.pseudonym),
            purge: self.purge.or(file.purge),
            log: self.log.or(file.log),
        }
    }

    /// Stores a file value under its key; an unknown key or a value of the wrong type is an
    /// error (whose message never quotes the value).
    pub(crate) fn set(&mut self, key: &str, value: toml::Value) -> Result<(), FileValueError> {
        let set = self
            .database
            .set(key, value.clone())
            .or_else(|| self.output.set(key, value.clone()))
            .or_else(|| self.api.set(key, value.clone()))
            .or_else(|| self.connect_app.set(key, value.clone()))
            .or_else(|| self.jobs.set(key, value.clone()))
            .or_else(|| self.limits.set(key, value.clone()))
            .or_else(|| self.metrics.set(key, value.clone()))
            .or_else(|| self.pseudonym.set(key, value.clone()))
            .or_else(|| self.purge.set(key, value.clone()))
            .or_else(|| self.log.set(key, value));
        set.unwrap_or(Err(FileValueError::UnknownKey))
    }
}

/// Clap's parser for values that may be secret: any text, kept as a [`SecretString`]. A value
/// that is not UTF-8 (an environment variable set from random bytes, say) is refused with a
/// message that names the option and its variable, never the value.
pub(crate) fn secret() -> SecretParser {
    SecretParser
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct SecretParser;

impl clap::builder::TypedValueParser for SecretParser {
    type Value = SecretString;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<SecretString, clap::Error> {
        if let Some(text) = value.to_str() {
            return Ok(SecretString::from(text));
        }
        let long = arg.and_then(clap::Arg::get_long).unwrap_or("value");
        let env = arg
            .and_then(clap::Arg::get_env)
            .map(|e| format!(" ({})", e.to_string_lossy()))
            .unwrap_or_default();
        let file_option = format!("{long}-file");
        let file = if cmd
            .get_arguments()
            .any(|a| a.get_long() == Some(file_option.as_str()))
        {
            format!(", or put it in a file (--{file_option})")
        } else {
            String::new()
        };
        let example = if long.ends_with("key") {
            " (a key from `openssl rand -hex 32`, say)"
        } else {
            ""
        };
        let message = format!(
            "--{long}{env}: the value is not valid UTF-8 text; give it as text{example}{file}\n"
        );
        Err(clap::Error::raw(clap::error::ErrorKind::InvalidUtf8, message).with_cmd(cmd))
    }
}

/// A whole number as given (flag, env, or a TOML integer or string), checked against its
/// option's range by `Config::load`, so that every source gets the same message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Number(pub String);

impl From<String> for Number {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<&str> for Number {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

/// A value of the configuration file that cannot be stored; the message names what was
/// found, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FileValueError {
    #[error("unknown key (the keys are {})", Settings::keys().join(", "))]
    UnknownKey,
    #[error("expected {expected}, found {found}")]
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
}

/// A type a file value is stored as.
trait FileValue: Sized {
    fn from_toml(value: toml::Value) -> Result<Self, FileValueError>;
}

fn string(value: toml::Value) -> Result<String, FileValueError> {
    match value {
        toml::Value::String(s) => Ok(s),
        other => Err(FileValueError::WrongType {
            expected: "a string",
            found: other.type_str(),
        }),
    }
}

impl FileValue for String {
    fn from_toml(value: toml::Value) -> Result<Self, FileValueError> {
        string(value)
    }
}

impl FileValue for SecretString {
    fn from_toml(value: toml::Value) -> Result<Self, FileValueError> {
        string(value).map(SecretString::from)
    }
}

impl FileValue for PathBuf {
    fn from_toml(value: toml::Value) -> Result<Self, FileValueError> {
        string(value).map(PathBuf::from)
    }
}

impl FileValue for bool {
    fn from_toml(value: toml::Value) -> Result<Self, FileValueError> {
        match value {
            toml::Value::Boolean(b) => Ok(b),
            other => Err(FileValueError::WrongType {
                expected: "true or false",
                found: other.type_str(),
            }),
        }
    }
}

impl FileValue for Number {
    fn from_toml(value: toml::Value) -> Result<Self, FileValueError> {
        match value {
            toml::Value::Integer(i) => Ok(Self(i.to_string())),
            toml::Value::String(s) => Ok(Self(s)),
            other => Err(FileValueError::WrongType {
                expected: "a whole number",
                found: other.type_str(),
            }),
        }
    }
}

/// How a value shows in `Debug`: secrets not at all, URLs with their passwords hidden.
trait Shown {
    fn shown(&self) -> String;
}

impl Shown for String {
    fn shown(&self) -> String {
        crate::redact::url(self)
    }
}

impl Shown for SecretString {
    fn shown(&self) -> String {
        "[REDACTED]".to_owned()
    }
}

impl Shown for PathBuf {
    fn shown(&self) -> String {
        self.display().to_string()
    }
}

impl Shown for bool {
    fn shown(&self) -> String {
        self.to_string()
    }
}

impl Shown for Number {
    fn shown(&self) -> String {
        self.0.clone()
    }
}
