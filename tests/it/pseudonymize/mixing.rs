//! Modes recorded per partition and refused when mixed, until exported again (SQLite, Postgres).

use serde_json::{json, Value};

use super::*;
use crate::support::*;

#[tokio::test]
async fn mixing_modes_is_refused_until_the_partitions_are_exported_again() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let accounts = app.sim.account_sids();
    assert_success(&app.cli(&backfill("calls", DAYS[0], DAYS[3])).await);
    let clear = snapshot(&app.output());
    let file = partition_file(&app.output(), "calls", &accounts[0], day(DAYS[3]));
    assert_eq!(key_metadata(&file), None);

    // Pseudonymizing only the last day would leave the first three in clear.
    let out = cli_env(&app, &backfill("calls", DAYS[3], DAYS[3]), &keyed(KEY)).await;
    let redo = format!(
        "backfill --resource calls --from {} --to {}",
        DAYS[0], DAYS[3]
    );
    assert_refused(
        &out,
        &clear,
        &app,
        &[
            "calls: this export writes phone numbers and names pseudonymized with key",
            &format!(
                "{} has 4 partitions from {} to {} written in clear",
                accounts[0], DAYS[0], DAYS[3]
            ),
            &redo,
            "without --account",
        ],
    );
    // So would a scheduled run, and a job turning it on for itself.
    let jobs = calls_job(&app, "");
    assert_refused(
        &run_job(&app, &jobs, &keyed(KEY)).await,
        &clear,
        &app,
        &[&redo],
    );
    let jobs = calls_job(&app, "pseudonymize = true\n");
    let key_only = [("TWILIO_EXPORT_PSEUDONYM_KEY", KEY.to_owned())];
    assert_refused(
        &run_job(&app, &jobs, &key_only).await,
        &clear,
        &app,
        &[&redo],
    );
    // `schedule` checks every job before it starts, and exits.
    let mut env = keyed(KEY);
    env.push(("TWILIO_EXPORT_NOW", app.sim.now().to_rfc3339()));
    env.push((
        "TWILIO_EXPORT_JOBS",
        calls_job(&app, "").display().to_string(),
    ));
    assert_refused(
        &cli_env(&app, &["schedule"], &env).await,
        &clear,
        &app,
        &[&redo],
    );
    // A clear run is fine.
    assert_success(&run_job(&app, &calls_job(&app, ""), &[]).await);

    // A backfill over every partition replaces them all.
    assert_success(&cli_env(&app, &backfill("calls", DAYS[0], DAYS[3]), &keyed(KEY)).await);
    let (_, fingerprint) = python_hmacs(KEY, &[]);
    for p in modes(&app).await.values() {
        assert_eq!(p["pseudonym"], "pseudonymized", "{p}");
        assert_eq!(p["key_fingerprints"], json!([fingerprint]), "{p}");
    }
    let pseudonymized = snapshot(&app.output());
    // Now the clear run is refused, and a job that turns pseudonymization off for itself too.
    assert_refused(
        &run_job(&app, &calls_job(&app, ""), &[]).await,
        &pseudonymized,
        &app,
        &[
            "writes phone numbers and names in clear",
            "(without --pseudonymize)",
        ],
    );
    let off = calls_job(&app, "pseudonymize = false\n");
    assert_refused(
        &run_job(&app, &off, &keyed(KEY)).await,
        &pseudonymized,
        &app,
        &["in clear"],
    );
    // The same key goes on.
    assert_success(&run_job(&app, &calls_job(&app, ""), &keyed(KEY)).await);

    // Rotating the key: the new key is refused until everything is exported under it.
    let (_, rotated) = python_hmacs(OTHER_KEY, &[]);
    let before = snapshot(&app.output());
    let out = run_job(&app, &calls_job(&app, ""), &keyed(OTHER_KEY)).await;
    assert_refused(
        &out,
        &before,
        &app,
        &[
            &rotated,
            &format!("written pseudonymized with key {fingerprint}"),
        ],
    );
    assert_success(
        &cli_env(
            &app,
            &backfill("calls", DAYS[0], DAYS[3]),
            &keyed(OTHER_KEY),
        )
        .await,
    );
    assert_success(&run_job(&app, &calls_job(&app, ""), &keyed(OTHER_KEY)).await);
    for p in modes(&app).await.values() {
        assert_eq!(p["key_fingerprints"], json!([rotated]), "{p}");
    }
}

/// Usage records carry no phone number or name: their mode is recorded, never refused, and
/// status never calls them mixed nor advises exporting them again.
#[tokio::test]
async fn usage_records_record_their_mode_and_status_never_calls_them_mixed() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    assert_success(&app.cli(&backfill("usage-records", DAYS[0], DAYS[2])).await);
    assert_success(
        &cli_env(
            &app,
            &backfill("usage-records", DAYS[3], DAYS[3]),
            &keyed(KEY),
        )
        .await,
    );

    let (_, fingerprint) = python_hmacs(KEY, &[]);
    let modes = modes(&app).await;
    assert_eq!(modes.len(), 3);
    for p in modes.values() {
        assert_eq!(p["pseudonym"], "unaffected", "{p}");
        assert_eq!(p["key_fingerprints"], json!([fingerprint]), "{p}");
        assert_eq!(p["clear_partitions"], 3, "{p}");
    }
    let status = stdout(&app.cli(&["status"]).await);
    assert!(status.contains("no phone numbers or names"), "{status}");
    assert!(
        !status.contains("MIXED") && !status.contains("export them again"),
        "{status}"
    );
}

/// The mode per partition, the refusal and the replacement on a Postgres registry.
#[tokio::test]
async fn modes_are_recorded_and_checked_on_postgres_too() {
    let Some(url) = crate::support::fresh_database().await else {
        return;
    };
    let app = spawn_app(small_sim()).await;
    let pg = vec![("DATABASE_URL", url.clone())];
    let sids = app.sim.account_sids();
    let mut add = vec!["accounts", "add"];
    add.extend(sids.iter().map(String::as_str));
    assert_success(&cli_env(&app, &add, &pg).await);
    assert_success(&cli_env(&app, &backfill("calls", DAYS[2], DAYS[3]), &pg).await);
    let clear = snapshot(&app.output());

    let with_key = [pg.clone(), keyed(KEY)].concat();
    let out = cli_env(&app, &backfill("calls", DAYS[3], DAYS[3]), &with_key).await;
    let says = format!(
        "{} has 2 partitions from {} to {} written in clear",
        sids[0], DAYS[2], DAYS[3]
    );
    assert_refused(&out, &clear, &app, &[&says]);
    assert_success(&cli_env(&app, &backfill("calls", DAYS[2], DAYS[3]), &with_key).await);

    let (_, fingerprint) = python_hmacs(KEY, &[]);
    let status = cli_env(&app, &["status", "--json"], &pg).await;
    assert_success(&status);
    let doc: Value = serde_json::from_slice(&status.stdout).unwrap();
    let partitions = doc["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 3);
    for p in partitions {
        assert_eq!(p["pseudonym"], "pseudonymized", "{p}");
        assert_eq!(p["key_fingerprints"], json!([fingerprint]), "{p}");
    }
    // The registry holds the fingerprint, never the key.
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let stored: Vec<(Option<String>,)> =
        sqlx::query_as("select distinct pseudonym from partitions")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(stored, vec![(Some(fingerprint),)]);
}
