//! Configuration in two phases: the raw options (flags, env, TOML file; one definition in
//! `cli::options`) and the validated [`Config`] that every command works from. `Config`
//! holds the stages' own settings types (`domain::AuthToken`, `fetch::Limits`,
//! `store::OutputLocation`, `registry::DatabaseUrl`, `telemetry::LogFormat`) and builds them.
//!
//! Precedence is flag > env > file > default. Clap resolves flag and env; the file only fills
//! what both left unset. Nothing here touches the network or the database; a bad value fails
//! before any work starts.

mod file;

use std::ops::RangeInclusive;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::cli::{GlobalArgs, LimitOptions, Number, Settings};
use crate::domain::{AuthToken, ConnectAppSid};
use crate::fetch::limiter::{
    Limits, DEFAULT_MAX_IN_FLIGHT, DEFAULT_RATE_LIMIT, DEFAULT_RETRY_BUDGET, MAX_IN_FLIGHT,
    RATE_LIMITS, RETRY_BUDGETS,
};
use crate::pseudonym::{PseudonymKey, Pseudonymization};
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

/// A secret that may be given directly or as a file: as given in one layer (flag/env or the
/// file named by `--config`), both forms only to be refused.
#[derive(Clone)]
enum Secret {
    Direct(SecretString),
    File(PathBuf),
    Both,
}

impl Secret {
    fn of(direct: &Option<SecretString>, file: &Option<PathBuf>) -> Option<Self> {
        match (direct, file) {
            (Some(_), Some(_)) => Some(Self::Both),
            (Some(d), None) => Some(Self::Direct(d.clone())),
            (None, Some(f)) => Some(Self::File(f.clone())),
            (None, None) => None,
        }
    }
}

/// The secret of the layer that wins, and which layer it was (`None`: flag/env, else the
/// configuration file's path). No `Debug` of the secret.
#[derive(Clone)]
struct Layered {
    secret: Secret,
    config_file: Option<PathBuf>,
}

impl std::fmt::Debug for Layered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let form = match self.secret {
            Secret::Direct(_) => "given directly",
            Secret::File(_) => "in a file",
            Secret::Both => "given twice",
        };
        f.write_str(form)
    }
}

impl Layered {
    /// Flag or env (either form) beats the configuration file (either form).
    fn pick(
        given: Option<Secret>,
        file: Option<Secret>,
        config: Option<&std::path::Path>,
    ) -> Option<Self> {
        match (given, file) {
            (Some(secret), _) => Some(Self {
                secret,
                config_file: None,
            }),
            (None, Some(secret)) => Some(Self {
                secret,
                config_file: config.map(PathBuf::from),
            }),
            (None, None) => None,
        }
    }

    /// Both forms given in the winning layer.
    fn both(&self, direct: &str, file: &str) -> ConfigError {
        ConfigError::new(match &self.config_file {
            None => format!(
                "{direct}: both --{direct} and --{file} are given (as flags or environment variables); give one"
            ),
            Some(c) => format!(
                "{direct}: {} sets both {} and {}; give one",
                c.display(),
                direct.replace('-', "_"),
                file.replace('-', "_")
            ),
        })
    }

    /// The secret's bytes: given directly, or read from its file without one trailing line
    /// end (`\n` or `\r\n`). Both forms in one layer are refused. `direct` and `file` name the
    /// options (`auth-token`, `auth-token-file`).
    fn read(&self, direct: &str, file: &str) -> Result<secrecy::SecretSlice<u8>, ConfigError> {
        match &self.secret {
            Secret::Both => Err(self.both(direct, file)),
            Secret::Direct(s) => Ok(s.expose_secret().as_bytes().to_vec().into()),
            Secret::File(path) => {
                let bytes = std::fs::read(path).map_err(|e| {
                    ConfigError::new(format!("{file}: cannot read {}: {e}", path.display()))
                })?;
                let mut bytes = secrecy::SecretSlice::from(bytes);
                let raw = bytes.expose_secret();
                let len = raw.len() - line_end(raw);
                if len < raw.len() {
                    bytes = raw[..len].to_vec().into();
                }
                Ok(bytes)
            }
        }
    }
}

/// How many bytes one trailing line end takes: 2 for `\r\n`, 1 for `\n`, else 0.
fn line_end(raw: &[u8]) -> usize {
    if raw.ends_with(b"\r\n") {
        2
    } else {
        usize::from(raw.ends_with(b"\n"))
    }
}

/// The Auth Token from its layer; a token file's text as it is (the token trims itself).
fn auth_token(source: &Layered) -> Result<AuthToken, ConfigError> {
    match &source.secret {
        Secret::Both => Err(source.both("auth-token", "auth-token-file")),
        Secret::Direct(t) => AuthToken::new(t.expose_secret().to_owned())
            .map_err(|e| ConfigError::new(format!("auth-token: {e}"))),
        Secret::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::new(format!(
                    "auth-token-file: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            AuthToken::new(text).map_err(|_| {
                ConfigError::new(format!("auth-token-file: {} is empty", path.display()))
            })
        }
    }
}

/// The pseudonym key from its layer: given directly, or a file's bytes as they are but for
/// one trailing line end (`\n` or `\r\n`).
fn pseudonym_key(source: &Layered) -> Result<PseudonymKey, ConfigError> {
    let bytes = source.read("pseudonym-key", "pseudonym-key-file")?;
    PseudonymKey::new(bytes.expose_secret()).map_err(|e| match &source.secret {
        Secret::File(path) => {
            ConfigError::new(format!("pseudonym-key-file: {}: {e}", path.display()))
        }
        _ => ConfigError::new(format!("pseudonym-key: {e}")),
    })
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

/// Reads the only log format option early, before the rest is validated, so that even a
/// configuration error is logged in the format asked for.
pub fn peek_log_format(args: &GlobalArgs) -> LogFormat {
    match args.log.log_format.as_deref() {
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
mod tests {
    use super::*;
    use crate::pseudonym::PseudonymMode;

    /// What a command was given: the global options and the option groups.
    #[derive(Default, Debug)]
    struct Args {
        config: Option<PathBuf>,
        log_format: Option<String>,
        set: Settings,
    }

    fn args() -> Args {
        Args::default()
    }

    fn load(a: &Args) -> Result<Config, ConfigError> {
        let mut global = GlobalArgs {
            config: a.config.clone(),
            ..GlobalArgs::default()
        };
        global.log.log_format = a.log_format.clone();
        Config::load(&global, a.set.clone())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let c = load(&args()).unwrap();
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
        a.set.limits.rate_limit = Some("3".into());
        let c = load(&a).unwrap();
        assert!(matches!(c.output, OutputLocation::Remote(_)));
        assert_eq!(c.limits.rate_limit, 3);
        assert_eq!(c.auth_token().unwrap().expose(), "secret-token");
        assert!(!format!("{c:?}").contains("secret-token"));
    }

    #[test]
    fn bad_values_name_the_option() {
        type Case = (fn(&mut Args), &'static str);
        let cases: Vec<Case> = vec![
            (
                |a| a.set.limits.rate_limit = Some("fast".into()),
                "rate-limit",
            ),
            (
                |a| a.set.limits.max_in_flight = Some("0".into()),
                "max-in-flight",
            ),
            (|a| a.set.api.api_base = Some("ftp://x".into()), "api-base"),
            (|a| a.log_format = Some("xml".into()), "log-format"),
            (
                |a| a.set.connect_app.connect_app_sid = Some("CN12".into()),
                "connect-app-sid",
            ),
            (
                |a| a.set.database.database_url = Some("mysql://x".into()),
                "database-url",
            ),
            (|a| a.config = Some("/nonexistent/c.toml".into()), "config"),
            (
                |a| a.set.output.output = Some("ftp://host/x".into()),
                "output",
            ),
        ];
        for (set, name) in cases {
            let mut a = args();
            set(&mut a);
            let err = load(&a).unwrap_err().to_string();
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
        let err = load(&a).unwrap_err().to_string();
        assert!(err.contains("outptu"), "{err}");
    }

    #[test]
    fn numbers_out_of_range_are_refused_with_the_range() {
        type Case = (fn(&mut Args, &str), &'static str, &'static str);
        let cases: [Case; 5] = [
            (
                |a, v| a.set.limits.rate_limit = Some(v.into()),
                "rate-limit",
                "10000",
            ),
            (
                |a, v| a.set.limits.global_rate_limit = Some(v.into()),
                "global-rate-limit",
                "10000",
            ),
            (
                |a, v| a.set.limits.max_in_flight = Some(v.into()),
                "max-in-flight",
                "1000",
            ),
            (
                |a, v| a.set.limits.retry_budget = Some(v.into()),
                "retry-budget",
                "86400",
            ),
            (
                |a, v| a.set.purge.purge_deauthorized_after = Some(v.into()),
                "purge-deauthorized-after",
                "36500",
            ),
        ];
        for (set, name, max) in cases {
            for bad in ["0", "4294967295", "4294967296", "-1"] {
                let mut a = args();
                set(&mut a, bad);
                let err = load(&a).unwrap_err().to_string();
                assert!(err.starts_with(name), "{err}");
                assert!(err.contains(&format!("from 1 to {max}")), "{err}");
            }
            let mut a = args();
            set(&mut a, max);
            assert!(load(&a).is_ok(), "{name} {max}");
        }
    }

    #[test]
    fn no_password_shows_in_config_debug_or_messages() {
        let mut a = args();
        a.set.database.database_url =
            Some("postgres://me:hunter1@db/x?password=hunter2&sslpassword=hunter3".into());
        a.set.api.auth_token = Some("hunter4".into());
        a.set.output.output = Some("az://me:hunter5@store.example.com/x?sig=hunter6".into());
        let c = load(&a).unwrap();
        let shown = format!("{c:?} {} {} {a:?}", c.database_url, c.output);
        assert!(!shown.contains("hunter"), "{shown}");
        assert!(
            shown.contains("postgres://me:****@db/x?password=****"),
            "{shown}"
        );
        assert!(c.database_url.expose().contains("hunter2"));

        a.set.database.database_url = Some("mysql://me:hunter1@db/x?password=hunter2".into());
        let err = load(&a).unwrap_err().to_string();
        assert!(
            err.starts_with("database-url") && !err.contains("hunter"),
            "{err}"
        );
        let mut a = args();
        a.set.api.api_base = Some("https://AC1:hunter7@api.twilio.com".into());
        let err = load(&a).unwrap_err().to_string();
        assert!(
            err.contains("carries credentials") && !err.contains("hunter"),
            "{err}"
        );
    }

    #[test]
    fn the_pseudonym_key_is_read_checked_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "hunter8-pseudonym-key\r\n").unwrap();
        let mut a = args();
        a.set.pseudonym.pseudonym_key_file = Some(path.clone());
        a.set.pseudonym.pseudonymize = Some(true);
        let from_file = load(&a).unwrap().pseudonyms(false).unwrap();
        let mut b = args();
        b.set.pseudonym.pseudonym_key = Some("hunter8-pseudonym-key".into());
        b.set.pseudonym.pseudonymize = Some(true);
        let direct = load(&b).unwrap();
        assert_eq!(
            from_file.mode(),
            direct.pseudonyms(false).unwrap().mode(),
            "a trailing \\r\\n is not part of the key"
        );
        let shown = format!("{from_file:?} {a:?} {b:?} {direct:?}");
        assert!(!shown.contains("hunter8"), "{shown}");

        std::fs::write(&path, "short\r\n").unwrap();
        let err = load(&a).unwrap().pseudonyms(false).unwrap_err().to_string();
        assert!(err.starts_with("pseudonym-key-file: "), "{err}");
        assert!(
            err.ends_with("is 5 bytes long; at least 16 are required"),
            "{err}"
        );
        a.set.pseudonym.pseudonym_key_file = None;
        let err = load(&a).unwrap().pseudonyms(false).unwrap_err().to_string();
        assert!(err.starts_with("pseudonymize: "), "{err}");
    }

    /// A key nothing uses is neither read nor checked: a missing file, or both forms given,
    /// stop only an export that pseudonymizes (or whose job turns it on).
    #[test]
    fn an_unused_pseudonym_key_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("c.toml");
        std::fs::write(&config, "pseudonym_key_file = \"/nonexistent/key\"\n").unwrap();
        let mut a = args();
        a.config = Some(config);
        let c = load(&a).expect("loading never reads the key");
        assert_eq!(c.pseudonyms(false).unwrap().mode(), PseudonymMode::Clear);
        let err = c.pseudonyms(true).unwrap_err().to_string();
        assert!(
            err.starts_with("pseudonym-key-file: cannot read /nonexistent/key"),
            "{err}"
        );
        a.set.pseudonym.pseudonymize = Some(true);
        assert!(load(&a).unwrap().pseudonyms(false).is_err());
    }

    /// Flag or env, in either form, beats the configuration file, in either form; both forms
    /// in one layer are refused. The same for the Auth Token and the pseudonym key.
    #[test]
    fn secrets_come_from_one_layer_and_one_form() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key");
        std::fs::write(&key_file, "key-from-the-file-0123\n").unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "token-from-the-file\n").unwrap();
        let config = dir.path().join("c.toml");
        std::fs::write(
            &config,
            "pseudonym_key = \"key-from-the-config-0123\"\nauth_token = \"token-from-the-config\"\n",
        )
        .unwrap();
        let fingerprint = |k: &[u8]| {
            PseudonymMode::Pseudonymized(PseudonymKey::new(k).unwrap().fingerprint().clone())
        };
        let mut a = args();
        a.config = Some(config.clone());
        a.set.pseudonym.pseudonymize = Some(true);
        let c = load(&a).unwrap();
        assert_eq!(
            c.pseudonyms(false).unwrap().mode(),
            fingerprint(b"key-from-the-config-0123")
        );
        assert_eq!(c.auth_token().unwrap().expose(), "token-from-the-config");
        a.set.pseudonym.pseudonym_key_file = Some(key_file.clone());
        a.set.api.auth_token_file = Some(token_file.clone());
        let c = load(&a).unwrap();
        assert_eq!(
            c.pseudonyms(false).unwrap().mode(),
            fingerprint(b"key-from-the-file-0123")
        );
        assert_eq!(c.auth_token().unwrap().expose(), "token-from-the-file");

        a.set.pseudonym.pseudonym_key = Some("key-from-the-env-01234".into());
        let err = load(&a).unwrap().pseudonyms(false).unwrap_err().to_string();
        assert!(
            err.contains("both --pseudonym-key and --pseudonym-key-file")
                && err.ends_with("give one"),
            "{err}"
        );
        a.set.api.auth_token = Some("token-from-the-env".into());
        let err = load(&a).unwrap_err().to_string();
        assert!(
            err.contains("both --auth-token and --auth-token-file"),
            "{err}"
        );

        let both = dir.path().join("both.toml");
        std::fs::write(
            &both,
            format!(
                "pseudonym_key = \"key-from-the-config-0123\"\npseudonym_key_file = {:?}\n",
                key_file.display().to_string()
            ),
        )
        .unwrap();
        let mut b = args();
        b.config = Some(both);
        b.set.pseudonym.pseudonymize = Some(true);
        let err = load(&b).unwrap().pseudonyms(false).unwrap_err().to_string();
        assert!(
            err.contains("sets both pseudonym_key and pseudonym_key_file; give one"),
            "{err}"
        );
        assert!(!err.contains("key-from"), "{err}");
    }

    /// The stages own their settings types: only the edge (`cli`, `commands`, `main`) and
    /// `config` itself name `config`.
    #[test]
    fn no_stage_imports_config() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut dirs = vec![src.clone()];
        let mut offenders = Vec::new();
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let rel = path
                    .strip_prefix(&src)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let edge = ["commands", "config", "main.rs"]
                    .iter()
                    .any(|e| rel.starts_with(e));
                if path.is_dir() {
                    dirs.push(path);
                } else if !edge
                    && std::fs::read_to_string(&path)
                        .unwrap()
                        .contains("crate::config")
                {
                    offenders.push(rel);
                }
            }
        }
        assert!(offenders.is_empty(), "{offenders:?} use crate::config");
    }
}
