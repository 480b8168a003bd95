//! UTC days and inclusive ranges of them: the unit every export window is made of.

use std::fmt;

use chrono::NaiveDate;

/// Parses a UTC day written `YYYY-MM-DD`, nothing else.
pub fn parse_day(value: &str) -> Result<NaiveDate, String> {
    let strict = value.len() == 10 && value.as_bytes()[4] == b'-' && value.as_bytes()[7] == b'-';
    match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(day) if strict => Ok(day),
        _ => Err(format!("{value:?} is not a date: expected YYYY-MM-DD")),
    }
}

/// An inclusive range of UTC days with `first <= last`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DayRange {
    first: NaiveDate,
    last: NaiveDate,
}

impl DayRange {
    pub fn new(first: NaiveDate, last: NaiveDate) -> Result<Self, String> {
        if first > last {
            return Err(format!("the range starts ({first}) after it ends ({last})"));
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
        assert!(DayRange::new(r.last(), r.first()).is_err());
    }
}
