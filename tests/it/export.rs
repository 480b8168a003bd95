use crate::support::*;

#[tokio::test]
async fn backfill_of_calls_gives_back_the_apis_exact_records() {
    // Arrange
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;

    // Act
    let out = app
        .cli(&backfill("calls", "2026-02-27", "2026-03-02"))
        .await;

    // Assert
    assert_success(&out);
    assert!(
        stdout(&out).contains("3 accounts, 4 days"),
        "{}",
        stdout(&out)
    );
    let (mut total, mut long_prices) = (0, 0);
    for account in app.sim.account_sids() {
        for d in ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"] {
            let truth = app.sim.calls_on(&account, day(d));
            let file = partition_file(&app.output(), "calls", &account, day(d));
            if truth.is_empty() {
                assert!(
                    !file.exists(),
                    "an empty day has no file: {}",
                    file.display()
                );
                continue;
            }
            let rows = rows_of(&read_parquet(&file));
            assert_rows_match(&rows, &truth, CALL_COLUMNS, "sid");
            total += rows.len();
            // Trunk calls carry their price as a JSON number with up to 20 decimal places.
            long_prices += truth
                .iter()
                .filter(|c| c["price"].is_number())
                .filter(|c| {
                    c["price"]
                        .to_string()
                        .split('.')
                        .nth(1)
                        .is_some_and(|f| f.len() >= 16)
                })
                .count();
        }
    }
    assert!(long_prices > 0, "the simulator should serve float prices");
    assert!(
        total > 100,
        "the simulator should have produced calls, got {total}"
    );
    // Staging leftovers are never visible.
    assert!(files_below(&app.output())
        .iter()
        .all(|f| f.ends_with("part-0.parquet")));
}

#[tokio::test]
async fn a_second_backfill_replaces_and_never_duplicates() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let args = backfill("calls", "2026-02-28", "2026-03-01");
    assert_success(&app.cli(&args).await);
    let files_before = files_below(&app.output());
    let account = &app.sim.account_sids()[0];
    let file = partition_file(&app.output(), "calls", account, day("2026-03-01"));
    let before = rows_of(&read_parquet(&file));

    assert_success(&app.cli(&args).await);

    assert_eq!(files_below(&app.output()), files_before);
    assert_eq!(rows_of(&read_parquet(&file)), before);
}

#[tokio::test]
async fn pages_are_followed_to_the_end() {
    // More calls in a day than one page holds (1000).
    let app = spawn_app(twilio_sim::SimConfig {
        accounts: 1,
        days: 1,
        calls_per_day: 2500,
        ..small_sim()
    })
    .await;
    app.add_all_accounts().await;
    assert_success(
        &app.cli(&backfill("calls", "2026-03-02", "2026-03-02"))
            .await,
    );
    let account = &app.sim.account_sids()[0];
    let truth = app.sim.calls_on(account, day("2026-03-02"));
    assert!(truth.len() > 1000, "{}", truth.len());
    let rows = rows_of(&read_parquet(&partition_file(
        &app.output(),
        "calls",
        account,
        day("2026-03-02"),
    )));
    assert_rows_match(&rows, &truth, CALL_COLUMNS, "sid");
    let pages = app
        .sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/Calls.json"))
        .count();
    assert_eq!(
        pages,
        truth.len().div_ceil(1000),
        "one request per page of 1000"
    );
}

#[tokio::test]
async fn accounts_list_shows_what_was_added() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let out = app.cli(&["accounts", "list", "--json"]).await;
    assert_success(&out);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["sid"].as_str().unwrap())
        .collect();
    let mut want = app.sim.account_sids();
    want.sort();
    assert_eq!(sids, want);
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["status"] == "active"));
    assert!(!stdout(&out).contains(TOKEN));
}

#[tokio::test]
async fn a_call_listed_after_its_day_was_passed_reaches_that_days_one_file() {
    // Ten days of about 250 calls, never exported, are read as one span of three pages. The
    // list's second-newest call (of the newest day) comes on the last page instead of the
    // first: by then the pages have passed the newest day and its file was finished.
    let app = spawn_app(twilio_sim::SimConfig {
        accounts: 1,
        days: 10,
        calls_per_day: 250,
        late_call: true,
        ..small_sim()
    })
    .await;
    app.add_all_accounts().await;
    let account = &app.sim.account_sids()[0];
    let calls: usize = (days("2026-02-21", "2026-03-02").into_iter())
        .map(|d| app.sim.calls_on(account, d).len())
        .sum();
    assert!(
        calls > 2000 && !calls.is_multiple_of(1000),
        "three pages, the last with room: {calls}"
    );

    let out = app
        .cli_with(
            &backfill("calls", "2026-02-21", "2026-03-02"),
            &[("RUST_LOG", "twilio_export=debug")],
        )
        .await;

    assert_success(&out);
    let lists = app.sim.requests();
    let lists = lists.iter().filter(|r| r.path.ends_with("/Calls.json"));
    assert_eq!(lists.count(), 3, "one span, read once");
    // Every day's one file holds exactly its calls; nothing is left in staging.
    assert_output_is_truth(
        &app,
        &[twilio_export::domain::Resource::Calls],
        "2026-02-21",
        "2026-03-02",
    );
    assert!(files_below(&app.output().join("_staging")).is_empty());
    assert!(
        stderr(&out).contains("merging its files"),
        "the newest day came in two files: {}",
        stderr(&out)
    );
}

#[tokio::test]
async fn records_of_other_days_and_repeats_are_left_out_and_reported() {
    // Every Calls page repeats a call, and the last one also returns a call of the day before.
    let app = spawn_app(twilio_sim::SimConfig {
        accounts: 1,
        sloppy_pages: true,
        ..small_sim()
    })
    .await;
    app.add_all_accounts().await;
    let account = &app.sim.account_sids()[0];
    let days = [day("2026-03-01"), day("2026-03-02")];
    // The two sparse days are read with one request: its page repeats a call, and returns
    // one of the day before the first.
    let repeated = usize::from(
        days.iter()
            .any(|d| !app.sim.calls_on(account, *d).is_empty()),
    );
    let strays = usize::from(!app.sim.calls_on(account, day("2026-02-28")).is_empty());
    assert!(repeated > 0 && strays > 0, "{repeated} {strays}");

    let out = app
        .cli_with(
            &backfill("calls", "2026-03-01", "2026-03-02"),
            &[("RUST_LOG", "info"), ("TWILIO_EXPORT_LOG_FORMAT", "json")],
        )
        .await;

    assert_success(&out);
    let lists = app.sim.requests();
    let lists = lists.iter().filter(|r| r.path.ends_with("/Calls.json"));
    assert_eq!(lists.count(), 1);
    let logged = stderr(&out);
    assert!(
        logged.contains("Records left out of this partition")
            && logged.contains("\"duplicates\":1"),
        "{logged}"
    );
    for d in days {
        let truth = app.sim.calls_on(account, d);
        if !truth.is_empty() {
            let rows = rows_of(&read_parquet(&partition_file(
                &app.output(),
                "calls",
                account,
                d,
            )));
            assert_rows_match(&rows, &truth, CALL_COLUMNS, "sid");
        }
    }
    let printed = stdout(&out);
    let counts = format!(
        "{strays} records outside the days asked for (a record of another day is exported with its own day; one without a day, in none), {repeated} records repeated while paging"
    );
    assert!(printed.contains(&counts), "{printed}");
    let status = app.cli(&["status"]).await;
    assert_success(&status);
    let shown = format!("({strays} of other days, {repeated} repeated: left out)");
    assert!(stdout(&status).contains(&shown), "{}", stdout(&status));
    let status = app.cli(&["status", "--json"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(doc["runs"][0]["outside_window"], strays);
    assert_eq!(doc["runs"][0]["duplicates"], repeated);
}

/// Reads every Parquet file below `root` as users do, and prints JSON: each file's codecs (but
/// `UNCOMPRESSED`), and the rows DuckDB and pyarrow read as one hive-partitioned table.
const READ_AS_USERS_DO: &str = r#"
import glob, json, sys
import duckdb, pyarrow.dataset as ds, pyarrow.parquet as pq
root = sys.argv[1]
codecs = set()
for f in glob.glob(f"{root}/calls/**/*.parquet", recursive=True):
    group = pq.ParquetFile(f).metadata.row_group(0)
    codecs |= {group.column(i).compression for i in range(group.num_columns)} - {"UNCOMPRESSED"}
rel = f"read_parquet('{root}/calls/**/*.parquet', hive_partitioning = true)"
duck = duckdb.connect().execute(f"select count(*) from {rel}").fetchone()[0]
arrow = ds.dataset(f"{root}/calls", format="parquet", partitioning="hive").count_rows()
print(json.dumps({"codecs": sorted(codecs), "duckdb": duck, "pyarrow": arrow}))
"#;

/// Days of a few calls are written with Snappy and the others with ZSTD; DuckDB and pyarrow
/// read both kinds as one table, with every call.
#[tokio::test]
async fn small_days_are_snappy_and_read_with_the_others_by_duckdb_and_pyarrow() {
    let readers = std::process::Command::new("python3")
        .args(["-c", "import duckdb, pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    let test = "small_days_are_snappy…";
    if required(
        readers.then_some(()),
        test,
        "python3 with duckdb and pyarrow",
    )
    .is_none()
    {
        return;
    }
    let app = spawn_app(twilio_sim::SimConfig {
        seed: 5,
        accounts: 1,
        days: 10,
        calls_per_day: 20,
        today: day("2026-03-10"),
        ..twilio_sim::SimConfig::default()
    })
    .await;
    app.add_all_accounts().await;

    assert_success(
        &app.cli(&backfill("calls", "2026-03-01", "2026-03-10"))
            .await,
    );

    let account = &app.sim.account_sids()[0];
    let calls: usize = (day("2026-03-01").iter_days().take(10))
        .map(|d| app.sim.calls_on(account, d).len())
        .sum();
    let out = std::process::Command::new("python3")
        .args(["-c", READ_AS_USERS_DO])
        .arg(app.output())
        .output()
        .unwrap();
    assert_success(&out);
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        read["codecs"],
        serde_json::json!(["SNAPPY", "ZSTD"]),
        "{read}"
    );
    assert_eq!(read["duckdb"], calls, "{read}");
    assert_eq!(read["pyarrow"], calls, "{read}");
}

#[tokio::test]
async fn a_day_the_api_no_longer_returns_is_emptied_and_said_so() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let range = backfill("calls", "2026-03-01", "2026-03-02");
    assert_success(&app.cli(&range).await);
    let held = files_below(&app.output().join("calls")).len();
    assert!(held > 0);

    // The same accounts, their calls gone from the API.
    let gone = spawn_app(twilio_sim::SimConfig {
        calls_per_day: 0,
        ..small_sim()
    })
    .await;
    assert_eq!(gone.sim.account_sids(), app.sim.account_sids());
    let out = app
        .cli_with(&range, &[("TWILIO_API_BASE", &gone.base)])
        .await;
    assert_success(&out);
    assert!(files_below(&app.output().join("calls")).is_empty());
    assert!(
        stdout(&out).contains(&format!("emptied: {held} days that held rows")),
        "{}",
        stdout(&out)
    );
    // Once emptied, a day has nothing more to lose: the next run says nothing of it.
    let again = app
        .cli_with(&range, &[("TWILIO_API_BASE", &gone.base)])
        .await;
    assert_success(&again);
    assert!(!stdout(&again).contains("emptied"), "{}", stdout(&again));
}
