//! The registry's statements over many accounts at once (what a run over thousands of
//! accounts plans with) answer exactly what the one-account statements answer, and leases
//! taken, renewed and released together follow the one-lease rules, on SQLite and Postgres.

use std::collections::HashMap;
use std::time::Duration;

use chrono::NaiveDate;
use twilio_export::domain::{AccountSid, PartitionKey, Resource};
use twilio_export::pseudonym::PseudonymMode;
use twilio_export::registry::{LeaseGrant, LeaseHolder, PairOutcome, Registry};

use crate::support::*;

const TTL: Duration = Duration::from_secs(120);

fn sid(i: usize) -> AccountSid {
    AccountSid::parse(&format!("AC{i:032x}")).unwrap()
}

/// 600 accounts (more than one chunk of a statement): checkpoints for every third, a failed
/// day for every fifth, three days of partitions for every second.
async fn fill(reg: &Registry, sids: &[AccountSid]) {
    let run = reg.start_run("backfill", "many").await.unwrap();
    let holder = LeaseHolder::named("filler");
    for (i, s) in sids.iter().enumerate() {
        for d in ["2026-03-01", "2026-03-02", "2026-03-03"]
            .into_iter()
            .filter(|_| i % 2 == 0)
        {
            let key = PartitionKey {
                resource: Resource::Calls,
                account: s.clone(),
                day: day(d),
            };
            reg.record_partition(&key, i as u64, 10, Some("k"), &PseudonymMode::Clear, run)
                .await
                .unwrap();
        }
        if i % 5 == 0 {
            let key = PartitionKey {
                resource: Resource::Calls,
                account: s.clone(),
                day: day("2026-02-20"),
            };
            reg.record_failure(&key, "boom", run).await.unwrap();
        }
        if i % 3 == 0 {
            assert!(reg
                .try_lease(s, Resource::Calls, &holder, TTL)
                .await
                .unwrap()
                .is_granted());
            let outcome = PairOutcome {
                advance_to: Some(day("2026-03-02")),
                complete: true,
                rows: 1,
                error: None,
                run: Some(run),
            };
            assert!(reg
                .commit_checkpoint(s, Resource::Calls, &holder, &outcome)
                .await
                .unwrap());
        }
    }
    reg.release_leases(sids, Resource::Calls, &holder)
        .await
        .unwrap();
}

async fn reads_agree_with_one_account_reads(reg: &Registry) {
    let sids: Vec<AccountSid> = (0..600).map(sid).collect();
    fill(reg, &sids).await;
    let since = day("2026-01-01");
    let (first, last) = (day("2026-03-02"), day("2026-03-03"));
    let checkpoints = reg.checkpoints_of(Resource::Calls, &sids).await.unwrap();
    let failed = reg
        .failed_days_of(Resource::Calls, &sids, since)
        .await
        .unwrap();
    let rows = reg
        .partition_rows_of(Resource::Calls, &sids, first, last)
        .await
        .unwrap();
    for s in &sids {
        let one = reg.checkpoint(s, Resource::Calls).await.unwrap();
        assert_eq!(checkpoints.get(s).copied(), one, "{s}");
        let one = reg.failed_days(s, Resource::Calls, since).await.unwrap();
        assert_eq!(failed.get(s).cloned().unwrap_or_default(), one, "{s}");
        let one: HashMap<NaiveDate, u64> = reg
            .partitions(s, Resource::Calls)
            .await
            .unwrap()
            .iter()
            .filter(|p| first <= p.day && p.day <= last)
            .map(|p| (p.day, p.rows as u64))
            .collect();
        assert_eq!(rows.get(s).cloned().unwrap_or_default(), one, "{s}");
    }
    assert_eq!(checkpoints.len(), 200);
    assert_eq!(failed.len(), 120);
    assert_eq!(rows.len(), 300);
}

async fn leases_together_follow_the_one_lease_rules(reg: &Registry) {
    let ours = LeaseHolder::new();
    let other = LeaseHolder::named("other process");
    let sids: Vec<AccountSid> = (5000..5003).map(sid).collect();
    let r = Resource::UsageRecords;
    assert!(reg
        .try_lease(&sids[1], r, &other, TTL)
        .await
        .unwrap()
        .is_granted());

    let grants = reg.try_leases(&sids, r, &ours, TTL).await.unwrap();
    assert_eq!(grants[0], LeaseGrant::Granted);
    assert_eq!(
        grants[1],
        LeaseGrant::Busy {
            holder: "other process".to_owned()
        }
    );
    assert_eq!(grants[2], LeaseGrant::Granted);
    let held = [sids[0].clone(), sids[2].clone()];
    assert!(reg
        .renew_leases(&held, r, &ours, TTL)
        .await
        .unwrap()
        .is_empty());

    // Another process gets the third lease (ours was given up): the renewal says it is lost.
    reg.release_leases(&held[1..], r, &ours).await.unwrap();
    assert!(reg
        .try_lease(&sids[2], r, &other, TTL)
        .await
        .unwrap()
        .is_granted());
    let lost = reg.renew_leases(&held, r, &ours, TTL).await.unwrap();
    assert_eq!(lost, vec![sids[2].clone()]);

    // Giving back all three removes only ours.
    reg.release_leases(&sids, r, &ours).await.unwrap();
    let left: Vec<(AccountSid, String)> = reg
        .leases()
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.resource == r)
        .map(|l| (l.account_sid, l.holder))
        .collect();
    assert_eq!(
        left,
        vec![
            (sids[1].clone(), "other process".to_owned()),
            (sids[2].clone(), "other process".to_owned())
        ]
    );
}

#[tokio::test]
async fn many_account_statements_agree_with_one_account_statements_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    let reg = Registry::connect(&url).await.unwrap();
    reads_agree_with_one_account_reads(&reg).await;
    leases_together_follow_the_one_lease_rules(&reg).await;
}

#[tokio::test]
async fn many_account_statements_agree_with_one_account_statements_on_postgres() {
    let Some(url) = crate::support::fresh_database().await else {
        return;
    };
    let reg = Registry::connect(&url).await.unwrap();
    reads_agree_with_one_account_reads(&reg).await;
    leases_together_follow_the_one_lease_rules(&reg).await;
}

/// `status`'s totals per (account, resource), read in one scan per mode and folded: a pair
/// written in two modes counts every partition, row and day of both.
async fn totals_fold_the_modes_of_a_pair(reg: &Registry) {
    let run = reg.start_run("backfill", "modes").await.unwrap();
    let fingerprint = twilio_export::pseudonym::Fingerprint::parse("0011223344556677").unwrap();
    let key = |account: usize, d: &str| PartitionKey {
        resource: Resource::Calls,
        account: sid(account),
        day: day(d),
    };
    let clear = PseudonymMode::Clear;
    let keyed = PseudonymMode::Pseudonymized(fingerprint.clone());
    for (k, rows, mode) in [
        (key(1, "2026-03-02"), 5, &clear),
        (key(1, "2026-03-04"), 7, &keyed),
        (key(1, "2026-03-01"), 11, &keyed),
        (key(2, "2026-03-03"), 13, &clear),
    ] {
        reg.record_partition(&k, rows, 10, Some("k"), mode, run)
            .await
            .unwrap();
    }
    let summary = reg.partition_summary().await.unwrap();
    let got: Vec<_> = (summary.iter())
        .map(|p| {
            let days = (p.first_day.unwrap(), p.last_day.unwrap());
            let modes = (p.modes.clear_partitions, p.modes.key_fingerprints.clone());
            (p.account_sid.clone(), p.partitions, p.rows, days, modes)
        })
        .collect();
    let days = |a, b| (day(a), day(b));
    assert_eq!(
        got,
        vec![
            (
                sid(1),
                3,
                23,
                days("2026-03-01", "2026-03-04"),
                (1, vec![fingerprint])
            ),
            (sid(2), 1, 13, days("2026-03-03", "2026-03-03"), (1, vec![])),
        ]
    );
    assert_eq!(
        summary[0].modes.pseudonym,
        twilio_export::registry::PairMode::Mixed
    );
}

#[tokio::test]
async fn status_totals_fold_the_modes_of_a_pair_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    totals_fold_the_modes_of_a_pair(&Registry::connect(&url).await.unwrap()).await;
}

#[tokio::test]
async fn status_totals_fold_the_modes_of_a_pair_on_postgres() {
    let Some(url) = crate::support::fresh_database().await else {
        return;
    };
    totals_fold_the_modes_of_a_pair(&Registry::connect(&url).await.unwrap()).await;
}
