//! Durations: wall-clock (`30m`, `4h`, `1 day`, `1h30m`) or business time
//! (`3 business hours`, `2 business days`) counted in a calendar's open hours.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Duration {
    /// Wall-clock seconds.
    Wall(u64),
    /// Open hours of the calendar.
    BusinessHours(u32),
    /// Open days of the calendar: the same time of day, N open days later.
    BusinessDays(u32),
}

/// The longest wall-clock duration: 10 years (3650 days). Longer ones are
/// refused where they are written, so time maths never leaves the range of
/// dates the product stores (`time::MAX_YEAR`).
pub const MAX_WALL_SECONDS: u64 = 3650 * 86_400;
/// The most business hours a duration may count.
pub const MAX_BUSINESS_HOURS: u32 = 10_000;
/// The most business days a duration may count.
pub const MAX_BUSINESS_DAYS: u32 = 2_500;

impl Duration {
    pub fn is_zero(self) -> bool {
        matches!(self, Duration::Wall(0) | Duration::BusinessHours(0) | Duration::BusinessDays(0))
    }

    pub fn is_business(self) -> bool {
        !matches!(self, Duration::Wall(_))
    }

    /// Parses `30m`, `4h`, `2d`, `1w`, `90s`, `1h30m`, `1 day`, `3 hours`,
    /// `2 business days`, `1 business hour`. Durations are bounded: at most
    /// 10 years of wall-clock time, 10,000 business hours or 2,500 business days.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let lower = text.trim().to_ascii_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        if let [n, "business", unit] = words.as_slice() {
            let n: u32 = n.parse().map_err(|_| format!("`{n}` is not a whole number"))?;
            return match *unit {
                "hour" | "hours" if n <= MAX_BUSINESS_HOURS => Ok(Duration::BusinessHours(n)),
                "day" | "days" if n <= MAX_BUSINESS_DAYS => Ok(Duration::BusinessDays(n)),
                "hour" | "hours" => Err(format!("duration too large: at most {MAX_BUSINESS_HOURS} business hours")),
                "day" | "days" => Err(format!("duration too large: at most {MAX_BUSINESS_DAYS} business days")),
                other => Err(format!("business time is counted in hours or days, not `{other}`")),
            };
        }
        if lower.is_empty() {
            return Err("empty duration".into());
        }
        let mut total: u64 = 0;
        let mut rest = lower.as_str();
        while !rest.is_empty() {
            rest = rest.trim_start_matches([' ', ',']);
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if digits == 0 {
                return Err(format!("expected a number at `{rest}`"));
            }
            let n: u64 = rest[..digits].parse().map_err(|_| "number too large".to_string())?;
            rest = rest[digits..].trim_start();
            let unit_len = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            let secs = match unit {
                "s" | "sec" | "secs" | "second" | "seconds" => 1,
                "m" | "min" | "mins" | "minute" | "minutes" => 60,
                "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
                "d" | "day" | "days" => 86_400,
                "w" | "week" | "weeks" => 604_800,
                "" => return Err(format!("`{n}` needs a unit (s, m, h, d, w)")),
                other => return Err(format!("unknown unit `{other}` (use s, m, h, d, w, or `N business hours|days`)")),
            };
            total = n
                .checked_mul(secs)
                .and_then(|x| total.checked_add(x))
                .ok_or_else(|| "duration too large".to_string())?;
            rest = rest[unit_len..].trim_start_matches([' ', ',']);
        }
        if total > MAX_WALL_SECONDS {
            return Err("duration too large: at most 10 years (3650d)".into());
        }
        Ok(Duration::Wall(total))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Duration::BusinessHours(n) => write!(f, "{n} business hour{}", if n == 1 { "" } else { "s" }),
            Duration::BusinessDays(n) => write!(f, "{n} business day{}", if n == 1 { "" } else { "s" }),
            Duration::Wall(s) => {
                let units = [(604_800, "w"), (86_400, "d"), (3600, "h"), (60, "m"), (1, "s")];
                let mut rest = s;
                if rest == 0 {
                    return f.write_str("0s");
                }
                for (size, name) in units {
                    if rest >= size {
                        write!(f, "{}{name}", rest / size)?;
                        rest %= size;
                    }
                }
                Ok(())
            }
        }
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration: `30m`, `4h`, `2d`, `1w`, `1h30m`, `1 day`, `3 hours`, or business time counted in the calendar's open hours: `3 business hours`, `2 business days`.",
            "pattern": "^\\s*[0-9]+\\s*([a-zA-Z]+|business\\s+(hours?|days?))([\\s,]*[0-9]+\\s*[a-zA-Z]+)*\\s*$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Result<Duration, &str>) {
        let got = Duration::parse(input);
        match (got, expect) {
            (Ok(g), Ok(e)) => assert_eq!(g, e, "{input}"),
            (Err(g), Err(e)) => assert!(g.contains(e), "{input}: {g}"),
            (g, e) => panic!("{input}: got {g:?}, expected {e:?}"),
        }
    }

    #[test]
    fn parses_the_documented_forms() {
        check("30m", Ok(Duration::Wall(1800)));
        check("4h", Ok(Duration::Wall(14_400)));
        check("2d", Ok(Duration::Wall(172_800)));
        check("1w", Ok(Duration::Wall(604_800)));
        check("1 day", Ok(Duration::Wall(86_400)));
        check("3 hours", Ok(Duration::Wall(10_800)));
        check("1h30m", Ok(Duration::Wall(5400)));
        check("1d 4h", Ok(Duration::Wall(100_800)));
        check("0h", Ok(Duration::Wall(0)));
        check("3 business hours", Ok(Duration::BusinessHours(3)));
        check("1 business hour", Ok(Duration::BusinessHours(1)));
        check("2 Business Days", Ok(Duration::BusinessDays(2)));
    }

    #[test]
    fn refuses_what_it_cannot_count() {
        check("", Err("empty"));
        check("5", Err("needs a unit"));
        check("2 months", Err("unknown unit `months`"));
        check("h", Err("expected a number"));
        check("2 business weeks", Err("hours or days"));
        check("99999999999999999999s", Err("too large"));
        check("100000000d", Err("too large"));
        check("3650d", Ok(Duration::Wall(MAX_WALL_SECONDS)));
        check("3651d", Err("at most 10 years"));
        check("10001 business hours", Err("at most 10000 business hours"));
        check("2501 business days", Err("at most 2500 business days"));
        check("-1h", Err("expected a number"));
    }

    #[test]
    fn displays_compactly() {
        assert_eq!(Duration::Wall(5400).to_string(), "1h30m");
        assert_eq!(Duration::BusinessDays(2).to_string(), "2 business days");
    }
}
