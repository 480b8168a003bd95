use crate::support::*;

#[tokio::test]
async fn backfill_of_usage_records_gives_back_the_apis_exact_records() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;

    let out = app
        .cli(&backfill("usage-records", "2026-02-28", "2026-03-02"))
        .await;

    assert_success(&out);
    let mut long_usage = 0;
    for account in app.sim.account_sids() {
        for d in ["2026-02-28", "2026-03-01", "2026-03-02"] {
            let truth = app.sim.daily_usage_on(&account, day(d));
            assert!(!truth.is_empty());
            let file = partition_file(&app.output(), "usage_records", &account, day(d));
            let rows = rows_of(&read_parquet(&file));
            assert_rows_match(&rows, &truth, USAGE_COLUMNS, "category");
            // Per-second usage in minutes: 16 decimal places, e.g. "0.0166666666666667".
            long_usage += truth
                .iter()
                .filter(|r| r["usage"].as_str().is_some_and(|u| u.len() >= 18))
                .count();
        }
    }
    assert!(long_usage > 0, "the simulator should serve 16-place usage");
    // Each account is exported on its own: subaccounts are never included.
    assert!(app
        .sim
        .requests()
        .iter()
        .filter(|r| r.path.contains("/Usage/Records"))
        .all(|r| r.query.contains("IncludeSubaccounts=false")));
}

#[tokio::test]
async fn calls_and_usage_agree_on_the_number_of_calls() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    for resource in ["calls", "usage-records"] {
        assert_success(
            &app.cli(&backfill(resource, "2026-03-01", "2026-03-01"))
                .await,
        );
    }
    let account = &app.sim.account_sids()[0];
    let calls = rows_of(&read_parquet(&partition_file(
        &app.output(),
        "calls",
        account,
        day("2026-03-01"),
    )));
    let usage = rows_of(&read_parquet(&partition_file(
        &app.output(),
        "usage_records",
        account,
        day("2026-03-01"),
    )));
    let calls_category = usage
        .iter()
        .find(|r| r["category"] == Cell::Text("calls".into()))
        .expect("a calls category");
    assert_eq!(
        calls_category["count"],
        Cell::Decimal(calls.len() as i128 * 10i128.pow(DECIMAL_SCALE))
    );
}
