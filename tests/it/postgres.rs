//! The registry and the whole pipeline on a real Postgres (`support::postgres` provides it).

use sqlx::Connection;
use twilio_export::domain::Resource;

use crate::support::*;

// The harness's old path, for tests that import it from here.
#[allow(unused_imports)]
use crate::support::fresh_database;

#[tokio::test]
async fn the_whole_pipeline_runs_on_postgres() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let app = spawn_app(small_sim()).await;
    let env = [("DATABASE_URL", url.as_str())];
    let sids = app.sim.account_sids();
    app.add_all_accounts_with(&env).await;

    for resource in ["calls", "usage-records"] {
        let out = app
            .cli_with(&backfill(resource, "2026-03-01", "2026-03-02"), &env)
            .await;
        assert_success(&out);
    }

    assert_output_is_truth(&app, &Resource::ALL, "2026-03-01", "2026-03-02");
    let status = app.cli_with(&["status", "--json"], &env).await;
    assert_success(&status);
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(doc["accounts"].as_array().unwrap().len(), sids.len());
    assert!(!doc["runs"].as_array().unwrap().is_empty());
    // Nothing was written to a SQLite file by mistake.
    assert!(!app.dir.path().join("registry.db").exists());
}

/// The registry reads rows into typed records (sids, resources, days), on SQLite and on
/// Postgres alike, shows them as before in `status --json`, and a stored value that does not
/// parse is reported as corrupt, naming what it is, instead of being passed on as text.
#[tokio::test]
async fn registry_reads_typed_records_and_names_a_corrupt_value() {
    use twilio_export::domain::{AccountSid, PartitionKey, Resource};
    use twilio_export::pseudonym::PseudonymMode;
    use twilio_export::registry::{NewAccount, Registry, RegistryError};

    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![format!("sqlite:{}", dir.path().join("typed.db").display())];
    match fresh_database().await {
        Some(url) => urls.push(url),
        None => eprintln!("registry_reads_typed_records: Postgres skipped, SQLite only"),
    }
    let sid = AccountSid::parse("AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80").unwrap();
    let (first, second) = (day("2026-03-01"), day("2026-03-02"));
    for url in urls {
        let reg = Registry::connect(&url).await.unwrap();
        reg.upsert_account(&NewAccount {
            sid: sid.clone(),
            credential_sid: sid.clone(),
            friendly_name: None,
            owner_account_sid: None,
            verified: true,
            twilio_status: None,
        })
        .await
        .unwrap();
        let run = reg.start_run("backfill", "typed").await.unwrap();
        let key = |day| PartitionKey {
            resource: Resource::UsageRecords,
            account: sid.clone(),
            day,
        };
        reg.record_partition(&key(first), 3, 100, Some("k"), &PseudonymMode::Clear, run)
            .await
            .unwrap();
        reg.record_failure(&key(second), "boom", run).await.unwrap();

        let p = reg.partitions(&sid, Resource::UsageRecords).await.unwrap();
        assert_eq!(p.len(), 1, "{url}");
        assert_eq!(
            (&p[0].account_sid, p[0].resource, p[0].day),
            (&sid, Resource::UsageRecords, first)
        );
        let f = reg.failures().await.unwrap();
        assert_eq!(
            (&f[0].account_sid, f[0].resource, f[0].day),
            (&sid, Resource::UsageRecords, second)
        );
        let s = reg.partition_summary().await.unwrap();
        assert_eq!(
            (s[0].first_day, s[0].last_day, s[0].rows),
            (Some(first), Some(first), 3)
        );
        assert_eq!(reg.accounts().await.unwrap()[0].sid, sid);
        let due: chrono::DateTime<chrono::Utc> = "2026-03-03T04:00:00Z".parse().unwrap();
        reg.record_job_accounts(
            "nightly",
            std::slice::from_ref(&sid),
            due,
            Some(run),
            "succeeded",
        )
        .await
        .unwrap();
        let done = reg.job_account_runs("nightly").await.unwrap();
        assert_eq!(done.get(&sid), Some(&due), "{url}");
        assert_eq!(done.get(sid.as_str()), Some(&due), "{url}");
        // The status document shows them as the database stores them.
        let shown = serde_json::to_value(&p[0]).unwrap();
        assert_eq!(shown["resource"], "usage_records");
        assert_eq!(shown["day"], "2026-03-01");
        assert_eq!(shown["account_sid"], sid.as_str());

        // Something else writes a day this version cannot read.
        let mut conn = <sqlx::AnyConnection as Connection>::connect(&url)
            .await
            .unwrap();
        sqlx::query("update partitions set day = 'yesterday'")
            .execute(&mut conn)
            .await
            .unwrap();
        match reg.partitions(&sid, Resource::UsageRecords).await {
            Err(RegistryError::Corrupt { what, value }) => {
                assert_eq!(
                    (what, value.as_str()),
                    ("partition day", "yesterday"),
                    "{url}"
                );
            }
            other => panic!("{url}: {other:?}"),
        }
        let err = reg.partition_summary().await.unwrap_err();
        assert!(err.to_string().contains("\"yesterday\""), "{url}: {err}");
        reg.close().await;
    }
}
