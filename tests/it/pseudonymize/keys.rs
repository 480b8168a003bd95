//! The key from the environment or a file; bad keys stop before any work.

use super::*;
use crate::support::*;

#[tokio::test]
async fn the_key_comes_from_the_environment_or_a_file_and_bad_keys_stop_before_any_work() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let args = backfill("calls", DAYS[3], DAYS[3]);
    let file = app.dir.path().join("pseudonym.key");
    let requests = app.sim.requests().len();

    // Without a key, too short, empty, unreadable: exit 2, nothing written, no request made.
    std::fs::write(&file, "short\n").unwrap();
    let empty = app.dir.path().join("empty.key");
    std::fs::write(&empty, "\n").unwrap();
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            vec![("TWILIO_EXPORT_PSEUDONYMIZE", "true".into())],
            "pseudonymize: pseudonymization is on but there is no key",
        ),
        (
            vec![("TWILIO_EXPORT_PSEUDONYM_KEY", "fifteen bytes!!".into())],
            "pseudonym-key: the key is 15 bytes long; at least 16 are required",
        ),
        (
            vec![(
                "TWILIO_EXPORT_PSEUDONYM_KEY_FILE",
                file.display().to_string(),
            )],
            "is 5 bytes long",
        ),
        (
            vec![(
                "TWILIO_EXPORT_PSEUDONYM_KEY_FILE",
                empty.display().to_string(),
            )],
            "the key is empty",
        ),
        (
            vec![(
                "TWILIO_EXPORT_PSEUDONYM_KEY_FILE",
                "/nonexistent/key".into(),
            )],
            "pseudonym-key-file: cannot read /nonexistent/key",
        ),
    ];
    for (mut env, says) in cases {
        // A key is read only when it is used.
        env.push(("TWILIO_EXPORT_PSEUDONYMIZE", "true".into()));
        let out = cli_env(&app, &args, &env).await;
        assert_eq!(out.status.code(), Some(2), "{env:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{says:?} in {}", stderr(&out));
    }
    let jobs = calls_job(&app, "pseudonymize = true\n");
    let out = run_job(&app, &jobs, &[]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("calls.toml: pseudonymize:"),
        "{}",
        stderr(&out)
    );
    assert!(files_below(&app.output()).is_empty());
    assert_eq!(
        app.sim.requests().len(),
        requests,
        "no request before the key is good"
    );

    // The file's one trailing newline is not part of the key: the same key as the variable.
    std::fs::write(&file, format!("{KEY}\n")).unwrap();
    let from_file = vec![
        ("TWILIO_EXPORT_PSEUDONYMIZE", "true".to_owned()),
        (
            "TWILIO_EXPORT_PSEUDONYM_KEY_FILE",
            file.display().to_string(),
        ),
    ];
    assert_success(&cli_env(&app, &args, &from_file).await);
    assert_success(&cli_env(&app, &args, &keyed(KEY)).await);
    assert_eq!(mode(&app).await, "pseudonymized");
    // A key without --pseudonymize is unused: the day (every partition) is written in clear.
    let unused = [("TWILIO_EXPORT_PSEUDONYM_KEY", KEY.to_owned())];
    assert_success(&cli_env(&app, &args, &unused).await);
    assert_eq!(mode(&app).await, "clear");
    // --pseudonymize on the command line, the key file in a config file.
    let config = app.dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("pseudonym_key_file = {:?}\n", file.display().to_string()),
    )
    .unwrap();
    let mut flags = args.clone();
    flags.extend(["--pseudonymize", "--config", config.to_str().unwrap()]);
    assert_success(&app.cli(&flags).await);
    assert_eq!(mode(&app).await, "pseudonymized");
    let mut off = args.clone();
    off.extend([
        "--pseudonymize",
        "false",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_success(&app.cli(&off).await);
    assert_eq!(mode(&app).await, "clear");
    // The key on the command line works, with a warning that never shows it.
    let mut argv = args.clone();
    argv.extend(["--pseudonymize", "--pseudonym-key", KEY]);
    let out = app.cli(&argv).await;
    assert_success(&out);
    assert!(
        stderr(&out).contains("--pseudonym-key on the command line"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(KEY) && !stdout(&out).contains(KEY));
    assert_eq!(mode(&app).await, "pseudonymized");
}
