//! Pseudonym modes are export-wide and never mixed: a change of mode (or key) is one backfill
//! over every account; the registry checks again as it records each day, so an export running
//! beside one of another mode cannot leave both; an empty answer never replaces rows of
//! another mode; `schedule` stops on a conflict; the demo never leaves an earlier demo's files;
//! a key nothing uses is never read, and the layers of the secrets.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;
use twilio_export::domain::{AccountSid, AuthToken, DayRange, PartitionKey, Resource};
use twilio_export::export::Exporter;
use twilio_export::fetch::{Limits, Quotas, TwilioClient};
use twilio_export::pseudonym::{PseudonymKey, PseudonymMode};
use twilio_export::registry::{LeaseHolder, ModeRule, NewAccount, Registry};
use twilio_export::scheduler::plan::Shard;
use twilio_export::scheduler::{jobs, Clock, Scheduler, SchedulerError, Settings};
use twilio_export::store::OutputLocation;
use twilio_sim::SimConfig;

use crate::pseudonymize::{
    assert_refused, calls_job, cli_env, key_metadata, keyed, modes, python_hmacs, snapshot, DAYS,
    KEY, OTHER_KEY,
};
use crate::support::*;

/// Changing the key for one account while the others stay under the old one is refused: the
/// mode is the export's, and the message gives the one backfill over every account.
#[tokio::test]
async fn rotating_the_key_is_one_backfill_over_every_account() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let sids = app.sim.account_sids();
    let all_days = backfill("calls", DAYS[0], DAYS[3]);
    assert_success(&cli_env(&app, &all_days, &keyed(KEY)).await);
    let before = snapshot(&app.output());

    let mut one = all_days.clone();
    one.extend(["--account", &sids[0]]);
    let out = cli_env(&app, &one, &keyed(OTHER_KEY)).await;
    let (_, old) = python_hmacs(KEY, &[]);
    assert_refused(
        &out,
        &before,
        &app,
        &[
            &format!(
                "{} has 4 partitions from {} to {} written pseudonymized with key {old}",
                sids[1], DAYS[0], DAYS[3]
            ),
            &format!(
                "every account again in one backfill, without --account: twilio-export backfill --resource calls --from {} --to {}",
                DAYS[0], DAYS[3]
            ),
        ],
    );
    assert!(
        !stderr(&out).contains(&format!("{} has", sids[0])),
        "{}",
        stderr(&out)
    );
    // Over every account and day, it goes through.
    assert_success(&cli_env(&app, &all_days, &keyed(OTHER_KEY)).await);
    let (_, new) = python_hmacs(OTHER_KEY, &[]);
    for p in modes(&app).await.values() {
        assert_eq!(p["key_fingerprints"], json!([new]), "{p}");
    }
}

/// An account another process holds (a clear `run` in progress, say) keeps its partitions in
/// clear: a backfill under a key that would cover it must not publish the other accounts'
/// days beside them. Each day is checked again as it is published, so nothing is written and
/// nothing was done (exit 2).
#[tokio::test]
async fn a_day_is_not_published_beside_partitions_of_another_mode_it_does_not_replace() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let sids = app.sim.account_sids();
    let all_days = backfill("calls", DAYS[0], DAYS[3]);
    assert_success(&app.cli(&all_days).await);
    let before = snapshot(&app.output());
    let reg = registry(&app).await;
    let other = LeaseHolder::named("a clear run elsewhere");
    let busy = AccountSid::parse(&sids[1]).unwrap();
    reg.try_lease(&busy, Resource::Calls, &other, Duration::from_secs(3600))
        .await
        .unwrap();

    let out = cli_env(&app, &all_days, &keyed(KEY)).await;
    assert_refused(
        &out,
        &before,
        &app,
        &[
            "nothing was exported",
            "pseudonym modes would mix",
            "not published",
        ],
    );
    for p in modes(&app).await.values() {
        assert_eq!(p["pseudonym"], "clear", "{p}");
    }
}

/// The registry's own rule: a partition of another mode is recorded only where the recording
/// export replaces the others (its range, the accounts whose lease it holds), in one
/// transaction, on SQLite and Postgres.
#[tokio::test]
async fn the_registry_records_a_second_mode_only_where_it_replaces_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![format!("sqlite:{}", dir.path().join("modes.db").display())];
    if let Some(url) = crate::support::fresh_database().await {
        urls.push(url);
    }
    let key = PseudonymKey::new(KEY.as_bytes()).unwrap();
    let keyed = PseudonymMode::Pseudonymized(key.fingerprint().clone());
    let sids = [
        "AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80",
        "AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f81",
    ]
    .map(|s| AccountSid::parse(s).unwrap());
    let (d1, d2) = (day(DAYS[2]), day(DAYS[3]));
    for url in urls {
        let reg = Registry::connect(&url).await.unwrap();
        for sid in &sids {
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
        }
        let run = reg.start_run("backfill", "modes").await.unwrap();
        let key = |i: usize, day| PartitionKey {
            resource: Resource::Calls,
            account: sids[i].clone(),
            day,
        };
        let record = |k: PartitionKey, mode: PseudonymMode, rule: ModeRule<'static>| {
            let reg = reg.clone();
            async move {
                reg.record_partition_in_mode(&k, 1, 10, Some("k"), &mode, rule, run)
                    .await
                    .unwrap()
            }
        };
        let alone = ModeRule::Alone(None);
        assert!(
            record(key(0, d1), PseudonymMode::Clear, alone).await,
            "{url}"
        );
        assert!(!record(key(1, d1), keyed.clone(), alone).await, "{url}");
        assert!(reg
            .partitions(&sids[1], Resource::Calls)
            .await
            .unwrap()
            .is_empty());

        let holder: &'static LeaseHolder = Box::leak(Box::new(LeaseHolder::named("backfill")));
        reg.try_lease(&sids[0], Resource::Calls, holder, Duration::from_secs(3600))
            .await
            .unwrap();
        let replacing = ModeRule::Alone(Some((DayRange::new(d1, d2).unwrap(), holder)));
        assert!(record(key(0, d1), keyed.clone(), replacing).await, "{url}");
        // The first mode is gone: now it is the one refused.
        assert!(
            !record(key(1, d2), PseudonymMode::Clear, alone).await,
            "{url}"
        );
        assert!(record(key(1, d2), keyed.clone(), alone).await, "{url}");
        assert!(!reg
            .mode_conflict(Resource::Calls, &keyed, alone)
            .await
            .unwrap());
        assert!(reg
            .mode_conflict(Resource::Calls, &PseudonymMode::Clear, alone)
            .await
            .unwrap());
    }
}

/// Turning pseudonymization on for days the API no longer returns (Twilio keeps call logs for
/// a limited time) would empty them: those days fail and keep their rows, the others go on.
#[tokio::test]
async fn an_empty_answer_never_replaces_rows_written_in_another_mode() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let sids = app.sim.account_sids();
    assert_success(&app.cli(&backfill("calls", DAYS[0], DAYS[3])).await);
    let before = rows_per_day(&app, &sids[0]).await;
    assert!(before.iter().all(|(_, rows)| *rows > 0), "{before:?}");
    // The same accounts, but only the last day still held by the API.
    let later = spawn_app(SimConfig {
        days: 1,
        ..small_sim()
    })
    .await;
    assert_eq!(later.sim.account_sids(), sids);
    let mut env = keyed(KEY);
    env.push(("TWILIO_API_BASE", later.base.clone()));
    let out = cli_env(&app, &backfill("calls", DAYS[0], DAYS[3]), &env).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let says = format!(
        "the API returned no calls for {} where the export holds {} written in clear; not replaced",
        DAYS[0], before[0].1
    );
    assert!(stderr(&out).contains(&says), "{says:?} in {}", stderr(&out));
    assert_eq!(rows_per_day(&app, &sids[0]).await, before, "no row lost");
    let first = partition_file(&app.output(), "calls", &sids[0], day(DAYS[0]));
    assert_eq!(
        key_metadata(&first),
        None,
        "the old day's file is as it was"
    );
}

async fn rows_per_day(app: &TestApp, sid: &str) -> Vec<(String, i64)> {
    let reg = registry(app).await;
    let sid = AccountSid::parse(sid).unwrap();
    (reg.partitions(&sid, Resource::Calls).await.unwrap())
        .into_iter()
        .map(|p| (p.day.to_string(), p.rows))
        .collect()
}

/// `schedule` meets partitions of another mode at a step (written after it started): that
/// is a configuration conflict, not a passing failure, so it stops with the error (exit 2)
/// instead of retrying forever.
#[tokio::test]
async fn serve_stops_at_a_mode_conflict() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    assert_success(&cli_env(&app, &backfill("calls", DAYS[0], DAYS[3]), &keyed(KEY)).await);
    let jobs = calls_job(&app, "");
    let scheduler = in_process_scheduler(&app, &jobs).await;
    let clock = Clock::starting_at(app.sim.now());
    let served = tokio::time::timeout(Duration::from_secs(120), scheduler.serve(clock, |_| {}))
        .await
        .expect("serve returns at a conflict rather than retrying");
    assert!(
        matches!(served, Err(SchedulerError::MixedModes(_))),
        "{served:?}"
    );
}

/// A scheduler in this process writing in clear, on the app's database, output and simulator.
async fn in_process_scheduler(app: &TestApp, jobs: &Path) -> Scheduler {
    let client = TwilioClient::new(
        app.base.parse().unwrap(),
        AuthToken::new(TOKEN.to_owned()).unwrap(),
        Quotas::new(Limits::default()),
    )
    .unwrap();
    let store = twilio_export::store::Store::open(&OutputLocation::Local(app.output())).unwrap();
    let exporter = Exporter {
        client,
        registry: registry(app).await,
        store,
        cancel: CancellationToken::new(),
        pseudonyms: Default::default(),
        spent: Default::default(),
    };
    let settings = Settings {
        command: "test".to_owned(),
        shard: Shard::all(),
        lease_ttl: Duration::from_secs(60),
        default_concurrency: Box::new(|n| n * 2),
        machine_clock: false,
    };
    Scheduler::new(exporter, jobs::load_dir(jobs).unwrap(), settings)
}

/// A pseudonymized demo followed by a clear one over fewer days leaves only the clear one's
/// files; an output that holds something else than a demo's is refused and left alone.
#[tokio::test]
async fn the_demo_replaces_its_earlier_output_and_nothing_else() {
    let app = spawn_app(small_sim()).await;
    let out = app.dir.path().join("demo");
    let out_arg = out.display().to_string();
    let demo = |days: &'static str| vec!["demo", "--output", &out_arg, "--days", days];
    assert_success(&cli_env(&app, &demo("2"), &keyed(KEY)).await);
    let calls = |out: &Path| -> Vec<String> {
        files_below(out)
            .into_iter()
            .filter(|f| f.starts_with("calls/") && f.ends_with(".parquet"))
            .collect()
    };
    assert!(calls(&out)
        .iter()
        .all(|f| key_metadata(&out.join(f)).is_some()));
    assert_success(&cli_env(&app, &demo("1"), &[]).await);
    let after = calls(&out);
    assert!(!after.is_empty());
    for f in &after {
        assert_eq!(
            key_metadata(&out.join(f)),
            None,
            "{f} is from the earlier demo"
        );
    }

    let foreign = app.dir.path().join("mine");
    std::fs::create_dir_all(foreign.join("calls")).unwrap();
    std::fs::write(foreign.join("calls/keep.parquet"), b"not the demo's").unwrap();
    let foreign_arg = foreign.display().to_string();
    let out = cli_env(
        &app,
        &["demo", "--output", &foreign_arg, "--days", "1"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("but no earlier demo"),
        "{}",
        stderr(&out)
    );
    assert_eq!(files_below(&foreign), vec!["calls/keep.parquet".to_owned()]);
}

/// A key nothing uses is not read: a missing key file in the config file stops neither
/// `schema` nor `status` nor a clear export, but does stop a pseudonymizing one.
#[tokio::test]
async fn an_unused_key_is_never_read() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let config = app.dir.path().join("c.toml");
    std::fs::write(&config, "pseudonym_key_file = \"/nonexistent/key\"\n").unwrap();
    let with = |args: &[&str]| {
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        a.extend(["--config".to_owned(), config.display().to_string()]);
        a
    };
    for args in [
        with(&["schema", "--resource", "calls"]),
        with(&["status"]),
        with(&["accounts", "list"]),
        with(&backfill("calls", DAYS[3], DAYS[3])),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_success(&app.cli(&args).await);
    }
    let mut on = with(&backfill("calls", DAYS[3], DAYS[3]));
    on.push("--pseudonymize".to_owned());
    let on: Vec<&str> = on.iter().map(String::as_str).collect();
    let out = app.cli(&on).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("pseudonym-key-file: cannot read /nonexistent/key"),
        "{}",
        stderr(&out)
    );
}

/// A key in the environment that is not UTF-8 is refused naming the variable, not with
/// clap's generic words; a key file given by the environment beats the config file's key.
#[tokio::test]
async fn a_non_utf8_key_is_named_and_the_environment_beats_the_config_file() {
    use std::os::unix::ffi::OsStrExt;
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let args = backfill("calls", DAYS[3], DAYS[3]);
    let out = app
        .command(&args)
        .env("TWILIO_EXPORT_PSEUDONYMIZE", "true")
        .env(
            "TWILIO_EXPORT_PSEUDONYM_KEY",
            std::ffi::OsStr::from_bytes(b"\xff\xfe-not-utf8-key-bytes"),
        )
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "--pseudonym-key (TWILIO_EXPORT_PSEUDONYM_KEY): the value is not valid UTF-8"
        ),
        "{}",
        stderr(&out)
    );

    let file = app.dir.path().join("key");
    std::fs::write(&file, format!("{KEY}\r\n")).unwrap();
    let config = app.dir.path().join("c.toml");
    std::fs::write(&config, format!("pseudonym_key = {OTHER_KEY:?}\n")).unwrap();
    let env = vec![
        ("TWILIO_EXPORT_PSEUDONYMIZE", "true".to_owned()),
        (
            "TWILIO_EXPORT_PSEUDONYM_KEY_FILE",
            file.display().to_string(),
        ),
        ("TWILIO_EXPORT_CONFIG", config.display().to_string()),
    ];
    assert_success(&cli_env(&app, &args, &env).await);
    let (_, fingerprint) = python_hmacs(KEY, &[]);
    for p in modes(&app).await.values() {
        assert_eq!(p["key_fingerprints"], json!([fingerprint]), "{p}");
    }
}
