//! What a batch run tells while it goes: not at a terminal, `run` (the scheduler) logs the
//! same periodic progress line as a backfill, and every window's debug line says how many
//! requests it repeated and how long it took.

use std::time::Duration;

use twilio_sim::{Faults, SimConfig};

use crate::support::write_jobs;
use crate::support::*;

/// The unsigned integer after ` {field}=` in a log line.
fn field(line: &str, field: &str) -> Option<u64> {
    let at = line.find(&format!(" {field}="))? + field.len() + 2;
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[tokio::test]
async fn each_window_debug_line_has_its_retries_and_duration() {
    // Dense days (two pages each), half of the attempts answered 500: retried.
    let app = spawn_app(SimConfig {
        calls_per_day: 1200,
        faults: Faults {
            server_error: 0.4,
            ..Faults::default()
        },
        ..small_sim()
    })
    .await;
    app.add_all_accounts().await;
    let out = app
        .cli_with(
            &backfill("calls", "2026-02-27", "2026-03-02"),
            &[("RUST_LOG", "twilio_export=debug")],
        )
        .await;
    assert_success(&out);
    let log = stderr(&out);
    let windows: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("Window exported"))
        .collect();
    assert_eq!(windows.len(), 12, "{log}");
    let mut retries = 0;
    for line in &windows {
        retries += field(line, "retries").unwrap_or_else(|| panic!("no retries in {line}"));
        assert!(field(line, "ms").is_some(), "no ms in {line}");
    }
    let summary = log
        .lines()
        .find(|l| l.contains("Run finished"))
        .unwrap_or_else(|| panic!("no summary line in\n{log}"));
    let total = field(summary, "retries").unwrap();
    assert!(retries > 0, "no window counted a retry:\n{log}");
    // The first page of the four days read together, which showed them dense and was read
    // again day by day, belongs to no window: its retries count only in the run's total.
    assert!(
        retries <= total,
        "{retries} retries in windows, {total} in the run"
    );
}

/// `run` off a terminal logs a progress line every `TWILIO_EXPORT_PROGRESS_SECS` while its
/// windows are pending, as a backfill does.
#[tokio::test]
async fn run_logs_its_progress_periodically_without_a_terminal() {
    // Every request takes 1.5 s, so the run outlasts several 0.2 s intervals.
    let app = spawn_app(slowed(Duration::from_millis(1500), small_sim())).await;
    app.add_all_accounts().await;
    let calls = "name = \"calls\"\nresource = \"calls\"\nschedule = \"0 0 * * * *\"\nlookback_days = 1\nstart_date = \"2026-03-01\"\n";
    let jobs = write_jobs(&app, &[("calls.toml", calls)]);
    let env = [
        ("TWILIO_EXPORT_NOW", app.sim.now().to_rfc3339()),
        ("TWILIO_EXPORT_JOBS", jobs.display().to_string()),
        ("TWILIO_EXPORT_PROGRESS_SECS", "0.2".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = app.cli_with(&["run", "--job", "calls"], &env).await;
    assert_success(&out);
    let log = stderr(&out);
    let progress = log
        .lines()
        .find(|l| l.contains("Progress"))
        .unwrap_or_else(|| panic!("no progress line in\n{log}"));
    // 3 accounts, 2 days each (the start date through today).
    assert_eq!(field(progress, "windows_total"), Some(6), "{progress}");
    for name in [
        "windows_done",
        "rows",
        "requests",
        "retries",
        "throttled",
        "failed",
    ] {
        assert!(
            field(progress, name).is_some(),
            "{name} missing in {progress}"
        );
    }
}
