//! `--pseudonymize`: phone numbers and names written as HMAC-SHA256 pseudonyms under the
//! operator's key, checked against an HMAC computed by Python's standard library (not by our
//! code); the mode recorded per partition; exports that would mix modes refused with nothing
//! written; the key never written anywhere.
//!
//! This file is the harness; `values` checks the pseudonyms and the column marks, `mixing` the
//! modes and their refusals, `keys` where the key comes from.

mod keys;
mod mixing;
mod values;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{json, Value};

use crate::support::*;

/// The key under test: plain bytes, easy to search for in every file written.
pub(crate) const KEY: &str = "pseudonym-test-key-4f1c9a7e";
pub(crate) const OTHER_KEY: &str = "a-rotated-pseudonym-key-77d2";
/// The columns that carry a phone number or a name.
pub(super) const PII: [&str; 6] = [
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
pub(super) fn truth(app: &TestApp) -> BTreeMap<(String, String), Vec<Value>> {
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
pub(super) async fn mode(app: &TestApp) -> String {
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

pub(super) fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
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
