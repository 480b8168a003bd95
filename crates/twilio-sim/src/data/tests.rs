use super::*;

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

#[test]
fn rfc2822_has_correct_weekday_and_padding() {
    let t = day("2026-03-01").and_hms_opt(8, 2, 3).expect("t").and_utc();
    assert_eq!(rfc2822(t), "Sun, 01 Mar 2026 08:02:03 +0000");
}

#[test]
fn call_sid_round_trips_day_and_position() {
    let ord = day_ordinal(day("2026-03-01"));
    let s = call_sid(42, 1, ord, 517);
    assert_eq!(s.len(), 34);
    assert_eq!(decode_call_sid(42, &s), Some((ord, 517)));
    assert_eq!(day_from_ordinal(ord), Some(day("2026-03-01")));
    assert_eq!(decode_call_sid(42, "CA+123"), None);
    assert_eq!(decode_call_sid(42, &s.replace("CA", "PN")), None);
}

#[test]
fn generation_is_deterministic_and_consistent() {
    let a = Dataset::new(7, 2, 5, 60, day("2026-03-05"));
    let b = Dataset::new(7, 2, 5, 60, day("2026-03-05"));
    assert_eq!(a.accounts[1].sid, b.accounts[1].sid);
    let now = a.now();
    for acct in 0..2 {
        for d in a.first_day.iter_days().take(5) {
            let x = a.day_calls(acct, d);
            let y = b.day_calls(acct, d);
            let sids: Vec<_> = x.iter().map(|c| &c.sid).collect();
            assert_eq!(sids, y.iter().map(|c| &c.sid).collect::<Vec<_>>());
            for c in x.iter() {
                if let Some(s) = c.start_time {
                    assert_eq!(s.date_naive(), d);
                    assert!(c.date_created <= s);
                }
                if let Some(e) = c.end_time {
                    assert_eq!(c.status, "completed");
                    assert!(c.start_time.is_some_and(|s| s <= e));
                    assert!(e <= c.date_updated);
                }
                assert!(c.date_updated <= now);
                if let Some(p) = &c.parent_call_sid {
                    assert!(x.iter().any(|o| &o.sid == p), "parent on same day");
                }
                let found = a.find_call(acct, &c.sid).expect("findable");
                assert_eq!(found.sid, c.sid);
            }
        }
    }
    assert!(a
        .find_call(1, &a.day_calls(0, day("2026-03-04"))[0].sid)
        .is_none());
}

#[test]
fn moving_today_only_settles_in_flight_calls() {
    let d = day("2026-03-05");
    let before = Dataset::new(9, 1, 3, 200, d);
    let after = Dataset::new(9, 1, 3, 200, d + TimeDelta::days(1));
    let (old, new) = (before.day_calls(0, d), after.day_calls(0, d));
    let in_flight = |c: &Call| matches!(c.status, "queued" | "ringing" | "in-progress");
    assert!(old.iter().filter(|c| in_flight(c)).count() > 5);
    assert!(!new.iter().any(in_flight));
    for c in old.iter() {
        let n = new
            .iter()
            .find(|x| x.sid == c.sid)
            .expect("same SID once settled");
        assert_eq!((c.direction, &c.to, &c.from), (n.direction, &n.to, &n.from));
        assert_eq!(c.caller_name, n.caller_name);
        assert_eq!(
            c.start_time.unwrap_or(c.date_created),
            n.start_time.unwrap_or(n.date_created)
        );
        if !in_flight(c) {
            assert_eq!(
                (c.status, c.duration, c.end_time),
                (n.status, n.duration, n.end_time)
            );
        }
    }
}

#[test]
fn moving_now_adds_calls_and_settles_them_for_good() {
    let d = day("2026-03-05");
    // The clock starts at the end of the day before and moves through `d` and beyond.
    let data = Dataset::new(11, 1, 3, 300, d - TimeDelta::days(1));
    let in_flight = |c: &Call| matches!(c.status, "queued" | "ringing" | "in-progress");
    let mut seen: Vec<Call> = Vec::new();
    let mut in_flight_at_noon = 0;
    for hours in [6, 12, 18, 24, 30, 48, 60, 80, 200] {
        let now = data.set_now(day_start(d) + TimeDelta::hours(hours));
        let calls = data.day_calls(0, d);
        assert!(calls.len() >= seen.len(), "calls never disappear");
        for c in calls.iter() {
            assert!(c.date_created <= now && c.date_updated <= now);
            assert!(c.start_time.is_none_or(|s| s <= now));
            assert!(c.end_time.is_none_or(|e| e <= now));
        }
        for old in &seen {
            let new = calls
                .iter()
                .find(|c| c.sid == old.sid)
                .expect("still there");
            assert_eq!(
                (old.direction, &old.to, &old.from),
                (new.direction, &new.to, &new.from)
            );
            if !in_flight(old) {
                assert_eq!(
                    (old.status, old.end_time, old.duration),
                    (new.status, new.end_time, new.duration)
                );
            }
            if old.price.is_some() {
                assert_eq!(old.price, new.price, "a price once shown stays");
            }
        }
        if hours == 12 {
            in_flight_at_noon = calls.iter().filter(|c| in_flight(c)).count();
            assert!(calls
                .iter()
                .all(|c| c.date_created < day_start(d) + TimeDelta::hours(12)));
        }
        if hours >= 48 {
            assert!(
                !calls.iter().any(in_flight),
                "settled by the end of the next day"
            );
        }
        seen = calls.to_vec();
    }
    assert!(in_flight_at_noon > 5, "{in_flight_at_noon}");
    // Nothing changes after the price horizon (36 hours after the last call ended).
    let before: Vec<_> = seen
        .iter()
        .map(|c| (c.sid.clone(), c.price, c.date_updated))
        .collect();
    data.set_now(day_start(d) + TimeDelta::days(30));
    let after: Vec<_> = data
        .day_calls(0, d)
        .iter()
        .map(|c| (c.sid.clone(), c.price, c.date_updated))
        .collect();
    assert_eq!(before, after);
    // The clock does not go back.
    let now = data.now();
    assert_eq!(data.set_now(day_start(d)), now);
}
