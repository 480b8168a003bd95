//! UTC days and inclusive ranges of them: the unit every export window is made of.

use std::fmt;

use chrono::NaiveDate;

/// A text that is not a UTC day written `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a date: expected YYYY-MM-DD")]
pub struct NotADay {
    value: String,
}

/// Parses a UTC day written `YYYY-MM-DD`, nothing else.
pub fn parse_day(value: &str) -> Result<NaiveDate, NotADay> {
    let strict = value.len() == 10 && value.as_bytes()[4] == b'-' && value.as_bytes()[7] == b'-';
    match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(day) if strict => Ok(day),
        // Cut long input so that the message stays readable.
        _ => Err(NotADay {
            value: value.chars().take(40).collect(),
        }),
    }
}

/// Twilio's API opened in 2008: no call or usage record is older.
pub const EARLIEST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2008, 1, 1).expect("a valid date");

/// A day before [`EARLIEST_DAY`]: an export from it would page through years (centuries, for
/// a mistyped year) that hold nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{day} is before {EARLIEST_DAY}: Twilio holds nothing older")]
pub struct BeforeTwilio {
    pub day: NaiveDate,
}

/// `day`, unless it is before [`EARLIEST_DAY`].
pub fn from_twilios_time(day: NaiveDate) -> Result<NaiveDate, BeforeTwilio> {
    if day < EARLIEST_DAY {
        Err(BeforeTwilio { day })
    } else {
        Ok(day)
    }
}

/// A range whose first day comes after its last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the range starts ({first}) after it ends ({last})")]
pub struct ReversedRange {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

/// An inclusive range of UTC days with `first <= last`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DayRange {
    first: NaiveDate,
    last: NaiveDate,
}

impl DayRange {
    pub fn new(first: NaiveDate, last: NaiveDate) -> Result<Self, ReversedRange> {
        if first > last {
            return Err(ReversedRange { first, last });
        }
        Ok(Self { first, last })
    }

    pub fn first(&self) -> NaiveDate {
        self.first
    }

    pub fn last(&self) -> NaiveDate {
        self.last
    }

    pub fn len(&self) -> usize {
        (self.last - self.first).num_days() as usize + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn days(&self) -> impl DoubleEndedIterator<Item = NaiveDate> + Clone {
        self.first.iter_days().take(self.len())
    }
}

impl fmt::Display for DayRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.first, self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_iso_days() {
        assert_eq!(
            parse_day("2026-03-01").unwrap(),
            NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
        );
        for bad in [
            "2026-3-1",
            "2026-02-30",
            "01/03/2026",
            "2026-03-01T00:00:00Z",
            "",
        ] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_day("March").unwrap_err().to_string(),
            "\"March\" is not a date: expected YYYY-MM-DD"
        );
    }

    #[test]
    fn range_is_inclusive_and_ordered() {
        let r = DayRange::new(
            parse_day("2026-02-27").unwrap(),
            parse_day("2026-03-01").unwrap(),
        )
        .unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r.days().last().unwrap(), parse_day("2026-03-01").unwrap());
        assert_eq!(
            DayRange::new(r.last(), r.first()).unwrap_err().to_string(),
            "the range starts (2026-03-01) after it ends (2026-02-27)"
        );
    }
}
