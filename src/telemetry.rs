//! Logging: `tracing` to stderr as text or JSON, filtered by `RUST_LOG` (default `info`).
//!
//! Logged values come from outside (API answers, callback parameters, paths). In text logs
//! every control character, Unicode line separator and bidirectional control in a field or
//! message is escaped ([`escape_controls`]), so a value can neither start a forged log line
//! (`\n`, U+2028) nor drive the terminal (`\x1b[2J`) nor make a line read backwards (U+202E).
//! JSON logs are escaped by JSON: control characters are, line separators and bidirectional
//! controls stay inside their string, where a JSON reader sees them as data. Colours are used only when stderr is a terminal.
//!
//! Lines the commands write to stderr for the operator (a failed window, the final `error: …`,
//! an account skipped) go through [`say`]: as they are in text mode, one JSON object each in
//! JSON mode, so that JSON logs are JSON lines only.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::{IsTerminal, Write as _};
use std::sync::OnceLock;

use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::EnvFilter;

pub use tracing::Level;

/// How log lines are written: `--log-format text` or `json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// sqlx warns about connection parameters it does not know and prints their values, which
/// may be passwords (`?sslpassword=…`); that warning is never shown.
const QUIET: &str = "sqlx_postgres::options=error";

/// The format [`init`] installed, which [`say`] follows.
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init(format: LogFormat) {
    let _ = FORMAT.set(format);
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,hyper=warn,reqwest=warn"))
        .add_directive(QUIET.parse().expect("a valid directive"));
    // A log line that cannot be written (stderr closed: `schedule 2>&1 | logger` after the
    // logger died) is dropped: tracing-subscriber would otherwise report it with `eprintln!`,
    // which panics on that same closed stderr, in whatever task was logging.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Text => builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .fmt_fields(EscapedFields::default())
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Writes a line for the operator to stderr, whatever `RUST_LOG` says: `message` as it is in
/// text mode (and before [`init`]); in JSON mode an object with `timestamp`, `level`,
/// `message` and `target`, as the log's own lines have. A line that cannot be written (stderr
/// closed) is dropped, not a panic.
pub fn say(level: Level, message: impl fmt::Display) {
    let line = line(FORMAT.get().copied(), level, &message.to_string());
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// The line [`say`] writes (with its newline).
fn line(format: Option<LogFormat>, level: Level, message: &str) -> String {
    match format {
        Some(LogFormat::Json) => {
            let object = serde_json::json!({
                "timestamp": chrono::Utc::now()
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "level": level.as_str(),
                "message": message,
                "target": env!("CARGO_CRATE_NAME"),
            });
            format!("{object}\n")
        }
        Some(LogFormat::Text) | None => format!("{message}\n"),
    }
}

/// Whether `c` could break a log line or drive a terminal: a control character, a Unicode
/// line or paragraph separator, or a bidirectional control (which can make a line read other
/// than it is written).
fn escaped(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every control character, line separator or bidirectional control written as
/// an escape (`\n`, `\r`, `\t`, `\u{1b}`, `\u{202e}`).
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let _ = Escaping(&mut out).write_str(text);
    Cow::Owned(out)
}

/// The text formatter's fields (of events and spans) as tracing-subscriber writes them, with
/// control characters escaped. The fields are written without colours, so every control
/// character in them came from a value.
#[derive(Default)]
pub struct EscapedFields(DefaultFields);

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut escaping = Escaping(&mut writer);
        self.0.format_fields(Writer::new(&mut escaping), fields)
    }
}

/// A `fmt::Write` that escapes control characters on their way through.
struct Escaping<W>(W);

impl<W: fmt::Write> fmt::Write for Escaping<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(at) = rest.find(escaped) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().expect("found above");
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                other => write!(self.0, "\\u{{{:x}}}", u32::from(other))?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

/// Log lines written into memory, for tests that read back what was logged.
#[cfg(test)]
#[derive(Clone, Default)]
pub(crate) struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(test)]
impl CapturedLog {
    /// Everything written so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }
}

#[cfg(test)]
impl std::io::Write for CapturedLog {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_nothing_else() {
        assert_eq!(
            escape_controls("a\nb\r\tc\u{1b}[2Jd\u{7f}é"),
            "a\\nb\\r\\tc\\u{1b}[2Jd\\u{7f}é"
        );
        assert!(matches!(escape_controls("plain é"), Cow::Borrowed(_)));
        assert_eq!(
            escape_controls("a\u{202e}b\u{2028}c\u{2066}d"),
            "a\\u{202e}b\\u{2028}c\\u{2066}d"
        );
    }

    #[test]
    fn said_lines_are_json_objects_in_json_mode_and_unchanged_in_text() {
        let said = line(Some(LogFormat::Json), Level::ERROR, "error: \"x\"\nthen");
        assert_eq!(said.matches('\n').count(), 1, "{said}");
        let object: serde_json::Value = serde_json::from_str(&said).unwrap();
        assert_eq!(object["level"], "ERROR");
        assert_eq!(object["message"], "error: \"x\"\nthen");
        assert!(object["timestamp"].as_str().unwrap().ends_with('Z'));
        let text = "calls AC1 2026-03-01: failed: HTTP 500";
        assert_eq!(
            line(Some(LogFormat::Text), Level::ERROR, text),
            format!("{text}\n")
        );
        assert_eq!(line(None, Level::WARN, text), format!("{text}\n"));
    }

    #[test]
    fn text_log_lines_escape_values_and_messages() {
        let buffer = CapturedLog::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .fmt_fields(EscapedFields::default())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("window", path = %"/a\nb");
            let _entered = span.enter();
            let forged = "x\nINFO forged line\u{1b}[2J";
            tracing::warn!(value = %forged, debug = ?forged, "said {forged}");
        });
        let text = buffer.text();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(
            text.contains("value=x\\nINFO forged line\\u{1b}[2J"),
            "{text}"
        );
        assert!(text.contains("said x\\nINFO forged line"), "{text}");
        assert!(text.contains("path=/a\\nb"), "{text}");
    }
}
