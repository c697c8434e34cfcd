//! Cron expressions as users write them: 5 crontab fields, or 6 with seconds
//! first. Days of the week are numbered as in crontab (0 and 7 = Sunday) and
//! translated to the `cron` crate's numbering (1 = Sunday) at parse time.

use std::borrow::Cow;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

/// A parsed cron expression. Crontab ORs day-of-month and day-of-week when
/// both are restricted; [`Cron::days_combine_with_or`] tells the evaluator.
#[derive(Clone, Debug)]
pub struct Cron {
    source: String,
    schedule: cron::Schedule,
    dom_restricted: bool,
    dow_restricted: bool,
}

impl PartialEq for Cron {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let (sec, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => {
                return Err(format!(
                    "expected 5 fields (minute hour day month weekday) or 6 with seconds first, found {n}"
                ));
            }
        };
        let [min, hour, dom, month, dow] = [rest[0], rest[1], rest[2], rest[3], rest[4]];
        let dow_translated = translate_dow(dow)?;
        let translated = format!("{sec} {min} {hour} {dom} {month} {dow_translated}");
        let schedule = cron::Schedule::from_str(&translated).map_err(|e| {
            // The crate's message repeats the translated expression; keep its last line.
            let text = e.to_string();
            text.lines().last().unwrap_or("invalid expression").trim().to_string()
        })?;
        let restricted = |f: &str| f != "*" && f != "?";
        Ok(Cron {
            source: text.trim().to_string(),
            schedule,
            dom_restricted: restricted(dom),
            dow_restricted: restricted(dow),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The parsed fields (seconds, minutes, hours, days of month, months, days of week 1 = Sunday).
    pub fn schedule(&self) -> &cron::Schedule {
        &self.schedule
    }

    /// True when both day fields are restricted: a day matches if either matches.
    pub fn days_combine_with_or(&self) -> bool {
        self.dom_restricted && self.dow_restricted
    }

    /// The shortest time between two fires, in seconds: within a day, and
    /// from a day's last fire to the next day's first (a lower bound: the
    /// next day may not fire at all). At most one day.
    pub fn min_gap_seconds(&self) -> u32 {
        use cron::TimeUnitSpec;
        let s = &self.schedule;
        let mut first: Option<u32> = None;
        let mut last: Option<u32> = None;
        let mut gap = 86_400u32;
        for h in s.hours().iter() {
            for m in s.minutes().iter() {
                for sec in s.seconds().iter() {
                    let t = h * 3600 + m * 60 + sec;
                    if let Some(l) = last {
                        gap = gap.min(t.saturating_sub(l));
                        if gap <= 1 {
                            return gap;
                        }
                    }
                    first.get_or_insert(t);
                    last = Some(t);
                }
            }
        }
        if let (Some(f), Some(l)) = (first, last) {
            gap = gap.min(86_400 + f - l);
        }
        gap
    }

    pub fn dom_restricted(&self) -> bool {
        self.dom_restricted
    }

    pub fn dow_restricted(&self) -> bool {
        self.dow_restricted
    }
}

fn day_number(s: &str) -> Result<u32, String> {
    let lower = s.to_ascii_lowercase();
    if let Some(i) = DAY_NAMES.iter().position(|d| lower.starts_with(d) && lower.len() >= 3) {
        return Ok(i as u32);
    }
    match s.parse::<u32>() {
        Ok(n) if n <= 7 => Ok(n),
        _ => Err(format!("`{s}` is not a day of the week (0-7 or SUN-SAT)")),
    }
}

/// Expands a crontab day-of-week field into the `cron` crate's numbering.
fn translate_dow(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok("*".into());
    }
    let mut days = [false; 7];
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                (r, s.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(|| format!("bad step in `{part}`"))?)
            }
            None => (part, 1),
        };
        let (from, to) = match range {
            "*" => (0, 6),
            r => match r.split_once('-') {
                Some((a, b)) => (day_number(a)?, day_number(b)?),
                None if step > 1 => (day_number(r)?, 6),
                None => {
                    let d = day_number(r)?;
                    (d, d)
                }
            },
        };
        if from > to {
            return Err(format!("day range `{range}` runs backwards"));
        }
        for d in (from..=to).step_by(step as usize) {
            days[(d % 7) as usize] = true;
        }
    }
    let list: Vec<String> = (0..7).filter(|d| days[*d]).map(|d| (d + 1).to_string()).collect();
    Ok(list.join(","))
}

impl JsonSchema for Cron {
    fn schema_name() -> Cow<'static, str> {
        "Cron".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "Cron: 5 crontab fields (minute hour day-of-month month day-of-week; 0 and 7 = Sunday, or names), or 6 with seconds first."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shortest_gap_between_fires() {
        let gap = |e: &str| Cron::parse(e).unwrap().min_gap_seconds();
        assert_eq!(gap("* * * * * *"), 1);
        assert_eq!(gap("*/30 * * * * *"), 30);
        assert_eq!(gap("* * * * *"), 60);
        assert_eq!(gap("0 10 * * THU"), 86_400);
        assert_eq!(gap("0 9,17 * * 1-5"), 8 * 3600);
        assert_eq!(gap("58 23 * * *"), 86_400);
        assert_eq!(gap("0,59 23 * * *"), 59 * 60);
    }

    fn dow(input: &str) -> String {
        translate_dow(input).unwrap_or_else(|e| e)
    }

    #[test]
    fn crontab_days_translate_to_sunday_one() {
        assert_eq!(dow("*"), "*");
        assert_eq!(dow("0"), "1");
        assert_eq!(dow("7"), "1");
        assert_eq!(dow("1-5"), "2,3,4,5,6");
        assert_eq!(dow("5-7"), "1,6,7");
        assert_eq!(dow("*/2"), "1,3,5,7");
        assert_eq!(dow("THU"), "5");
        assert_eq!(dow("mon-fri"), "2,3,4,5,6");
        assert_eq!(dow("sat,sun"), "1,7");
        assert!(dow("8").contains("not a day"));
        assert!(dow("5-1").contains("backwards"));
    }

    #[test]
    fn five_and_six_fields_parse() {
        let c = Cron::parse("0 10 * * THU").unwrap();
        assert!(!c.days_combine_with_or());
        assert_eq!(c.source(), "0 10 * * THU");
        assert!(Cron::parse("30 0 10 * * 1-5").is_ok());
        assert!(Cron::parse("0 9 1 * 1").unwrap().days_combine_with_or());
        assert!(Cron::parse("0 10 * *").is_err());
        assert!(Cron::parse("61 10 * * *").is_err());
        assert!(Cron::parse("0 25 * * *").is_err());
    }
}
