//! `--log-format json` (flag, env or config file): every line on stderr is a JSON object —
//! the log's own lines, the failed windows, the final `error: …` — and the events agree on
//! how they spell a resource.

use std::time::Duration;

use twilio_sim::{Faults, Hostile, SimConfig};

use crate::support::*;

/// Every line of `text`, parsed; a line that is not a JSON object fails the test.
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| match serde_json::from_str::<serde_json::Value>(l) {
            Ok(v) if v.is_object() => v,
            _ => panic!("not a JSON object: {l:?}\nin\n{text}"),
        })
        .collect()
}

/// A `--config` file in the app's directory with `text`.
fn config_file(app: &TestApp, text: &str) -> String {
    let path = app.dir.path().join("c.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The config file's `log_format = "json"` applies: a backfill whose windows all fail (every
/// page links to itself) logs progress, failures and its summary as JSON objects only.
#[tokio::test]
async fn a_config_files_json_format_makes_every_stderr_line_json() {
    let app = spawn_app(SimConfig {
        faults: Faults {
            latency: Duration::from_millis(300),
            hostile: Some(Hostile::LinkLoop),
            ..Faults::default()
        },
        ..small_sim()
    })
    .await;
    app.add_all_accounts().await;
    let config = config_file(&app, "log_format = \"json\"\n");
    let mut args = backfill("usage-records", "2026-03-01", "2026-03-01");
    args.extend(["--config", config.as_str()]);
    let out = app
        .cli_with(
            &args,
            &[
                ("TWILIO_EXPORT_PROGRESS_SECS", "0.05"),
                ("RUST_LOG", "info"),
            ],
        )
        .await;

    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let lines = json_lines(&stderr(&out));
    let message = |m: &str| {
        lines
            .iter()
            .filter(|l| l["message"].as_str().is_some_and(|s| s.contains(m)))
            .collect::<Vec<_>>()
    };
    assert_eq!(message(": failed: ").len(), 3, "{lines:#?}");
    for failed in message(": failed: ") {
        assert_eq!(failed["level"], "ERROR");
    }
    let progress = message("Progress");
    let finished = message("Run finished");
    assert!(!progress.is_empty() && finished.len() == 1, "{lines:#?}");
    assert_eq!(progress[0]["resource"], "usage-records");
    assert!(progress[0]["requests_per_second"].is_number(), "{lines:#?}");
    assert_eq!(finished[0]["resource"], "usage-records");
}

/// A configuration error (exit 2) is one JSON object when the file asks for JSON, even when
/// the error is in that same file; the environment's `text` wins over the file.
#[tokio::test]
async fn the_final_error_is_json_when_the_file_asks_for_it_and_env_wins() {
    let app = spawn_app(small_sim()).await;
    let config = config_file(&app, "log_format = \"json\"\nbogus = 1\n");
    let args = ["accounts", "list", "--config", config.as_str()];

    let out = app.cli(&args).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let lines = json_lines(&stderr(&out));
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["level"], "ERROR");
    let message = lines[0]["message"].as_str().unwrap();
    assert!(message.contains("key bogus: unknown key"), "{message}");

    let out = app
        .cli_with(&args, &[("TWILIO_EXPORT_LOG_FORMAT", "text")])
        .await;
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert!(
        text.starts_with("error: config: ") && text.contains("key bogus: unknown key"),
        "{text}"
    );
}

/// A mistake in the command line itself is a JSON object too when the environment or the flag
/// asks for JSON; without either it is the parser's text.
#[tokio::test]
async fn a_command_line_error_is_json_when_json_is_asked_for() {
    let app = spawn_app(small_sim()).await;
    let bad = [
        "backfill",
        "--resource",
        "calls",
        "--from",
        "bad",
        "--to",
        "2026-03-01",
    ];
    let out = app
        .cli_with(&bad, &[("TWILIO_EXPORT_LOG_FORMAT", "json")])
        .await;
    assert_eq!(out.status.code(), Some(2));
    let lines = json_lines(&stderr(&out));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["level"], "ERROR");
    assert!(
        lines[0]["message"].as_str().unwrap().contains("bad"),
        "{lines:?}"
    );
    let mut flagged = vec!["--log-format", "json"];
    flagged.extend(bad);
    let out = app.cli(&flagged).await;
    assert_eq!(json_lines(&stderr(&out)).len(), 1);
    let out = app.cli(&bad).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("error:"), "{}", stderr(&out));
}
