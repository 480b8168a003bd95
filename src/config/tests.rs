use super::*;
use crate::pseudonym::{PseudonymKey, PseudonymMode};

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
    a.set.output.output = Some("az://me:hunter5@store.example.com/x".into());
    let c = load(&a).unwrap();
    let shown = format!("{c:?} {} {} {a:?}", c.database_url, c.output);
    assert!(!shown.contains("hunter"), "{shown}");
    assert!(
        shown.contains("postgres://me:****@db/x?password=****"),
        "{shown}"
    );
    assert!(c.database_url.expose().contains("hunter2"));

    a.set.output.output = Some("az://me:hunter5@store.example.com/x?sig=hunter6".into());
    let err = format!("{:#}", load(&a).unwrap_err());
    assert!(err.contains("query") && !err.contains("hunter"), "{err}");
    a.set.output.output = None;

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
        err.contains("both --pseudonym-key and --pseudonym-key-file") && err.ends_with("give one"),
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

#[test]
fn a_token_file_is_read_small_without_its_byte_order_mark_and_must_hold_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let token = |text: &[u8]| {
        let path = dir.path().join("token");
        std::fs::write(&path, text).unwrap();
        let mut a = args();
        a.set.api.auth_token_file = Some(path);
        load(&a).and_then(|c| c.auth_token().cloned())
    };
    assert_eq!(
        token(b"\xef\xbb\xbftoken-with-a-bom\r\n").unwrap().expose(),
        "token-with-a-bom"
    );
    for (text, says) in [
        (&b"first-line\nsecond-line\n"[..], "at position 11"),
        (b"nul\0inside", "at position 4"),
        (b"\xff\xfe", "is not text"),
    ] {
        let err = token(text).err().unwrap().to_string();
        assert!(err.contains(says), "{err}");
        assert!(
            !err.contains("first-line") && !err.contains("nul\0"),
            "{err}"
        );
    }
    let huge = vec![b'a'; 64 * 1024 + 1];
    let err = token(&huge).err().unwrap().to_string();
    // So is /dev/zero, read no further than that (not tried here: without the bound, a test
    // of it would eat the machine's memory).
    assert!(err.contains("holds more than 65536 bytes"), "{err}");
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

#[test]
fn the_log_format_is_peeked_from_flag_or_env_else_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    let peek = |flag: Option<&str>, file: &str| {
        std::fs::write(&path, file).unwrap();
        let mut global = GlobalArgs {
            config: Some(path.clone()),
            ..GlobalArgs::default()
        };
        global.log.log_format = flag.map(str::to_owned);
        peek_log_format(&global)
    };
    assert_eq!(peek(None, "log_format = \"json\"\n"), LogFormat::Json);
    assert_eq!(peek(None, "log-format = \"json\"\n"), LogFormat::Json);
    // Another key's mistake does not hide the file's format.
    assert_eq!(
        peek(None, "bogus = 1\nlog_format = \"json\"\n"),
        LogFormat::Json
    );
    assert_eq!(
        peek(Some("text"), "log_format = \"json\"\n"),
        LogFormat::Text
    );
    assert_eq!(
        peek(Some("json"), "log_format = \"text\"\n"),
        LogFormat::Json
    );
    assert_eq!(peek(None, "log_format = \"xml\"\n"), LogFormat::Text);
    assert_eq!(peek(None, "not toml ="), LogFormat::Text);
}
