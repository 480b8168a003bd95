use super::*;

fn raw(s: &str) -> Box<RawValue> {
    RawValue::from_string(s.to_owned()).unwrap()
}

#[test]
fn a_backslash_is_found_at_every_place_of_every_length() {
    for len in 0..40 {
        let plain = vec![b'a'; len];
        assert!(!has_backslash(&plain), "{len} bytes without one");
        for at in 0..len {
            let mut with = plain.clone();
            with[at] = b'\\';
            assert!(has_backslash(&with), "{len} bytes, one at {at}");
            // Neither of the bytes next to a backslash's value counts, nor one with the high bit.
            for other in [b'\\' - 1, b'\\' + 1, b'\\' | 0x80] {
                with[at] = other;
                assert!(!has_backslash(&with), "{len} bytes, {other} at {at}");
            }
        }
    }
}

#[test]
fn text_borrows_plain_strings_and_unescapes_others() {
    let r = raw(r#""Zo\u00eb""#);
    assert_eq!(text(Some(&r)).unwrap().unwrap(), "Zoë");
    let r = raw(r#""plain""#);
    assert!(matches!(
        text(Some(&r)).unwrap().unwrap(),
        Cow::Borrowed("plain")
    ));
    assert_eq!(text(Some(&raw("null"))).unwrap(), None);
    assert_eq!(text(None).unwrap(), None);
    assert!(text(Some(&raw("{}"))).is_err());
}

#[test]
fn integers_accept_strings_numbers_and_empty() {
    for (input, want) in [
        (r#""172""#, Some(172)),
        ("172", Some(172)),
        (r#""""#, None),
        ("null", None),
        (r#""0""#, Some(0)),
    ] {
        assert_eq!(integer(Some(&raw(input))).unwrap(), want, "{input}");
    }
    for bad in [r#""1.5""#, r#""abc""#, r#""99999999999999999999""#] {
        let err = integer(Some(&raw(bad))).unwrap_err();
        assert!(matches!(err, ValueError::NotWhole(_)), "{bad}: {err}");
    }
}

#[test]
fn decimals_are_exact_or_refused() {
    let s = 10i128.pow(DECIMAL_SCALE as u32);
    for (input, want) in [
        (r#""-0.0280""#, -280 * s / 10_000),
        (r#""3.3040""#, 33_040 * s / 10_000),
        ("3.304", 3_304 * s / 1_000),
        (r#""0""#, 0),
        (r#""0.123456789012""#, 123_456_789_012 * 1_000_000),
        (r#""1.50000000000000""#, 15 * s / 10),
        ("1e-3", s / 1000),
        ("2E2", 200 * s),
    ] {
        assert_eq!(decimal(Some(&raw(input))).unwrap(), Some(want), "{input}");
    }
    assert_eq!(decimal(Some(&raw(r#""""#))).unwrap(), None);
    let err = decimal(Some(&raw(r#""0.1234567890123456789""#))).unwrap_err();
    assert!(
        matches!(err, ValueError::TooPrecise { scale: 18, .. }),
        "{err}"
    );
    let err = decimal(Some(&raw(r#""100000000000000000000""#))).unwrap_err();
    assert!(matches!(err, ValueError::TooLarge { .. }), "{err}");
    for bad in [r#""""#, r#""-""#, r#""1.2.3""#, r#""abc""#, r#"".""#] {
        let _ = decimal(Some(&raw(bad)));
    }
    assert!(decimal(Some(&raw(r#""1,5""#))).is_err());
}

#[test]
fn decimals_hold_what_doubles_render_and_twenty_integer_digits() {
    for (input, want) in [
        // 1/60 as Twilio writes usage in minutes of per-second billing.
        (r#""0.0166666666666667""#, 16_666_666_666_666_700),
        // 0.1 + 0.2 as a JSON number, and as a string.
        ("0.30000000000000004", 300_000_000_000_000_040),
        (r#""-0.30000000000000004""#, -300_000_000_000_000_040),
        (r#""0.000000000000000001""#, 1),
        (
            r#""99999999999999999999.999999999999999999""#,
            10i128.pow(38) - 1,
        ),
    ] {
        assert_eq!(decimal(Some(&raw(input))).unwrap(), Some(want), "{input}");
    }
}

#[test]
fn only_json_numbers_in_a_doubles_form_are_rounded_past_the_scale() {
    for (input, want) in [
        // 3 × 0.0001 in binary floating point: 20 decimal places, 17 significant digits.
        ("-0.00030000000000000003", Some(-300_000_000_000_000)),
        // Half to even at the 18th place.
        ("0.0000000000000000025", Some(2)),
        ("0.0000000000000000035", Some(4)),
        ("0.00000000000000000251", Some(3)),
        ("1e-19", Some(0)),
        // More significant digits than any double prints: real decimal data, refused.
        ("0.1234567890123456789", None),
    ] {
        let got = decimal(Some(&raw(input)));
        match want {
            Some(v) => assert_eq!(got.unwrap(), Some(v), "{input}"),
            None => assert!(matches!(got, Err(ValueError::TooPrecise { .. })), "{input}"),
        }
    }
    // The same digits as a string are never rounded.
    let err = decimal(Some(&raw(r#""-0.00030000000000000003""#))).unwrap_err();
    assert!(
        err.to_string().contains("more than 18 decimal places"),
        "{err}"
    );
}

#[test]
fn timestamps_parse_fast_and_slow_forms_alike() {
    let want = DateTime::parse_from_rfc3339("2026-03-01T18:42:10Z")
        .unwrap()
        .timestamp_micros();
    for input in [
        r#""Sun, 01 Mar 2026 18:42:10 +0000""#,
        r#""Sun, 01 Mar 2026 18:42:10 GMT""#,
        r#""Sun, 01 Mar 2026 19:42:10 +0100""#,
        r#""2026-03-01T18:42:10+00:00""#,
    ] {
        assert_eq!(timestamp(Some(&raw(input))).unwrap(), Some(want), "{input}");
    }
    assert!(timestamp(Some(&raw(r#""yesterday""#))).is_err());
    assert_eq!(fast_rfc2822_utc("Thu, 01 Jan 1970 00:00:00 +0000"), Some(0));
}

proptest::proptest! {
    #[test]
    fn the_fast_path_agrees_with_chrono_on_every_day(days in -719_162i64..2_932_896, secs in 0i64..86_400) {
        let at = DateTime::from_timestamp(days * 86_400 + secs, 0).unwrap();
        let text = at.format("%a, %d %b %Y %H:%M:%S +0000").to_string();
        proptest::prop_assert_eq!(fast_rfc2822_utc(&text), Some(at.timestamp_micros()));
    }
}

#[test]
fn a_timestamp_reads_as_chrono_reads_it_whichever_path_takes_it() {
    // 29 November 2026 was a Sunday.
    for input in [
        "Sun, 29 Nov 2026 10:00:00 +0000",
        "Fri, 29 Nov 2026 10:00:00 +0000",
        "Fri, 29 Nov 2026 10:00:00 -0000",
        "Mon, 30 Nov 2026 10:00:00 +0000",
        "Sun, 29 Nov 2026 10:00:60 +0000",
        "Sun, 29 Nov 2026 23:59:60 +0000",
    ] {
        let chrono = DateTime::parse_from_rfc2822(input).map(|d| d.timestamp_micros());
        let ours = timestamp(Some(&raw(&format!("{input:?}"))));
        assert_eq!(ours.ok(), chrono.ok().map(Some), "{input}");
    }
    assert_eq!(fast_rfc2822_utc("Fri, 29 Nov 2026 10:00:00 +0000"), None);
}

#[test]
fn the_fast_path_leaves_days_not_in_their_month_to_chrono() {
    for bad in [
        "Sun, 29 Feb 2026 00:00:00 +0000",
        "Sun, 31 Apr 2026 00:00:00 +0000",
        "Sun, 00 Mar 2026 00:00:00 +0000",
        "Sun, 29 Feb 1900 00:00:00 +0000",
    ] {
        assert_eq!(fast_rfc2822_utc(bad), None, "{bad}");
        assert!(timestamp(Some(&raw(&format!("{bad:?}")))).is_err(), "{bad}");
    }
    assert!(fast_rfc2822_utc("Tue, 29 Feb 2000 00:00:00 +0000").is_some());
}

#[test]
fn dates_are_days_since_epoch() {
    assert_eq!(date(Some(&raw(r#""1970-01-02""#))).unwrap(), Some(1));
    assert!(date(Some(&raw(r#""03/01/2026""#))).is_err());
}
