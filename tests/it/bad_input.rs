use crate::support::*;

async fn assert_refused(app: &TestApp, args: &[&str], code: i32, message: &str) {
    let out = app.cli(args).await;
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
    assert!(
        stderr(&out).contains(message),
        "{args:?}: stderr lacks {message:?}: {}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(TOKEN) && !stdout(&out).contains(TOKEN));
}

#[tokio::test]
async fn bad_arguments_exit_2_and_write_nothing() {
    let app = spawn_app(small_sim()).await;
    let cases: &[(&[&str], &str)] = &[
        (&["accounts", "add", "AC123"], "not a valid account sid"),
        (
            &["accounts", "add", "CA3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80"],
            "not a valid account sid",
        ),
        (
            &backfill("calls", "2026-03-02", "2026-03-01"),
            "after it ends",
        ),
        (&backfill("calls", "2026-02-30", "2026-03-01"), "--from"),
        (
            &backfill("calls", "2007-12-31", "2026-03-01"),
            "--from: 2007-12-31 is before 2008-01-01",
        ),
        (
            &backfill("usage-records", "2026-03-01", "2999-01-01"),
            "--to: 2999-01-01 has not begun yet",
        ),
        (
            &backfill("calls", "yesterday", "2026-03-01"),
            "'--from <DATE>': not a date",
        ),
        (
            &backfill("messages", "2026-03-01", "2026-03-01"),
            "unknown resource",
        ),
        (
            &[
                "backfill",
                "--resource",
                "calls",
                "--from",
                "2026-03-01",
                "--to",
                "2026-03-01",
                "--account",
                "AC1",
            ],
            "--account",
        ),
        (
            &[
                "backfill",
                "--resource",
                "calls",
                "--from",
                "2026-03-01",
                "--to",
                "2026-03-01",
                "--rate-limit",
                "lots",
            ],
            "rate-limit",
        ),
    ];
    for (args, message) in cases {
        assert_refused(&app, args, 2, message).await;
    }
    assert!(files_below(&app.output()).is_empty());
    assert!(
        !app.dir.path().join("registry.db").exists() || {
            let out = app.cli(&["accounts", "list", "--json"]).await;
            stdout(&out).trim() == "[]"
        }
    );
}

#[tokio::test]
async fn a_missing_token_is_a_configuration_error() {
    let app = spawn_app(small_sim()).await;
    let account = app.sim.account_sids()[0].clone();
    let out = app
        .cli_with(&["accounts", "add", &account], &[("TWILIO_AUTH_TOKEN", "")])
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_nothing_is_registered() {
    let app = spawn_app(small_sim()).await;
    let account = app.sim.account_sids()[0].clone();
    let out = app
        .cli_with(
            &["accounts", "add", &account],
            &[("TWILIO_AUTH_TOKEN", "wrong-token")],
        )
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("refused"), "{}", stderr(&out));
    assert!(stderr(&out).contains("20003"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("wrong-token"));
    assert!(app.accounts_json().await.is_empty());
}

#[tokio::test]
async fn an_unreachable_api_fails_the_windows_and_writes_nothing() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = app
        .cli_with(
            &backfill("calls", "2026-03-01", "2026-03-01"),
            &[("TWILIO_API_BASE", &url)],
        )
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("windows failed"), "{}", stdout(&out));
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));
    assert!(files_below(&app.output().join("calls")).is_empty());
}

#[tokio::test]
async fn a_revoked_account_is_reported_and_skipped_not_failed() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let revoked = app.sim.account_sids()[1].clone();
    app.sim.revoke(&revoked);

    let out = app
        .cli(&backfill("calls", "2026-03-01", "2026-03-02"))
        .await;

    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("{revoked}: deauthorized")),
        "{}",
        stdout(&out)
    );
    assert!(!app
        .output()
        .join("calls")
        .join(format!("account_sid={revoked}"))
        .exists());
    let listed = app.accounts_json().await;
    let entry = listed
        .iter()
        .find(|a| a["sid"] == revoked.as_str())
        .unwrap();
    assert_eq!(entry["status"], "deauthorized");
}

#[tokio::test]
async fn numbers_out_of_range_are_usage_errors_that_give_the_range() {
    let app = spawn_app(small_sim()).await;
    let export = backfill("calls", "2026-03-01", "2026-03-01");
    let with = |extra: &[&'static str]| -> Vec<&str> { [&export[..], extra].concat() };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            with(&["--rate-limit", "4294967295"]),
            "rate-limit: 4294967295 is out of range: expected a whole number from 1 to 10000",
        ),
        (
            with(&["--global-rate-limit", "4294967295"]),
            "from 1 to 10000",
        ),
        (
            with(&["--max-in-flight", "0"]),
            "max-in-flight: 0 is out of range",
        ),
        (with(&["--retry-budget", "99999999999"]), "from 1 to 86400"),
        (
            [&export[..], &["--concurrency", "100000"]].concat(),
            "100000 is not in 1..=256",
        ),
        (vec!["sim", "--days", "0"], "0 is not in 1..=3650"),
        (
            vec!["sim", "--accounts", "18446744073709551616"],
            "--accounts",
        ),
        (vec!["demo", "--days", "4294967295"], "1..=3650"),
    ];
    for (args, message) in &cases {
        assert_refused(&app, args, 2, message).await;
    }
    let out = app
        .cli_with(&export, &[("TWILIO_EXPORT_RATE_LIMIT", "4294967295")])
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(files_below(&app.output()).is_empty());
}

/// `status | head -1` and the like: the reader is gone before the command writes.
#[tokio::test]
async fn a_closed_stdout_ends_the_output_quietly_with_exit_0() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["accounts", "list"],
        &["schema", "--format", "sql"],
        &["--help"],
    ] {
        let (writer, reader) = tokio::net::unix::pipe::pipe().unwrap();
        drop(reader);
        let fd = writer.into_blocking_fd().unwrap();
        // Not `output()`, which would replace stdout with a pipe of its own.
        let out = app
            .command(args)
            .stdout(std::process::Stdio::from(fd))
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
            .wait_with_output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

/// A cause is shown once: not `Not a directory (os error 20): Not a directory (os error 20)`.
#[tokio::test]
async fn an_unwritable_output_shows_the_os_error_once() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let blocker = app.dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let output = blocker.join("export");
    let out = app
        .cli_with(
            &backfill("calls", "2026-03-01", "2026-03-01"),
            &[("EXPORT_OUTPUT", output.to_str().unwrap())],
        )
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("is not writable"), "{err}");
    assert_eq!(err.matches("os error 20").count(), 1, "{err}");
}

/// An output URL whose scheme is not a supported store is refused before anything is done,
/// and the message names what is accepted (an `https://` URL once became an Azure store).
#[tokio::test]
async fn an_unsupported_output_scheme_is_a_usage_error() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    for output in ["https://example.com/bucket/x", "ftp://host/x"] {
        let out = app
            .cli_with(
                &backfill("calls", "2026-03-01", "2026-03-01"),
                &[("EXPORT_OUTPUT", output)],
            )
            .await;
        assert_eq!(out.status.code(), Some(2), "{output}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("unsupported scheme"), "{err}");
        for accepted in [
            "a directory",
            "file://",
            "s3://",
            "gs://",
            "az://",
            "azure://",
        ] {
            assert!(err.contains(accepted), "{output}: {err} lacks {accepted}");
        }
    }
    assert!(app
        .sim
        .requests()
        .iter()
        .all(|r| !r.path.contains("/Calls")));
}

/// Flag over env over file: the file fills only what neither sets, for a command's own
/// options and the global ones alike.
#[tokio::test]
async fn the_environment_wins_over_the_file_and_a_flag_over_both() {
    let app = spawn_app(small_sim()).await;
    let file = app.dir.path().join("settings.toml");
    std::fs::write(
        &file,
        "log_format = \"xml\"\njobs-dir = \"/nonexistent/jobs\"\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();
    let out = app.cli(&["status", "--config", config]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("log-format"), "{}", stderr(&out));

    let env = [("TWILIO_EXPORT_LOG_FORMAT", "json")];
    let out = app.cli_with(&["--config", config, "status"], &env).await;
    assert_success(&out);
    assert!(
        stdout(&out).contains("/nonexistent/jobs"),
        "{}",
        stdout(&out)
    );

    let env = [
        ("TWILIO_EXPORT_LOG_FORMAT", "json"),
        ("TWILIO_EXPORT_JOBS", "env-jobs"),
    ];
    let out = app.cli_with(&["status", "--config", config], &env).await;
    assert_success(&out);
    assert!(stdout(&out).contains("env-jobs"), "{}", stdout(&out));
    let out = app
        .cli_with(
            &["status", "--config", config, "--jobs-dir", "flag-jobs"],
            &env,
        )
        .await;
    assert_success(&out);
    assert!(stdout(&out).contains("flag-jobs"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("env-jobs"), "{}", stdout(&out));
}

/// Shared options may come before the command, as in most tools' cron lines; one this command
/// does not use is ignored with a warning that names it (never its value).
#[tokio::test]
async fn options_before_the_command_are_taken_or_named_as_ignored() {
    let app = spawn_app(small_sim()).await;
    let sid = app.sim.account_sids()[0].clone();
    let elsewhere = format!("sqlite://{}", app.dir.path().join("first.db").display());
    let out = app
        .cli(&["--database-url", &elsewhere, "accounts", "add", &sid])
        .await;
    assert_success(&out);
    assert!(app.dir.path().join("first.db").exists());
    let out = app
        .cli(&[
            "--database-url",
            &elsewhere,
            "--rate-limit",
            "3",
            "--auth-token",
            "s3cr3t-value",
            "accounts",
            "list",
        ])
        .await;
    assert_success(&out);
    assert!(stdout(&out).contains(&sid), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("--rate-limit --auth-token"), "{err}");
    assert!(!err.contains("s3cr3t"), "{err}");
}

/// A registry file that is not a database: the cause is reported at once, not a pool timeout.
#[tokio::test]
async fn a_file_that_is_not_a_database_is_named_with_its_cause() {
    let app = spawn_app(small_sim()).await;
    let file = app.dir.path().join("not-a-db");
    std::fs::write(&file, "x".repeat(200)).unwrap();
    let url = format!("sqlite://{}", file.display());
    let out = app.cli_with(&["status"], &[("DATABASE_URL", &url)]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("file is not a database"), "{err}");
    assert!(!err.contains("timed out"), "{err}");
}

#[tokio::test]
async fn an_in_memory_registry_is_refused_before_anything_is_registered() {
    let app = spawn_app(small_sim()).await;
    let account = app.sim.account_sids()[0].clone();
    for url in [
        "sqlite::memory:",
        "sqlite://",
        "sqlite:",
        "sqlite://:memory:",
        "sqlite://x.db?mode=memory",
    ] {
        let out = app
            .cli_with(
                &["accounts", "add", "--no-verify", &account],
                &[("DATABASE_URL", url)],
            )
            .await;
        assert_eq!(out.status.code(), Some(2), "{url}: {}", stdout(&out));
        assert!(
            stderr(&out).contains("names no file"),
            "{url}: {}",
            stderr(&out)
        );
    }
    // A file is a registry.
    let file = format!("sqlite://{}", app.dir.path().join("kept.db").display());
    let out = app
        .cli_with(
            &["accounts", "add", "--no-verify", &account],
            &[("DATABASE_URL", &file)],
        )
        .await;
    assert_success(&out);
}

#[tokio::test]
async fn a_progress_interval_that_is_not_seconds_is_a_configuration_error() {
    let app = spawn_app(small_sim()).await;
    for value in ["abc", "0", "-1", "NaN", "1e300"] {
        let out = app
            .cli_with(
                &backfill("calls", "2026-03-01", "2026-03-01"),
                &[("TWILIO_EXPORT_PROGRESS_SECS", value)],
            )
            .await;
        assert_eq!(out.status.code(), Some(2), "{value}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("TWILIO_EXPORT_PROGRESS_SECS"),
            "{value}: {}",
            stderr(&out)
        );
    }
    assert!(files_below(&app.output()).is_empty());
}
