//! `status --json` has the shape the README documents.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use twilio_export::domain::{AccountSid, Resource};
use twilio_export::process::ProcessId;
use twilio_export::registry::LeaseHolder;
use twilio_sim::SimConfig;

use crate::support::*;

use super::*;

/// The keys README "What `status` shows" documents for `status --json`, with their types.
fn documented_status_keys() -> BTreeMap<String, String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("### What `status` shows")
        .nth(1)
        .expect("README documents status --json");
    let section = section.split("\n#").next().unwrap();
    let keys: BTreeMap<String, String> = section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let key = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((key.to_owned(), cells.get(2)?.to_string()))
        })
        .collect();
    assert!(keys.len() > 50, "{keys:?}");
    keys
}

/// Every path of `value` in the README's notation (`runs[].outcome`), with the JSON values
/// found there.
fn json_paths<'a>(
    prefix: &str,
    value: &'a serde_json::Value,
    out: &mut BTreeMap<String, Vec<&'a serde_json::Value>>,
) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.entry(path.clone()).or_default().push(v);
                json_paths(&path, v, out);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                json_paths(&format!("{prefix}[]"), item, out);
            }
        }
        _ => {}
    }
}

fn has_type(value: &serde_json::Value, documented: &str) -> bool {
    documented.split(" or ").any(|t| match t {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        other => panic!("README documents an unknown type {other:?}"),
    })
}

/// Every instant (`now`, `next_due`, `…_at`) is RFC 3339 in UTC to the millisecond, with `Z`.
fn assert_every_instant_is_written_one_way(found: &BTreeMap<String, Vec<&serde_json::Value>>) {
    let mut instants = 0;
    for (key, values) in found {
        let name = key.rsplit('.').next().unwrap();
        if name == "now" || name == "next_due" || name.ends_with("_at") {
            for v in values.iter().filter_map(|v| v.as_str()) {
                let t = chrono::DateTime::parse_from_rfc3339(v).unwrap();
                let written = t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                assert_eq!(v, written, "{key}");
                instants += 1;
            }
        }
    }
    assert!(
        found.contains_key("jobs[].next_due") && instants > 10,
        "{found:?}"
    );
}

#[tokio::test]
async fn status_json_has_the_documented_shape_and_shows_failures_and_records_left_out() {
    // Arrange: sloppy pages (a repeat on every page, a call of the day before on the last),
    // one window that cannot be written, a lease of a dead process.
    let (app, jobs) = calls_job_app(SimConfig {
        sloppy_pages: true,
        ..moving_sim()
    })
    .await;
    let sids = app.sim.account_sids();
    let blocked = partition_file(&app.output(), "calls", &sids[1], day("2026-03-08"));
    std::fs::create_dir_all(blocked.join("obstacle")).unwrap();
    let reg = registry(&app).await;
    let usage_of = AccountSid::parse(&sids[2]).unwrap();
    let ttl = Duration::from_secs(600);
    let mut child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let dead_pid = child.id();
    let process = ProcessId::of_pid(dead_pid).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let dead = LeaseHolder::in_process("a crashed run", process);
    assert!(reg
        .try_lease(&usage_of, Resource::UsageRecords, &dead, ttl)
        .await
        .unwrap()
        .is_granted());

    // Act
    let out = at_sim_now(&app, &jobs, &["run"]).await;
    let json = at_sim_now(&app, &jobs, &["status", "--json"]).await;
    let text = at_sim_now(&app, &jobs, &["status"]).await;

    // Assert: the run failed that window, and status says so, in the documented shape.
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_success(&json);
    assert_success(&text);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let documented = documented_status_keys();
    let mut found = BTreeMap::new();
    json_paths("", &doc, &mut found);
    for (key, ty) in &documented {
        let values = found
            .get(key)
            .unwrap_or_else(|| panic!("status --json has no {key}: {doc:#}"));
        for v in values {
            assert!(has_type(v, ty), "{key} is documented as {ty}, found {v}");
        }
    }
    let undocumented: Vec<&String> = found
        .keys()
        .filter(|k| !documented.contains_key(*k))
        .collect();
    assert!(undocumented.is_empty(), "not in README: {undocumented:?}");
    assert_every_instant_is_written_one_way(&found);

    let failures = doc["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["account_sid"], sids[1].as_str());
    assert_eq!(failures[0]["resource"], "calls");
    assert_eq!(failures[0]["day"], "2026-03-08");
    let error = failures[0]["error"].as_str().unwrap();
    assert!(!error.is_empty());
    let run = &doc["runs"][0];
    assert_eq!(run["outcome"], "partial");
    assert_eq!(run["windows_failed"], 1);
    // The run's own summary counted what it left out (how many depends on how the days were
    // grouped into requests; `export::records_of_other_days…` checks the counts against the
    // simulator): status shows the same numbers.
    let printed = stdout(&out);
    let left_out = printed
        .lines()
        .find_map(|l| l.trim().strip_prefix("left out: "))
        .unwrap_or_else(|| panic!("no left-out line in:\n{printed}"));
    let numbers: Vec<u64> = left_out.split(' ').filter_map(|w| w.parse().ok()).collect();
    let (strays, repeated) = (numbers[0], numbers[1]);
    assert!(repeated > 0 && strays > 0, "{left_out}");
    assert_eq!(run["duplicates"], repeated);
    assert_eq!(run["outside_window"], strays);
    assert_eq!(doc["jobs"][0]["last_run"]["outcome"], "partial");
    let lease = &doc["leases"][0];
    assert_eq!(lease["holder_dead"], true);
    assert_eq!(lease["resource"], "usage_records");
    assert_eq!(lease["pid"], dead_pid);

    let text = stdout(&text);
    assert!(text.contains("Failed windows"), "{text}");
    assert!(
        text.contains(&format!("{} calls 2026-03-08", sids[1])) && text.contains(error),
        "{text}"
    );
    let left_out = format!("({strays} of other days, {repeated} repeated: left out)");
    assert!(text.contains(&left_out), "{text}");
    assert!(
        text.contains("its process died: free to take over"),
        "{text}"
    );
}
