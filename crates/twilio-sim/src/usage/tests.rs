use super::*;

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

#[test]
fn decimals_are_exact() {
    assert_eq!(decimal(0, 4), "0");
    assert_eq!(decimal(33_040, 4), "3.3040");
    assert_eq!(decimal(123_456_789, 9), "0.123456789");
    assert_eq!(decimal(37, 0), "37");
    assert_eq!(decimal(-5, 4), "-0.0005");
    assert_eq!(minutes_of_seconds(1), "0.0166666666666667");
    assert_eq!(minutes_of_seconds(2), "0.0333333333333333");
    assert_eq!(minutes_of_seconds(90), "1.5000000000000000");
    assert_eq!(minutes_of_seconds(0), "0");
}

#[test]
fn relative_and_absolute_dates() {
    let today = day("2026-03-10");
    let q = Query::parse(Some(
        "StartDate=-30days&EndDate=%2B2days&X=2026-01-01&Y=+1days",
    ));
    assert_eq!(
        parse_date(&q, "StartDate", today).expect("ok"),
        Some(day("2026-02-08"))
    );
    assert_eq!(
        parse_date(&q, "EndDate", today).expect("ok"),
        Some(day("2026-03-12"))
    );
    assert_eq!(
        parse_date(&q, "X", today).expect("ok"),
        Some(day("2026-01-01"))
    );
    assert_eq!(parse_date(&q, "Missing", today).expect("ok"), None);
    assert_eq!(
        parse_date(&q, "Y", today).expect("ok"),
        Some(day("2026-03-11"))
    );
    let bad = Query::parse(Some("StartDate=last-week"));
    assert!(parse_date(&bad, "StartDate", today).is_err());
}

#[test]
fn monthly_slices_clip_to_request_and_history() {
    let data = Dataset::new(1, 1, 40, 5, day("2026-03-10"));
    let s = slices(Period::Monthly, Some(day("2026-01-15")), None, &data);
    assert_eq!(
        s,
        vec![
            Slice {
                start: day("2026-01-15"),
                end: day("2026-01-31")
            },
            Slice {
                start: day("2026-02-01"),
                end: day("2026-02-28")
            },
            Slice {
                start: day("2026-03-01"),
                end: day("2026-03-10")
            },
        ]
    );
    let s = slices(Period::LastMonth, None, None, &data);
    assert_eq!(
        s,
        vec![Slice {
            start: day("2026-02-01"),
            end: day("2026-02-28")
        }]
    );
    assert!(slices(Period::AllTime, Some(day("2026-04-01")), None, &data).is_empty());
}

#[test]
fn categories_are_unique_and_sums_resolve() {
    for (i, c) in CATEGORIES.iter().enumerate() {
        assert!(
            CATEGORIES[..i].iter().all(|o| o.name != c.name),
            "{}",
            c.name
        );
        if let Kind::Sum(parts) = c.kind {
            for p in parts {
                assert!(CATEGORIES.iter().any(|o| o.name == *p), "{p}");
            }
        }
    }
    assert!(CATEGORIES.len() >= 35);
}

#[test]
fn totalprice_usage_equals_price_and_calls_match_calls() {
    let data = Dataset::new(3, 1, 3, 50, day("2026-03-10"));
    let book = UsageBook::default();
    for d in data.first_day.iter_days().take(3) {
        let v = book.day(&data, 0, d);
        let tp = CATEGORIES
            .iter()
            .position(|c| c.name == "totalprice")
            .expect("tp");
        assert_eq!(v[tp].usage, v[tp].price);
        assert_eq!(v[tp].count, None);
        let started = data
            .day_calls(0, d)
            .iter()
            .filter(|c| c.start_time.is_some())
            .count();
        assert_eq!(v[0].count, Some(started as i64));
    }
}

#[test]
fn todays_usage_grows_with_the_clock_and_matches_the_calls_so_far() {
    let d = day("2026-03-10");
    let data = Dataset::new(5, 1, 3, 80, d - Days::new(1));
    let book = UsageBook::default();
    let calls = CATEGORIES
        .iter()
        .position(|c| c.name == "calls")
        .expect("calls");
    let mut last: Option<Vec<Amount>> = None;
    for hours in [1, 8, 16, 23, 30] {
        data.set_now(crate::data::day_start(d) + chrono::TimeDelta::hours(hours));
        let now: Vec<Amount> = book.day(&data, 0, d).to_vec();
        let started = data
            .day_calls(0, d)
            .iter()
            .filter(|c| c.start_time.is_some())
            .count();
        assert_eq!(now[calls].count, Some(started as i64));
        if let Some(prev) = &last {
            for (c, (a, b)) in CATEGORIES.iter().zip(prev.iter().zip(&now)) {
                assert!(
                    b.count >= a.count && b.usage >= a.usage,
                    "{} shrank",
                    c.name
                );
            }
        }
        last = Some(now);
    }
    let whole = last.expect("ran");
    assert!(whole.iter().any(|a| a.usage > 0));
}
