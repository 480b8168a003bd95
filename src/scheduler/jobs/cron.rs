//! Cron expressions of job files: the `cron` crate's six or seven fields, or crontab(5)'s
//! five (with crontab's either-day-or-weekday rule), evaluated in UTC.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

/// Why a schedule is not a usable cron expression.
#[derive(Debug, thiserror::Error)]
pub enum CronError {
    #[error("{text:?} has {fields} fields: expected 5 (min hour day month weekday), or 6 or 7 with seconds first")]
    FieldCount { text: String, fields: usize },
    #[error("{text:?} is not a cron expression: {}", reason(cause))]
    Invalid {
        text: String,
        cause: cron::error::Error,
    },
    #[error("{text:?} never fires again")]
    NeverFires { text: String },
    #[error("weekday {weekday} is out of range 0-7")]
    WeekdayOutOfRange { weekday: usize },
    #[error("weekday range {range:?} runs backwards")]
    WeekdaysBackwards { range: String },
    #[error("weekday range {range:?} with a step: write it with names (MON-SUN is not a range)")]
    WeekdaysToSundayWithStep { range: String },
    #[error("weekday range {range:?} mixes numbers and names")]
    WeekdaysMixed { range: String },
}

/// The cron crate's reason alone: its message repeats the expression over several lines, with
/// a caret under the field at fault, before the reason on the last line.
fn reason(cause: &cron::error::Error) -> String {
    let text = cause.to_string();
    let last = text.lines().map(str::trim).rfind(|l| !l.is_empty());
    last.unwrap_or_default().to_owned()
}

/// A cron expression, evaluated in UTC. Six fields (`sec min hour day month weekday`) or seven
/// (with a year) as the `cron` crate reads them, where weekdays count 1 = Sunday … 7 = Saturday
/// and a restricted day and weekday must both match; or the five fields of crontab(5) (`min
/// hour day month weekday`, 0 or 7 = Sunday), which are read as firing at second 0 with their
/// weekday numbers translated, and which, as in crontab, fire when either the day or the
/// weekday matches if both are restricted (neither starts with `*`).
#[derive(Clone)]
pub struct CronSpec {
    source: String,
    /// It fires when any of them does: one, or for a crontab line restricting both the day and
    /// the weekday, the line with each of them in turn set to `*`.
    schedules: Vec<cron::Schedule>,
}

impl CronSpec {
    pub fn parse(text: &str) -> Result<Self, CronError> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let exprs = match fields.len() {
            5 => crontab(&fields)?,
            6 | 7 => vec![fields.join(" ")],
            fields => {
                return Err(CronError::FieldCount {
                    text: text.to_owned(),
                    fields,
                })
            }
        };
        let schedules = exprs
            .iter()
            .map(|e| cron::Schedule::from_str(e))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|cause| CronError::Invalid {
                text: text.to_owned(),
                cause,
            })?;
        let spec = Self {
            source: text.trim().to_owned(),
            schedules,
        };
        if spec.next_after(Utc::now()).is_none() {
            return Err(CronError::NeverFires {
                text: text.to_owned(),
            });
        }
        Ok(spec)
    }

    /// The first fire time strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedules
            .iter()
            .filter_map(|s| s.after(&t).next())
            .min()
    }

    /// Whether the schedule fired in `(after, up_to]`.
    pub fn fired_between(&self, after: DateTime<Utc>, up_to: DateTime<Utc>) -> bool {
        self.next_after(after).is_some_and(|t| t <= up_to)
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Debug for CronSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CronSpec({:?})", self.source)
    }
}

impl fmt::Display for CronSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// The `cron` crate's expressions of a crontab(5) line: at second 0, weekdays translated; when
/// both the day and the weekday are restricted, two, one with each of them set to `*`, since
/// crontab fires when either matches (the crate, when both do).
fn crontab(fields: &[&str]) -> Result<Vec<String>, CronError> {
    let [minute, hour, day, month, weekday] = fields else {
        unreachable!("five fields");
    };
    let weekday = crontab_weekdays(weekday)?;
    let line = |day: &str, weekday: &str| format!("0 {minute} {hour} {day} {month} {weekday}");
    let restricted = |field: &str| !field.starts_with('*') && !field.starts_with('?');
    Ok(if restricted(day) && restricted(&weekday) {
        vec![line(day, "*"), line("*", &weekday)]
    } else {
        vec![line(day, &weekday)]
    })
}

/// Translates a crontab(5) weekday field (0-7, 0 and 7 = Sunday) into names, which mean the
/// same to the `cron` crate (whose numbers start at 1 = Sunday).
fn crontab_weekdays(field: &str) -> Result<String, CronError> {
    const NAMES: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
    let day = |s: &str| -> Result<Option<usize>, CronError> {
        match s.parse::<usize>() {
            Ok(n) if n <= 7 => Ok(Some(n)),
            Ok(weekday) => Err(CronError::WeekdayOutOfRange { weekday }),
            Err(_) => Ok(None),
        }
    };
    let mut items = Vec::new();
    for item in field.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => (b, Some(s)),
            None => (item, None),
        };
        let step_suffix = step.map(|s| format!("/{s}")).unwrap_or_default();
        let translated = match base.split_once('-') {
            Some((a, b)) => match (day(a)?, day(b)?) {
                (Some(a), Some(b)) if a > b => {
                    return Err(CronError::WeekdaysBackwards {
                        range: base.to_owned(),
                    })
                }
                // Sunday as 7 closes the week: split the range, which cannot take a step then.
                (Some(a), Some(7)) if a > 0 => {
                    if step.is_some() {
                        return Err(CronError::WeekdaysToSundayWithStep {
                            range: base.to_owned(),
                        });
                    }
                    match a {
                        7 => "SUN".to_owned(),
                        6 => "SAT,SUN".to_owned(),
                        _ => format!("{}-SAT,SUN", NAMES[a]),
                    }
                }
                (Some(a), Some(b)) => format!("{}-{}{step_suffix}", NAMES[a], NAMES[b.min(6)]),
                (None, None) => item.to_owned(),
                _ => {
                    return Err(CronError::WeekdaysMixed {
                        range: base.to_owned(),
                    })
                }
            },
            None => match day(base)? {
                Some(n) => format!("{}{step_suffix}", NAMES[n]),
                None => item.to_owned(),
            },
        };
        items.push(translated);
    }
    Ok(items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn crontab_five_fields_fire_at_second_zero_with_crontab_weekdays() {
        // 2026-03-02 is a Monday.
        let monday_2am = CronSpec::parse("0 2 * * 1").unwrap();
        assert_eq!(
            monday_2am.next_after(at("2026-03-01T00:00:00Z")),
            Some(at("2026-03-02T02:00:00Z"))
        );
        let weekdays = CronSpec::parse("30 1 * * 1-5").unwrap();
        assert_eq!(
            weekdays.next_after(at("2026-03-06T02:00:00Z")),
            Some(at("2026-03-09T01:30:00Z")),
            "Friday's has passed; the next is Monday"
        );
        let sundays = [
            CronSpec::parse("0 0 * * 0").unwrap(),
            CronSpec::parse("0 0 * * 7").unwrap(),
            CronSpec::parse("0 0 * * 6-7").unwrap(),
        ];
        for s in &sundays {
            assert_eq!(
                s.next_after(at("2026-03-07T12:00:00Z")),
                Some(at("2026-03-08T00:00:00Z")),
                "{s}"
            );
        }
        let every_five = CronSpec::parse("*/5 * * * *").unwrap();
        assert_eq!(
            every_five.next_after(at("2026-03-01T10:02:30Z")),
            Some(at("2026-03-01T10:05:00Z"))
        );
        assert!(matches!(
            CronSpec::parse("0 0 * * 8"),
            Err(CronError::WeekdayOutOfRange { weekday: 8 })
        ));
        assert!(matches!(
            CronSpec::parse("0 0 * * 5-1"),
            Err(CronError::WeekdaysBackwards { .. })
        ));
        assert!(matches!(
            CronSpec::parse("0 0 * * 1-FRI"),
            Err(CronError::WeekdaysMixed { .. })
        ));
        assert!(matches!(
            CronSpec::parse("* * *"),
            Err(CronError::FieldCount { fields: 3, .. })
        ));
        assert!(matches!(
            CronSpec::parse("0 0 0 30 2 *"),
            Err(CronError::NeverFires { .. })
        ));
    }

    #[test]
    fn a_crontab_line_restricting_day_and_weekday_fires_when_either_matches() {
        // Monday 2026-11-30, 11:30.
        let now = at("2026-11-30T11:30:00Z");
        let first_or_monday = CronSpec::parse("0 7 1 * 1").unwrap();
        assert_eq!(
            first_or_monday.next_after(now),
            Some(at("2026-12-01T07:00:00Z"))
        );
        assert_eq!(
            first_or_monday.next_after(at("2026-12-01T07:00:00Z")),
            Some(at("2026-12-07T07:00:00Z")),
            "the next Monday"
        );
        let friday_or_13th = CronSpec::parse("0 7 13 * 5").unwrap();
        assert_eq!(
            friday_or_13th.next_after(now),
            Some(at("2026-12-04T07:00:00Z"))
        );
        assert_eq!(
            friday_or_13th.next_after(at("2026-12-11T07:00:00Z")),
            Some(at("2026-12-13T07:00:00Z")),
            "Sunday the 13th"
        );
        // A `*` (also with a step) leaves the other field alone, as in crontab.
        let mondays = CronSpec::parse("0 7 */1 * 1").unwrap();
        assert_eq!(mondays.next_after(now), Some(at("2026-12-07T07:00:00Z")));
        // A day that never comes still leaves the weekday.
        let feb_30_or_monday = CronSpec::parse("0 7 30 2 1").unwrap();
        assert_eq!(
            feb_30_or_monday.next_after(now),
            Some(at("2027-02-01T07:00:00Z"))
        );
        // Six fields are the `cron` crate's: both must match (1 = Sunday there, so 2 = Monday).
        let both = CronSpec::parse("0 0 7 1 * 2").unwrap();
        assert_eq!(both.next_after(now), Some(at("2027-02-01T07:00:00Z")));
    }
}
