//! Cron schedules (`*/10 * * * *`): five fields — minute, hour, day of month, month, day of
//! week — each `*`, a number, a range `a-b`, a step `*/n`, `a-b/n` or `a/n`, or a list of those
//! separated by commas; months and days may be named (`jan`, `mon-fri`); Sunday is 0 or 7. The
//! shorthands `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly` and `@yearly`
//! (`@annually`) are accepted. As in Vixie cron, when both the day of month and the day of week
//! are restricted, a day matching either runs. Times are UTC.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};

/// A parsed cron schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The expression as given (trimmed, fields separated by one space).
    text: String,
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    /// Whether the day of month / day of week field starts with `*` (`*`, `*/2`).
    any_day: bool,
    any_weekday: bool,
}

/// The runs of a schedule in a span of time ([`Schedule::runs_between`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runs {
    /// The oldest few.
    pub first: Vec<DateTime<Utc>>,
    /// How many in all.
    pub count: u64,
    /// The newest.
    pub last: Option<DateTime<Utc>>,
}

/// Why a cron expression was refused; the message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad schedule {expression:?}: {reason} (write five fields: minute hour day-of-month month day-of-week, e.g. \"*/10 * * * *\")")]
pub struct CronError {
    expression: String,
    reason: String,
}

/// One field's name, bounds and value names.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Field = Field { name: "minute", min: 0, max: 59, names: &[] };
const HOUR: Field = Field { name: "hour", min: 0, max: 23, names: &[] };
const DAY: Field = Field { name: "day of month", min: 1, max: 31, names: &[] };
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
};
const WEEKDAY: Field =
    Field { name: "day of week", min: 0, max: 7, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] };

/// How far ahead [`Schedule::next_after`] looks: past any leap-day schedule (8 years covers the
/// skipped leap year of 2100).
const HORIZON_DAYS: i64 = 366 * 9;

impl Schedule {
    /// Parses an expression; the error names the field and what is wrong with it.
    pub fn parse(expression: &str) -> Result<Schedule, CronError> {
        let fail = |reason: String| CronError { expression: expression.to_string(), reason };
        let trimmed = expression.trim();
        let expanded = match trimmed.to_ascii_lowercase().as_str() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            other if other.starts_with('@') => {
                return Err(fail(format!(
                    "unknown shorthand {other} (use @hourly, @daily, @weekly, @monthly or @yearly)"
                )));
            }
            _ => trimmed,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields.as_slice() else {
            return Err(fail(format!("it has {} fields, not 5", fields.len())));
        };
        let (minutes, _) = parse_field(minute, &MINUTE).map_err(fail)?;
        let (hours, _) = parse_field(hour, &HOUR).map_err(fail)?;
        let (days, any_day) = parse_field(day, &DAY).map_err(fail)?;
        let (months, _) = parse_field(month, &MONTH).map_err(fail)?;
        let (mut weekdays, any_weekday) = parse_field(weekday, &WEEKDAY).map_err(fail)?;
        // 7 is Sunday too.
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        let schedule = Schedule {
            text: if expanded == trimmed { fields.join(" ") } else { trimmed.to_ascii_lowercase() },
            minutes,
            hours: hours as u32,
            days: days as u32,
            months: months as u16,
            weekdays: (weekdays & 0x7f) as u8,
            any_day,
            any_weekday,
        };
        if (schedule.any_day || schedule.any_weekday) && !schedule.some_month_has_a_day() {
            return Err(fail("no month it names has the days it names, so it would never run".into()));
        }
        Ok(schedule)
    }

    /// The expression, normalised (one space between fields).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first time strictly after `after` (to the minute) that the schedule runs; `None` only
    /// for a schedule that cannot run within [`HORIZON_DAYS`] (which [`Schedule::parse`] refuses).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = after.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let mut date = start.date_naive();
        let last = date + Duration::days(HORIZON_DAYS);
        let mut first_day = true;
        while date <= last {
            if self.runs_on(date) {
                let (from_hour, from_minute) = if first_day { (start.hour(), start.minute()) } else { (0, 0) };
                for hour in from_hour..24 {
                    if self.hours & (1 << hour) == 0 {
                        continue;
                    }
                    let minute_from = if hour == from_hour { from_minute } else { 0 };
                    if let Some(minute) = (minute_from..60).find(|m| self.minutes & (1 << m) != 0) {
                        return Utc.from_utc_datetime(&date.and_hms_opt(hour, minute, 0)?).into();
                    }
                }
            }
            date = date.succ_opt()?;
            first_day = false;
        }
        None
    }

    /// The times the schedule runs in `(after, until]`: the first `limit` of them, how many
    /// there are, and the newest.
    pub fn runs_between(&self, after: DateTime<Utc>, until: DateTime<Utc>, limit: usize) -> Runs {
        let mut runs = Runs { first: Vec::new(), count: 0, last: None };
        let mut at = after;
        while let Some(next) = self.next_after(at).filter(|next| *next <= until) {
            if runs.first.len() < limit {
                runs.first.push(next);
            }
            runs.count += 1;
            runs.last = Some(next);
            at = next;
        }
        runs
    }

    fn runs_on(&self, date: NaiveDate) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let day = self.days & (1 << date.day()) != 0;
        let weekday = self.weekdays & (1 << date.weekday().num_days_from_sunday()) != 0;
        // Vixie cron: a field written with `*` joins with AND; two restricted fields with OR.
        if self.any_day || self.any_weekday { day && weekday } else { day || weekday }
    }

    fn some_month_has_a_day(&self) -> bool {
        const LONGEST: [u32; 13] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        (1..=12).any(|month| self.months & (1 << month) != 0 && (1..=LONGEST[month]).any(|d| self.days & (1 << d) != 0))
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// One field as a bit set (bit n = value n), and whether it starts with `*` (as in Vixie cron,
/// which decides how the two day fields combine).
fn parse_field(text: &str, field: &Field) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("the {} step {step:?} is not a positive number", field.name))?;
                (range, step)
            }
            None => (part, 1),
        };
        let (low, high) = if range == "*" {
            (field.min, field.max)
        } else if let Some((low, high)) = range.split_once('-') {
            let (low, high) = (value(low, field)?, value(high, field)?);
            if low > high {
                return Err(format!("the {} range {range} runs backwards", field.name));
            }
            (low, high)
        } else {
            let low = value(range, field)?;
            // `5/15` means from 5 to the end, every 15.
            (low, if part.contains('/') { field.max } else { low })
        };
        for v in (low..=high).step_by(step as usize) {
            bits |= 1 << v;
        }
    }
    Ok((bits, text.starts_with('*')))
}

/// A number or a name (`jan`, `mon`) within the field's bounds.
fn value(text: &str, field: &Field) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(index) = field.names.iter().position(|name| *name == lower) {
        return Ok(index as u32 + if field.names.len() == 12 { 1 } else { 0 });
    }
    let number: u32 = text.parse().map_err(|_| {
        if text.is_empty() {
            format!("the {} field has an empty value", field.name)
        } else if field.names.is_empty() {
            format!("{text:?} is not a {} (a number {}-{})", field.name, field.min, field.max)
        } else {
            format!("{text:?} is not a {} (a number {}-{} or {}-{})", field.name, field.min, field.max, field.names[0], field.names[field.names.len() - 1])
        }
    })?;
    if number < field.min || number > field.max {
        return Err(format!("the {} {number} is out of range {}-{}", field.name, field.min, field.max));
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn next(expr: &str, after: &str) -> String {
        Schedule::parse(expr).unwrap().next_after(at(after)).unwrap().to_rfc3339()
    }

    #[test]
    fn steps_ranges_lists_and_names() {
        assert_eq!(next("*/10 * * * *", "2026-11-26T01:03:27Z"), "2026-11-26T01:10:00+00:00");
        assert_eq!(next("*/10 * * * *", "2026-11-26T01:50:00Z"), "2026-11-26T02:00:00+00:00");
        assert_eq!(next("* * * * *", "2026-11-26T01:03:00Z"), "2026-11-26T01:04:00+00:00");
        assert_eq!(next("5,35 9-17/4 * * *", "2026-11-26T09:40:00Z"), "2026-11-26T13:05:00+00:00");
        assert_eq!(next("0 0 1 jan *", "2026-11-26T00:00:00Z"), "2027-01-01T00:00:00+00:00");
        assert_eq!(next("30 2 * * MON-fri", "2026-11-27T03:00:00Z"), "2026-11-30T02:30:00+00:00"); // Fri → Mon
        assert_eq!(next("0 12 * * 7", "2026-11-26T00:00:00Z"), "2026-11-29T12:00:00+00:00"); // 7 = Sunday
        assert_eq!(next("15/20 * * * *", "2026-11-26T01:36:00Z"), "2026-11-26T01:55:00+00:00");
        assert_eq!(next("@daily", "2026-12-31T23:59:59Z"), "2027-01-01T00:00:00+00:00");
        assert_eq!(next("@hourly", "2026-11-26T01:00:00Z"), "2026-11-26T02:00:00+00:00");
    }

    #[test]
    fn day_of_month_or_day_of_week_when_both_are_restricted() {
        // The 13th or any Friday: Friday 2026-11-27 comes before 2026-12-13.
        assert_eq!(next("0 0 13 * fri", "2026-11-26T00:00:00Z"), "2026-11-27T00:00:00+00:00");
        assert_eq!(next("0 0 13 * *", "2026-11-26T00:00:00Z"), "2026-12-13T00:00:00+00:00");
    }

    #[test]
    fn leap_days_and_short_months() {
        assert_eq!(next("0 0 29 2 *", "2026-11-26T00:00:00Z"), "2028-02-29T00:00:00+00:00");
        assert_eq!(next("0 0 31 * *", "2026-11-26T00:00:00Z"), "2026-12-31T00:00:00+00:00");
        // Every other day of the month, any weekday: the odd days.
        assert_eq!(next("0 0 */2 * *", "2026-11-27T00:00:00Z"), "2026-11-29T00:00:00+00:00");
    }

    #[test]
    fn runs_between_lists_the_first_and_counts_all() {
        let s = Schedule::parse("*/10 * * * *").unwrap();
        let runs = s.runs_between(at("2026-11-26T01:00:00Z"), at("2026-11-26T02:00:00Z"), 3);
        assert_eq!(runs.first, [at("2026-11-26T01:10:00Z"), at("2026-11-26T01:20:00Z"), at("2026-11-26T01:30:00Z")]);
        assert_eq!((runs.count, runs.last), (6, Some(at("2026-11-26T02:00:00Z"))));
        let none = s.runs_between(at("2026-11-26T01:00:00Z"), at("2026-11-26T01:09:59Z"), 3);
        assert_eq!(none, Runs { first: vec![], count: 0, last: None });
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        let error = |expr: &str| Schedule::parse(expr).unwrap_err().to_string();
        assert!(error("* * * *").contains("it has 4 fields, not 5"), "{}", error("* * * *"));
        assert!(error("60 * * * *").contains("the minute 60 is out of range 0-59"));
        assert!(error("*/0 * * * *").contains("the minute step \"0\" is not a positive number"));
        assert!(error("0 5-2 * * *").contains("the hour range 5-2 runs backwards"));
        assert!(error("0 0 * foo *").contains("\"foo\" is not a month (a number 1-12 or jan-dec)"));
        assert!(error("0 0 30 feb *").contains("never run"));
        assert!(error("@often").contains("unknown shorthand @often"));
        assert!(error("0 0 1,,2 * *").contains("empty value"));
        assert!(error("").contains("five fields"));
    }

    #[test]
    fn the_text_is_normalised() {
        assert_eq!(Schedule::parse("  */10   *  * * * ").unwrap().as_str(), "*/10 * * * *");
        assert_eq!(Schedule::parse("@Daily").unwrap().as_str(), "@daily");
    }
}
