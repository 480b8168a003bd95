//! "The partitions equal the truth": exported Parquet compared with the simulator's records at
//! its current clock, field by field; a day without records has no file.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use twilio_export::domain::Resource;
use twilio_sim::LoggedRequest;

use super::app::{day, files_below, partition_file, TestApp};
use super::rows::{assert_rows_match, read_parquet, rows_of, CALL_COLUMNS, USAGE_COLUMNS};

/// The days `first..=last`.
pub fn days(first: &str, last: &str) -> BTreeSet<NaiveDate> {
    day(first)
        .iter_days()
        .take_while(|d| *d <= day(last))
        .collect()
}

/// One partition equals the simulator's truth (no file if it has no records); the rows
/// compared.
pub fn assert_partition_is_truth(
    app: &TestApp,
    resource: Resource,
    account: &str,
    d: NaiveDate,
) -> usize {
    let (truth, columns, key) = match resource {
        Resource::Calls => (app.sim.calls_on(account, d), CALL_COLUMNS, "sid"),
        Resource::UsageRecords => (
            app.sim.daily_usage_on(account, d),
            USAGE_COLUMNS,
            "category",
        ),
    };
    let file = partition_file(&app.output(), resource.table_name(), account, d);
    if truth.is_empty() {
        assert!(
            !file.exists(),
            "a day without records has a file: {}",
            file.display()
        );
        return 0;
    }
    assert!(file.exists(), "{} missing", file.display());
    let rows = rows_of(&read_parquet(&file));
    assert_rows_match(&rows, &truth, columns, key);
    rows.len()
}

/// Every partition of `resources` in `first..=last` of every account equals the simulator's
/// truth, and every published file is a `part-0.parquet`.
pub fn assert_output_is_truth(app: &TestApp, resources: &[Resource], first: &str, last: &str) {
    for account in app.sim.account_sids() {
        for d in days(first, last) {
            for resource in resources {
                assert_partition_is_truth(app, *resource, &account, d);
            }
        }
    }
    assert!(files_below(&app.output())
        .iter()
        .filter(|f| !f.starts_with("_staging"))
        .all(|f| f.ends_with("part-0.parquet")));
}

/// The days each account's windows asked for, from the simulator's request log.
pub fn requested_days(
    log: &[LoggedRequest],
    resource: Resource,
) -> BTreeMap<String, BTreeSet<NaiveDate>> {
    // The first day asked for, and the last: a span of days is read with one query.
    let (path_end, from, to, to_excluded) = match resource {
        Resource::Calls => ("/Calls.json", "StartTime%3E=", "StartTime%3C=", true),
        Resource::UsageRecords => ("/Usage/Records/Daily.json", "StartDate=", "EndDate=", false),
    };
    let mut out: BTreeMap<String, BTreeSet<NaiveDate>> = BTreeMap::new();
    for r in log.iter().filter(|r| r.path.ends_with(path_end)) {
        let account = r.path.split('/').nth(3).unwrap().to_owned();
        let param = |name: &str| {
            let value = r.query.split('&').find_map(|kv| kv.strip_prefix(name));
            day(value.unwrap_or_else(|| panic!("{} has no {name}", r.query)))
        };
        let (first, mut last) = (param(from), param(to));
        if to_excluded {
            last = last.pred_opt().unwrap();
        }
        let asked = first.iter_days().take_while(|d| *d <= last);
        out.entry(account).or_default().extend(asked);
    }
    out
}
