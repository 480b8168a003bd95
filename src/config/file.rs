//! The TOML configuration file (`--config FILE`): the same keys as the long flags, spelled
//! `database_url` or `database-url` (the fields of `cli::options`).
//!
//! A file may hold the Auth Token and a database password, so no message quotes it: errors
//! name the file, the line (and column) and the key, never the line's content. (`toml`'s own
//! error text shows the offending line, which is why it is not used.)

use std::collections::BTreeMap;
use std::path::Path;

use super::ConfigError;
use crate::cli::Settings;

/// Reads and checks the file.
pub(super) fn read(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(format!("config: cannot read {}: {e}", path.display())))?;
    let table: BTreeMap<String, toml::Spanned<toml::Value>> =
        toml::from_str(&text).map_err(|e| syntax_error(path, &text, &e))?;
    let mut settings = Settings::default();
    let mut seen = Vec::new();
    for (key, value) in table {
        let name = key.replace('-', "_");
        let (line, _) = position(&text, value.span().start);
        let fail = |problem: &dyn std::fmt::Display| {
            ConfigError::new(format!(
                "config: {}, line {line}, key {}: {problem}",
                path.display(),
                shown_key(&name)
            ))
        };
        if seen.contains(&name) {
            return Err(fail(&"set twice (as - and as _)"));
        }
        settings
            .set(&name, value.into_inner())
            .map_err(|e| fail(&e))?;
        seen.push(name);
    }
    Ok(settings)
}

/// The file's `log_format` (or `log-format`) if it is readable TOML that sets it as a string,
/// whatever its other keys are; [`read`] checks the whole file later.
pub(super) fn peek_log_format(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    ["log_format", "log-format"]
        .iter()
        .find_map(|key| table.get(*key)?.as_str().map(str::to_owned))
}

/// A file that is not TOML: where, and which key's line, but not the line.
fn syntax_error(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let mut msg = format!("config: {}", path.display());
    if let Some(span) = e.span() {
        let (line, column) = position(text, span.start);
        msg.push_str(&format!(", line {line}, column {column}"));
        if let Some(key) = key_of_line(text, span.start) {
            msg.push_str(&format!(", key {}", shown_key(&key)));
        }
    }
    // The parser's own words ("invalid string", "expected `=`") come from the grammar, not
    // from the input.
    // Some of them quote the input (`invalid type: string "…"`): quoted text is left out.
    let reason: Vec<String> = e
        .message()
        .lines()
        .map(|l| without_quoted(l.trim()))
        .collect();
    msg.push_str(&format!(": not valid TOML ({})", reason.join("; ")));
    ConfigError::new(msg)
}

/// The 1-based line and column (in characters) of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The key a line assigns (`key = …`), if the line has that shape.
fn key_of_line(text: &str, offset: usize) -> Option<String> {
    let offset = floor_char_boundary(text, offset);
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let bare = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    (!key.is_empty() && key.chars().all(bare)).then(|| key.replace('-', "_"))
}

/// `text` with whatever stands between double quotes replaced by `…`.
fn without_quoted(text: &str) -> String {
    text.split('"')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { "…" } else { part })
        .collect::<Vec<_>>()
        .join("\"")
}

/// A key as a message may show it: one that reads like an option name (lower-case letters
/// and `_`, as every key is), else not at all — a token pasted on a line of its own is a key
/// to the parser.
fn shown_key(key: &str) -> String {
    let plain = key.len() <= 40 && key.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    if plain && !key.is_empty() {
        key.to_owned()
    } else {
        "(not shown: it does not read like an option name)".to_owned()
    }
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut i = offset.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const TOKEN: &str = "s3cr3t-T0KEN-value";

    fn error_for(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        read(&path).unwrap_err().to_string()
    }

    #[test]
    fn malformed_files_name_file_line_and_key_but_never_quote_the_line() {
        let cases = [
            (
                format!("output = \"x\"\nauth_token = \"{TOKEN}\n"),
                2,
                Some("auth_token"),
            ),
            (format!("auth_token = {TOKEN}\n"), 1, Some("auth_token")),
            (
                format!("\n\nauth-token = \"{TOKEN}\" x\n"),
                3,
                Some("auth_token"),
            ),
            (
                format!("auth_token = \"{TOKEN}\\q\"\n"),
                1,
                Some("auth_token"),
            ),
            (
                format!("database_url = 'postgres://u:{TOKEN}@h/db\n"),
                1,
                Some("database_url"),
            ),
            (
                format!("auth_token = \"{TOKEN}\"\nauth_token = \"{TOKEN}\"\n"),
                2,
                Some("auth_token"),
            ),
            (format!("auth_token = [\"{TOKEN}\",\n"), 2, None),
            (format!("{TOKEN}\n"), 1, None),
        ];
        for (text, line, key) in cases {
            let err = error_for(&text);
            assert!(!err.contains(TOKEN) && !err.contains("s3cr3t"), "{err}");
            assert!(
                err.starts_with("config: ") && err.contains("c.toml"),
                "{err}"
            );
            assert!(err.contains(&format!("line {line}")), "{text:?}: {err}");
            if let Some(key) = key {
                assert!(err.contains(&format!("key {key}")), "{text:?}: {err}");
            }
        }
    }

    #[test]
    fn a_wrong_type_names_the_key_and_the_type_not_the_value() {
        let err = error_for("output = \"x\"\nauth_token = 123456789\n");
        assert!(!err.contains("123456789"), "{err}");
        assert!(
            err.contains("line 2, key auth_token: expected a string, found integer"),
            "{err}"
        );
    }

    #[test]
    fn unknown_and_doubled_keys_are_errors() {
        let err = error_for("outptu = \"x\"\n");
        assert!(err.contains("key outptu: unknown key"), "{err}");
        for text in [
            "9f8e7d6c5b4a = 1\n",
            "[9f8e7d6c5b4a]\n",
            "x.9f8e7d6c5b4a = 1\n",
        ] {
            let err = error_for(text);
            assert!(!err.contains("9f8e7d6c5b4a"), "{err}");
        }
        let err = error_for("rate-limit = 1\nrate_limit = 2\n");
        assert!(err.contains("set twice"), "{err}");
    }

    #[test]
    fn both_spellings_of_a_key_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "database-url = \"sqlite://x.db\"\njobs_dir = \"j\"\n",
        )
        .unwrap();
        let s = read(&path).unwrap();
        assert!(s.database.database_url.is_some());
        assert_eq!(s.jobs.jobs_dir, Some(PathBuf::from("j")));
    }
}
