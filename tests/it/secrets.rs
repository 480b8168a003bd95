use tokio::io::AsyncReadExt;

use crate::support::*;

/// Postgres passwords, in the user-info and as query parameters.
const PASSWORDS: [&str; 3] = ["pw-in-userinfo", "pw-in-query", "pw-in-sslquery"];

#[tokio::test]
async fn a_malformed_config_file_names_line_and_key_but_never_shows_the_token() {
    let app = spawn_app(small_sim()).await;
    let file = app.dir.path().join("settings.toml");
    let secret = "file-token-Zq8x";
    std::fs::write(
        &file,
        format!("output = \"out\"\nauth_token = \"{secret}\nrate_limit = 3\n"),
    )
    .unwrap();
    let out = app
        .cli(&["--config", file.to_str().unwrap(), "status"])
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("settings.toml, line 2, column") && err.contains("key auth_token"),
        "{err}"
    );
    assert!(
        !err.contains(secret) && !stdout(&out).contains(secret),
        "{err}"
    );
}

#[tokio::test]
async fn database_passwords_never_appear_in_messages_or_logs() {
    let app = spawn_app(small_sim()).await;
    // A "database" that accepts connections and closes them at once: the connection fails
    // immediately, after the URL was parsed (and sqlx had its say about its parameters).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    let [user, query, ssl] = PASSWORDS;
    let url = format!(
        "postgres://me:{user}@127.0.0.1:{port}/db?password={query}&sslpassword={ssl}&sslmode=disable"
    );
    let out = app
        .cli_with(
            &["status"],
            &[("DATABASE_URL", &url), ("RUST_LOG", "debug")],
        )
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("cannot open the database"), "{err}");
    assert!(
        err.contains(&format!(
            "postgres://me:****@127.0.0.1:{port}/db?password=****&sslpassword=****"
        )),
        "{err}"
    );
    for password in PASSWORDS {
        assert!(!err.contains(password), "{password} shown: {err}");
    }

    let out = app
        .cli_with(
            &["status"],
            &[(
                "DATABASE_URL",
                "mysql://me:pw-in-userinfo@db/x?password=pw-in-query",
            )],
        )
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("database-url") && !stderr(&out).contains("pw-in"));
}

/// A value that reaches a text log line (here the `error` an Authorize redirect carries, which
/// the receiver logs) can neither forge a log line nor send the terminal escapes.
#[tokio::test]
async fn control_characters_in_logged_values_are_escaped() {
    let app = spawn_app(small_sim()).await;
    let (mut serve, base) = spawn_serve(&app, "info").await;

    let answer = reqwest::get(format!(
        "{base}/connect/authorize?error=denied%0AINFO%20forged%20line%1B%5B2J"
    ))
    .await
    .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    // The line was written before the answer was sent; stderr is unbuffered.
    serve.kill().await.unwrap();
    let mut logs = String::new();
    serve
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .await
        .unwrap();

    assert!(
        logs.contains("denied\\nINFO forged line\\u{1b}[2J"),
        "escaped value missing: {logs}"
    );
    assert!(
        !logs.contains('\u{1b}'),
        "an escape reached the log: {logs:?}"
    );
    assert!(
        !logs.lines().any(|l| l.starts_with("INFO forged")),
        "a forged line: {logs}"
    );
}

#[tokio::test]
async fn a_token_on_the_command_line_is_warned_about_once() {
    let app = spawn_app(small_sim()).await;
    let warning = "can be read by every local user";
    for args in [
        &["accounts", "verify", "--auth-token", TOKEN][..],
        &["accounts", "verify", &format!("--auth-token={TOKEN}")][..],
    ] {
        let out = app
            .command(args)
            .env_remove("TWILIO_AUTH_TOKEN")
            .output()
            .await
            .unwrap();
        assert_success(&out);
        assert_eq!(stderr(&out).matches(warning).count(), 1, "{}", stderr(&out));
        assert!(!stderr(&out).contains(TOKEN));
    }
    // From the environment or a file: no warning.
    let out = app.cli(&["accounts", "verify"]).await;
    assert_success(&out);
    assert!(!stderr(&out).contains(warning), "{}", stderr(&out));
    let file = app.dir.path().join("token");
    std::fs::write(&file, TOKEN).unwrap();
    let out = app
        .command(&[
            "accounts",
            "verify",
            "--auth-token-file",
            file.to_str().unwrap(),
        ])
        .env_remove("TWILIO_AUTH_TOKEN")
        .output()
        .await
        .unwrap();
    assert_success(&out);
    assert!(!stderr(&out).contains(warning), "{}", stderr(&out));

    // A command that takes no token refuses one without showing it.
    for args in [
        &["status", &format!("--auth-token={TOKEN}")][..],
        &["status", "--auth-token", TOKEN][..],
    ] {
        let out = app.cli(args).await;
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("--auth-token"), "{}", stderr(&out));
        assert!(!stderr(&out).contains(TOKEN), "{}", stderr(&out));
    }

    // --help shows the environment's values, but not these: locations that may hold
    // credentials (a signed URL, a user and password) never.
    let db = "postgres://me:pw-in-userinfo@127.0.0.1/db";
    let env = [
        ("DATABASE_URL", db),
        ("EXPORT_OUTPUT", "s3://bucket/export?sig=out-signature"),
        ("TWILIO_API_BASE", "http://me:api-password@127.0.0.1:9"),
        (
            "TWILIO_CONNECT_BASE",
            "http://me:connect-password@127.0.0.1:9",
        ),
        (
            "TWILIO_EXPORT_PUBLIC_URL",
            "https://me:public-password@x.example",
        ),
    ];
    for command in ["backfill", "run", "schedule", "accounts", "serve", "status"] {
        let help = stdout(&app.cli_with(&[command, "--help"], &env).await);
        for secret in ["pw-in", "out-signature", "-password", TOKEN] {
            assert!(
                !help.contains(secret),
                "{command} --help shows {secret}: {help}"
            );
        }
    }
    let help = stdout(&app.cli_with(&["backfill", "--help"], &env).await);
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for text in [
        "[env: TWILIO_AUTH_TOKEN]",
        "[env: TWILIO_AUTH_TOKEN_FILE",
        "visible to every local user",
    ] {
        assert!(help.contains(text), "--help lacks {text:?}: {help}");
    }
}
