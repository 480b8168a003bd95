//! Typing one raw JSON value exactly: text, integers, decimals, timestamps and dates.
//!
//! Twilio sends most numbers as strings (`"duration": "172"`, `"price": "-0.0280"`) but the
//! spec says some are numbers (`docs/twilio-api.md` §4.2, §5), so every numeric reader takes
//! either. Decimals are parsed from their text into scaled integers: no float anywhere.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate};
use serde_json::value::RawValue;

/// Scale of every exported decimal column (digits after the point): room for any value
/// Twilio renders from a double (`"0.0166666666666667"`, `0.30000000000000004`).
pub const DECIMAL_SCALE: i8 = 18;
/// Precision of every exported decimal column (total digits): 20 before the point.
pub const DECIMAL_PRECISION: u8 = 38;
/// The most significant digits a double's shortest round-trip form has.
const DOUBLE_DIGITS: usize = 17;

/// Why one value cannot be typed exactly. Each variant holds the value as sent (shortened),
/// but those of a phone number or a name, which are not shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// A key (a call's `sid`, a usage record's `category`) is null, absent or empty.
    #[error("missing")]
    Missing,
    /// An object or array where text is expected.
    #[error("expected a string, found {0}")]
    NotText(String),
    /// A string whose escapes do not decode (a lone surrogate).
    #[error("{0} is not a valid JSON string")]
    BadString(String),
    /// An object or array where a phone number or a name is expected; the value is not shown.
    #[error("expected a string, found an object or an array (not shown: it holds a phone number or a name)")]
    PersonalNotText,
    /// A phone number or a name whose escapes do not decode; the value is not shown.
    #[error("not a valid JSON string (not shown: it holds a phone number or a name)")]
    PersonalBadString,
    #[error("{0} is not a whole number")]
    NotWhole(String),
    #[error("{0} is not a decimal number")]
    NotDecimal(String),
    /// More decimal places than the column's scale; never rounded.
    #[error("{value} has more than {scale} decimal places")]
    TooPrecise { value: String, scale: u32 },
    /// More digits than `decimal(38, scale)` holds.
    #[error("{value} does not fit a decimal({DECIMAL_PRECISION},{scale})")]
    TooLarge { value: String, scale: u32 },
    #[error("{0} is not an RFC 2822 or RFC 3339 timestamp")]
    NotTimestamp(String),
    #[error("{0} is not a YYYY-MM-DD date")]
    NotDate(String),
}

/// The raw JSON text of a present, non-null value.
fn present(raw: Option<&RawValue>) -> Option<&str> {
    raw.map(RawValue::get).filter(|t| *t != "null")
}

/// A JSON string's content; numbers and booleans are kept as their literal text.
pub fn text<'a>(raw: Option<&'a RawValue>) -> Result<Option<Cow<'a, str>>, ValueError> {
    let Some(t) = present(raw) else {
        return Ok(None);
    };
    match t.as_bytes()[0] {
        b'"' => {
            let inner = &t[1..t.len() - 1];
            if has_backslash(inner.as_bytes()) {
                serde_json::from_str::<String>(t)
                    .map(|s| Some(Cow::Owned(s)))
                    .map_err(|_| ValueError::BadString(shorten(t)))
            } else {
                Ok(Some(Cow::Borrowed(inner)))
            }
        }
        b'{' | b'[' => Err(ValueError::NotText(shorten(t))),
        _ => Ok(Some(Cow::Borrowed(t))),
    }
}

/// Whether `bytes` holds a backslash. Every byte is looked at, with no early exit, so that
/// the loop is vectorized: values are a few dozen bytes, where `str::contains` costs a call
/// and a byte-at-a-time search per value.
fn has_backslash(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |found, &b| found | (b == b'\\'))
}

/// As [`text`], for a value that carries a phone number or a name: an error says what is
/// wrong without the value.
pub fn personal_text<'a>(raw: Option<&'a RawValue>) -> Result<Option<Cow<'a, str>>, ValueError> {
    text(raw).map_err(|e| match e {
        ValueError::NotText(_) => ValueError::PersonalNotText,
        ValueError::BadString(_) => ValueError::PersonalBadString,
        other => other,
    })
}

/// Text that must be present and non-empty (sids and other keys).
pub fn required_text<'a>(raw: Option<&'a RawValue>) -> Result<Cow<'a, str>, ValueError> {
    match text(raw)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(ValueError::Missing),
    }
}

/// The value's raw JSON (objects such as `subresource_uris`), `None` for null or absent.
pub fn json(raw: Option<&RawValue>) -> Option<&str> {
    present(raw)
}

/// A whole number sent as a string or a number; `""` counts as absent (README §4.2).
pub fn integer(raw: Option<&RawValue>) -> Result<Option<i64>, ValueError> {
    let Some(t) = text(raw)? else {
        return Ok(None);
    };
    let t = t.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<i64>()
        .ok()
        .or_else(|| {
            // "172.0" is still a whole number; anything with a fraction is not.
            let d = parse_decimal(t, 0).ok()?;
            i64::try_from(d).ok()
        })
        .map(Some)
        .ok_or_else(|| ValueError::NotWhole(shorten(t)))
}

/// An exact decimal at [`DECIMAL_SCALE`], from a string or a number; `""` counts as absent.
///
/// A string with more decimal places than the scale is refused, never rounded. A JSON number
/// whose digits are a double's shortest form (at most 17 significant digits, as serializers
/// write floats) is rounded half to even at the scale instead: such a number is a binary
/// approximation already, and its digits past the 18th decimal place (below 5·10⁻¹⁹) carry
/// nothing the sender's double held exactly. A longer JSON number is refused like a string.
pub fn decimal(raw: Option<&RawValue>) -> Result<Option<i128>, ValueError> {
    let is_number = present(raw).is_some_and(|t| !t.starts_with('"'));
    let Some(t) = text(raw)? else {
        return Ok(None);
    };
    let t = t.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let n = Number::parse(t)?;
    let rounding = if is_number && n.significant_digits() <= DOUBLE_DIGITS {
        Rounding::HalfEven
    } else {
        Rounding::Refuse
    };
    n.scaled(DECIMAL_SCALE as u32, rounding).map(Some)
}

/// Parses `[-+]digits[.digits][e[-+]digits]` into an integer scaled by `10^scale`.
/// Refuses, rather than rounds, a value with more significant digits than fit.
pub fn parse_decimal(t: &str, scale: u32) -> Result<i128, ValueError> {
    Number::parse(t)?.scaled(scale, Rounding::Refuse)
}

/// What to do with nonzero digits past the scale.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rounding {
    Refuse,
    HalfEven,
}

/// The parts of a decimal literal, borrowed from its text.
struct Number<'t> {
    text: &'t str,
    neg: bool,
    int_part: &'t str,
    frac_part: &'t str,
    exp: i32,
}

impl<'t> Number<'t> {
    fn parse(text: &'t str) -> Result<Self, ValueError> {
        let bad = || ValueError::NotDecimal(shorten(text));
        let (neg, body) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exp) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], body[i + 1..].parse::<i32>().map_err(|_| bad())?),
            None => (body, 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if (int_part.is_empty() && frac_part.is_empty())
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        Ok(Number {
            text,
            neg,
            int_part,
            frac_part,
            exp,
        })
    }

    /// Digits without the leading and trailing zeros.
    fn significant_digits(&self) -> usize {
        let digits = format!("{}{}", self.int_part, self.frac_part);
        digits.trim_start_matches('0').trim_end_matches('0').len()
    }

    /// The value times `10^scale` as an integer of at most [`DECIMAL_PRECISION`] digits.
    fn scaled(&self, scale: u32, rounding: Rounding) -> Result<i128, ValueError> {
        let overflow = || ValueError::TooLarge {
            value: shorten(self.text),
            scale,
        };
        // Value = digits × 10^(exp - frac_len); we want digits × 10^(exp - frac_len + scale).
        let shift = self.exp as i64 - self.frac_part.len() as i64 + scale as i64;
        let digits = self.int_part.bytes().chain(self.frac_part.bytes());
        let total = self.int_part.len() + self.frac_part.len();
        // Digits that the shift drops must all be zero, unless rounding is allowed.
        let keep = total.saturating_sub(usize::try_from(-shift).unwrap_or(0));
        let mut value: i128 = 0;
        let (mut first_dropped, mut rest_nonzero) = (None, false);
        for (i, d) in digits.enumerate() {
            let d = d - b'0';
            if i < keep {
                value = value
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(i128::from(d)))
                    .ok_or_else(overflow)?;
            } else if first_dropped.is_none() {
                first_dropped = Some(d);
            } else {
                rest_nonzero |= d != 0;
            }
        }
        let dropped = first_dropped.unwrap_or(0);
        if rounding == Rounding::Refuse && (dropped != 0 || rest_nonzero) {
            return Err(ValueError::TooPrecise {
                value: shorten(self.text),
                scale,
            });
        }
        if dropped > 5 || (dropped == 5 && (rest_nonzero || value % 2 == 1)) {
            value = value.checked_add(1).ok_or_else(overflow)?;
        }
        if shift > 0 {
            value = u32::try_from(shift)
                .ok()
                .and_then(|s| 10i128.checked_pow(s))
                .and_then(|p| value.checked_mul(p))
                .ok_or_else(overflow)?;
        }
        if value >= 10i128.pow(DECIMAL_PRECISION as u32) {
            return Err(overflow());
        }
        Ok(if self.neg { -value } else { value })
    }
}

/// An RFC 2822 timestamp (`Sun, 01 Mar 2026 18:42:10 +0000`) as UTC microseconds.
/// ISO 8601 / RFC 3339 is accepted too, for `as_of` and for APIs that switch format.
pub fn timestamp(raw: Option<&RawValue>) -> Result<Option<i64>, ValueError> {
    let Some(t) = text(raw)? else {
        return Ok(None);
    };
    let t = t.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if let Some(us) = fast_rfc2822_utc(t) {
        return Ok(Some(us));
    }
    DateTime::parse_from_rfc2822(t)
        .or_else(|_| DateTime::parse_from_rfc3339(t))
        .map(|d| Some(d.timestamp_micros()))
        .map_err(|_| ValueError::NotTimestamp(shorten(t)))
}

/// A `YYYY-MM-DD` date as days since 1970-01-01.
pub fn date(raw: Option<&RawValue>) -> Result<Option<i32>, ValueError> {
    let Some(t) = text(raw)? else {
        return Ok(None);
    };
    let t = t.trim();
    if t.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .map(|d| Some(days_since_epoch(d)))
        .map_err(|_| ValueError::NotDate(shorten(t)))
}

pub fn days_since_epoch(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")).num_days() as i32
}

/// The fixed form Twilio always sends, parsed without allocation; anything else → `None`,
/// for chrono to decide. Where both read a text they agree: a weekday that is not the date's
/// is left to chrono, which refuses it.
fn fast_rfc2822_utc(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    // "Sun, 01 Mar 2026 18:42:10 +0000"
    if b.len() != 31 || &b[3..5] != b", " || &b[25..] != b" +0000" {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as i64)
        })
    };
    let day = num(5..7)?;
    let month = match &b[8..11] {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    let year = num(12..16)?;
    if b[16] != b' ' || b[19] != b':' || b[22] != b':' || b[7] != b' ' || b[11] != b' ' {
        return None;
    }
    let (h, m, s) = (num(17..19)?, num(20..22)?, num(23..25)?);
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    // 1970-01-01 was a Thursday.
    const WEEKDAYS: [&[u8]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    if &b[..3] != WEEKDAYS[days.rem_euclid(7) as usize] {
        return None;
    }
    Some(((days * 86_400) + h * 3600 + m * 60 + s) * 1_000_000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date, `None` if the day is not in its
/// month. Arithmetic only (H. Hinnant's `days_from_civil`): the fast path of every timestamp.
fn days_from_civil(year: i64, month: u32, day: i64) -> Option<i64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=month_days).contains(&day) {
        return None;
    }
    let m = i64::from(month);
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn shorten(t: &str) -> String {
    if t.chars().count() > 40 {
        format!("{:?}…", t.chars().take(40).collect::<String>())
    } else {
        format!("{t:?}")
    }
}

#[cfg(test)]
mod tests;
