//! Every pseudonym is the HMAC Python computes; other columns unchanged; the six columns marked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{json, Value};

use super::*;
use crate::support::*;

#[tokio::test]
async fn phone_numbers_and_names_are_the_hmac_of_each_value_and_the_rest_is_unchanged() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;

    let out = cli_env(
        &app,
        &backfill("calls", DAYS[0], DAYS[3]),
        &[keyed(KEY), vec![("RUST_LOG", "debug".to_owned())]].concat(),
    )
    .await;
    assert_success(&out);

    // Every distinct value of the six columns, hashed by Python.
    let truth = truth(&app);
    let values: BTreeSet<String> = truth
        .values()
        .flatten()
        .flat_map(|c| PII.iter().filter_map(|f| c[*f].as_str().map(str::to_owned)))
        .collect();
    let values: Vec<String> = values.into_iter().collect();
    let (hmacs, fingerprint) = python_hmacs(KEY, &values);
    let pseudonym: BTreeMap<&str, &str> = values
        .iter()
        .map(String::as_str)
        .zip(hmacs.iter().map(String::as_str))
        .collect();

    let (mut checked, mut nulls, mut empties) = (0, 0, 0);
    let mut by_value: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for ((account, d), calls) in &truth {
        let file = partition_file(&app.output(), "calls", account, day(d));
        if calls.is_empty() {
            continue;
        }
        // The API's records with the six fields replaced by Python's HMAC: the file must hold
        // exactly that, every other column as the API sent it.
        let expected: Vec<Value> = calls
            .iter()
            .map(|c| {
                let mut c = c.clone();
                for f in PII {
                    match c[f].as_str().map(str::to_owned) {
                        Some(v) if v.is_empty() => empties += 1,
                        Some(v) => {
                            c[f] = json!(pseudonym[v.as_str()]);
                            checked += 1;
                            by_value.entry(v).or_default().insert(account.clone());
                        }
                        None => nulls += 1,
                    }
                }
                c
            })
            .collect();
        assert_eq!(
            key_metadata(&file),
            Some(fingerprint.clone()),
            "the file names its key"
        );
        assert_rows_match(
            &rows_of(&read_parquet(&file)),
            &expected,
            CALL_COLUMNS,
            "sid",
        );
    }
    // Nulls and empty strings are kept as they are (the simulator serves both).
    assert!(
        checked > 500 && nulls > 50 && empties > 0,
        "{checked} values, {nulls} nulls, {empties} empty"
    );
    // The same number or name in several accounts has the same pseudonym in each (each row
    // above equals the HMAC of its value); there are such values.
    assert!(
        by_value.values().any(|accounts| accounts.len() > 1),
        "no value shared by two accounts"
    );

    // The registry records the key's fingerprint (as Python computes it) for every partition.
    for ((_, resource), p) in modes(&app).await {
        assert_eq!(resource, "calls");
        assert_eq!(p["pseudonym"], "pseudonymized", "{p}");
        assert_eq!(p["key_fingerprints"], json!([fingerprint]), "{p}");
        assert_eq!(p["clear_partitions"], 0, "{p}");
    }
    let status = app.cli(&["status"]).await;
    assert!(
        stdout(&status).contains(&format!("pseudonymized (key {fingerprint})")),
        "{}",
        stdout(&status)
    );

    // The key itself is nowhere: not in the output, not in the registry, not in the logs.
    let mut written = snapshot(app.dir.path());
    written.insert("stdout".into(), out.stdout.clone());
    written.insert("stderr".into(), out.stderr.clone());
    assert!(written.len() > 10);
    for (name, bytes) in &written {
        assert!(!contains(bytes, KEY), "the key is in {name}");
    }
}

/// The Parquet files mark the six columns, as `schema` and `schemas/` do.
#[tokio::test]
async fn the_six_columns_are_marked_in_files_schemas_and_schema() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    assert_success(&cli_env(&app, &backfill("calls", DAYS[3], DAYS[3]), &keyed(KEY)).await);
    let account = &app.sim.account_sids()[0];
    let file = partition_file(&app.output(), "calls", account, day(DAYS[3]));
    let batches = read_parquet(&file);
    let marked: Vec<&str> = batches[0]
        .schema_ref()
        .fields()
        .iter()
        .filter(|f| f.metadata().contains_key("pii"))
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(marked, PII);

    let contract: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/calls.json"))
            .unwrap(),
    )
    .unwrap();
    let marked: Vec<&str> = contract["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("pii").is_some())
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(marked, PII);

    let arrow = app
        .cli(&["schema", "--resource", "calls", "--format", "arrow"])
        .await;
    let marked: Vec<&str> = stdout(&arrow)
        .lines()
        .filter(|l| l.contains("# pii"))
        .map(|l| l.trim().split(':').next().unwrap())
        .collect::<Vec<_>>()
        .into_iter()
        .map(|n| PII.into_iter().find(|p| *p == n).unwrap())
        .collect();
    assert_eq!(marked, PII);
    let ddl = app
        .cli(&["schema", "--resource", "calls", "--format", "duckdb"])
        .await;
    assert!(
        stdout(&ddl).starts_with("-- calls: to, from, to_formatted, from_formatted, forwarded_from, caller_name: phone number or name"),
        "{}",
        stdout(&ddl)
    );
    let usage = app.cli(&["schema", "--resource", "usage-records"]).await;
    assert!(!stdout(&usage).contains("pii"));
}
