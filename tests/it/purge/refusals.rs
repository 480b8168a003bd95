//! Purges that must not happen: no --yes, unknown accounts, a busy lease, a terminal answered no.

use twilio_export::registry::LeaseHolder;

use super::*;
use crate::support::*;

/// Without --yes and without a terminal, or for an unknown account, nothing is deleted: exit 2.
#[tokio::test]
async fn a_purge_needs_yes_without_a_terminal_and_a_registered_account() {
    let s = Setup::start(small_sim(), false, false, "purge refusals")
        .await
        .unwrap();
    assert_success(&s.cli(&backfill("calls", "2026-03-01", "2026-03-02")).await);
    let before = s.output.hashes().await;
    let victim = s.app.sim.account_sids()[0].clone();

    let out = s.cli(&["accounts", "purge", &victim]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    let unknown = neighbor(&victim);
    let out = s
        .cli(&["accounts", "purge", &victim, &unknown, "--yes"])
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{unknown} is not registered")),
        "{}",
        stderr(&out)
    );

    assert_eq!(s.output.hashes().await, before);
    let doc = s.status().await;
    assert_eq!(
        rows_of_account(&doc, "accounts", &victim)[0]["status"],
        "active"
    );
    assert!(doc["deletions"].as_array().unwrap().is_empty());
}

/// An account another process is exporting is not purged: its holder is named, exit 1.
#[tokio::test]
async fn a_purge_waits_for_no_one_and_names_the_holder() {
    let s = Setup::start(small_sim(), false, false, "purge busy")
        .await
        .unwrap();
    assert_success(
        &s.cli(&backfill("usage-records", "2026-03-01", "2026-03-02"))
            .await,
    );
    let before = s.output.hashes().await;
    let victim = s.app.sim.account_sids()[0].clone();
    let registry = s.registry().await;
    let sid = victim.parse().unwrap();
    let other = LeaseHolder::named("worker-7");
    let hour = std::time::Duration::from_secs(3600);
    let usage = twilio_export::domain::Resource::UsageRecords;
    assert!(registry
        .try_lease(&sid, usage, &other, hour)
        .await
        .unwrap()
        .is_granted());

    let out = s.cli(&["accounts", "purge", &victim, "--yes"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("worker-7"), "{}", stderr(&out));
    assert_eq!(s.output.hashes().await, before);
    let doc = s.status().await;
    assert_eq!(
        rows_of_account(&doc, "accounts", &victim)[0]["status"],
        "active"
    );
    assert!(doc["deletions"].as_array().unwrap().is_empty());
    // The calls lease it took first was given back.
    assert_eq!(doc["leases"].as_array().unwrap().len(), 1);
}

/// At a terminal (`script` gives the command one), a purge asks first: anything but yes
/// deletes nothing (exit 2); yes purges.
#[tokio::test]
async fn a_purge_at_a_terminal_asks_first() {
    use tokio::io::AsyncWriteExt;
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(std::env::var("CI").is_err(), "CI needs script (util-linux)");
        eprintln!("SKIPPED: no `script` (util-linux) to give the command a terminal");
        return;
    }
    let s = Setup::start(small_sim(), false, false, "purge terminal")
        .await
        .unwrap();
    assert_success(&s.cli(&backfill("calls", "2026-03-01", "2026-03-02")).await);
    let victim = s.app.sim.account_sids()[0].clone();
    let before = s.output.hashes().await;
    let at_terminal = |answer: &'static str| {
        let line = format!(
            "{} accounts purge {victim}",
            env!("CARGO_BIN_EXE_twilio-export")
        );
        let mut cmd = tokio::process::Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .envs(s.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        async move {
            let mut child = cmd.spawn().unwrap();
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(answer.as_bytes()).await.unwrap();
            drop(stdin);
            child.wait_with_output().await.unwrap()
        }
    };

    let out = at_terminal("n\n").await;
    let shown = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains("Purge? [y/N]") && shown.contains("not confirmed"),
        "{shown}"
    );
    assert_eq!(s.output.hashes().await, before);

    let out = at_terminal("y\n").await;
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("{victim}: purged")),
        "{}",
        stdout(&out)
    );
    assert!(!s
        .output
        .hashes()
        .await
        .keys()
        .any(|k| in_account(k, &victim)));
}
