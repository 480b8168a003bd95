//! `--pseudonymize`: phone numbers and names written as HMAC-SHA256 pseudonyms under the
//! operator's key, checked against an HMAC computed by Python's standard library (not by our
//! code); the mode recorded per partition; exports that would mix modes refused with nothing
//! written; the key never written anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{json, Value};

use crate::support::*;

/// The key under test: plain bytes, easy to search for in every file written.
pub(crate) const KEY: &str = "pseudonym-test-key-4f1c9a7e";
pub(crate) const OTHER_KEY: &str = "a-rotated-pseudonym-key-77d2";
/// The columns that carry a phone number or a name.
const PII: [&str; 6] = [
    "to",
    "from",
    "to_formatted",
    "from_formatted",
    "forwarded_from",
    "caller_name",
];
pub(crate) const DAYS: [&str; 4] = ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"];

pub(crate) fn keyed(key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("TWILIO_EXPORT_PSEUDONYMIZE", "true".to_owned()),
        ("TWILIO_EXPORT_PSEUDONYM_KEY", key.to_owned()),
    ]
}

pub(crate) async fn cli_env(app: &TestApp, args: &[&str], env: &[(&str, String)]) -> Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.cli_with(args, &env).await
}

/// Python's `hmac`/`hashlib`: each value's lowercase hex HMAC-SHA256 under `key`, and the key's
/// fingerprint (the first 8 bytes of the HMAC of the documented label).
pub(crate) fn python_hmacs(key: &str, values: &[String]) -> (Vec<String>, String) {
    let script = r#"
import hashlib, hmac, json, sys
req = json.load(sys.stdin)
key = req["key"].encode()
mac = lambda v: hmac.new(key, v, hashlib.sha256).hexdigest()
print(json.dumps({
    "values": [mac(v.encode("utf-8")) for v in req["values"]],
    "fingerprint": mac(b"twilio-export pseudonym key fingerprint v1")[:16],
}))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed for the independent HMAC (CI installs it)");
    let request = json!({"key": key, "values": values}).to_string();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), request.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 failed");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let values = answer["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    (values, answer["fingerprint"].as_str().unwrap().to_owned())
}

/// The simulator's calls of every account and day, keyed by (account, day).
fn truth(app: &TestApp) -> BTreeMap<(String, String), Vec<Value>> {
    let mut all = BTreeMap::new();
    for account in app.sim.account_sids() {
        for d in DAYS {
            all.insert(
                (account.clone(), d.to_owned()),
                app.sim.calls_on(&account, day(d)),
            );
        }
    }
    all
}

/// `status --json`'s `partitions`, by (account, resource).
pub(crate) async fn modes(app: &TestApp) -> BTreeMap<(String, String), Value> {
    let out = app.cli(&["status", "--json"]).await;
    assert_success(&out);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let key = (
                p["account_sid"].as_str().unwrap().to_owned(),
                p["resource"].as_str().unwrap().to_owned(),
            );
            (key, p.clone())
        })
        .collect()
}

/// The modes `status --json` shows, each once, joined by commas.
async fn mode(app: &TestApp) -> String {
    let all: BTreeSet<String> = modes(app)
        .await
        .values()
        .map(|p| p["pseudonym"].as_str().unwrap().to_owned())
        .collect();
    all.into_iter().collect::<Vec<_>>().join(",")
}

/// The key fingerprint a Parquet file's schema metadata names, if any.
pub(crate) fn key_metadata(file: &Path) -> Option<String> {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(file).unwrap(),
    )
    .unwrap();
    reader
        .schema()
        .metadata()
        .get("twilio_export.pseudonym_key_fingerprint")
        .cloned()
}

/// Every file below `dir` with its bytes.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files_below(dir)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(dir.join(&f)).unwrap();
            (f, bytes)
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

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

/// A jobs directory with one calls job; `extra` is appended to its file.
pub(crate) fn calls_job(app: &TestApp, extra: &str) -> PathBuf {
    let dir = app.dir.path().join("jobs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("calls.toml"),
        format!("name = \"calls\"\nresource = \"calls\"\nschedule = \"0 0 * * * *\"\nlookback_days = 1\n{extra}"),
    )
    .unwrap();
    dir
}

pub(crate) async fn run_job(app: &TestApp, jobs: &Path, env: &[(&str, String)]) -> Output {
    let mut env = env.to_vec();
    env.push(("TWILIO_EXPORT_NOW", app.sim.now().to_rfc3339()));
    env.push(("TWILIO_EXPORT_JOBS", jobs.display().to_string()));
    cli_env(app, &["run", "--job", "calls"], &env).await
}

/// Asserts a refusal: exit 2, the message, and nothing changed in the output or the registry.
pub(crate) fn assert_refused(
    out: &Output,
    before: &BTreeMap<String, Vec<u8>>,
    app: &TestApp,
    says: &[&str],
) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    for s in says {
        assert!(stderr(out).contains(s), "{s:?} in {}", stderr(out));
    }
    assert_eq!(&snapshot(&app.output()), before, "nothing was written");
}

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
