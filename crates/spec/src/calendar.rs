//! Business calendars: opening hours per weekday, a timezone and holidays.
//! `N business hours|days` are counted in a calendar's open hours.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Weekday};
use schemars::JsonSchema;

use crate::decode::{self, KEY_PATTERN, MapReader, Sp, is_key};
use crate::diag::{Code, Pos, Sink};
use crate::schedule::decode_timezone;
use crate::time;
use crate::yaml::{Kind, Node};

/// Open intervals of one day, as minutes since midnight: `[start, end)`, sorted.
pub type DayHours = Vec<(u16, u16)>;

/// A business calendar (a `calendar:` document).
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// The calendar's key, used by `calendar:` in workflows.
    #[serde(rename = "calendar")]
    #[schemars(with = "String", regex(pattern = r"^[a-z][a-z0-9-]{1,62}$"))]
    pub key: Sp<String>,
    /// A readable name.
    #[serde(default)]
    pub name: Option<String>,
    /// The IANA timezone of the opening hours.
    #[schemars(with = "String")]
    pub timezone: chrono_tz::Tz,
    /// Opening hours by day or day range (`mon-fri: "09:30-18:30"`, `sat: "10:00-14:00"`,
    /// several intervals separated by commas, or `closed`). Days not listed are closed.
    #[schemars(with = "BTreeMap<String, String>")]
    pub hours: [DayHours; 7],
    /// Closed dates (`YYYY-MM-DD`).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub holidays: Vec<NaiveDate>,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Calendar {
    /// The default for business durations on a workflow with no calendar:
    /// Mon-Fri 09:00-18:00 UTC.
    pub fn default_business() -> Calendar {
        let day = vec![(9 * 60, 18 * 60)];
        Calendar {
            key: Sp::new("default".into(), Pos::default()),
            name: Some("Mon-Fri 09:00-18:00 UTC".into()),
            timezone: chrono_tz::UTC,
            hours: [day.clone(), day.clone(), day.clone(), day.clone(), day, Vec::new(), Vec::new()],
            holidays: Vec::new(),
        }
    }

    /// Opening intervals of a weekday.
    pub fn day(&self, weekday: Weekday) -> &DayHours {
        &self.hours[weekday.num_days_from_monday() as usize]
    }

    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.holidays.contains(&date)
    }

    pub fn decode(node: &Node, sink: &mut Sink) -> Option<Calendar> {
        let mut r = MapReader::new(node, "a calendar", sink)?;
        let key = r.required("calendar", sink).and_then(|n| decode::sp_string(n, sink));
        if let Some(k) = &key
            && !is_key(k)
        {
            sink.push(
                Code::InvalidName,
                k.pos,
                format!("`{}` is not a valid calendar key: it must match {KEY_PATTERN}", k.value),
            );
        }
        let name = r.get("name").and_then(|n| decode::string(n, sink));
        let timezone = r.required("timezone", sink).and_then(|n| decode_timezone(n, sink));
        let hours = r.required("hours", sink).map(|n| decode_hours(n, sink));
        let holidays = r
            .get("holidays")
            .and_then(|n| decode::list(n, sink))
            .unwrap_or_default()
            .iter()
            .filter_map(|n| {
                let text = decode::string(n, sink)?;
                time::date(&text).map_err(|e| sink.push(Code::InvalidDate, n.pos, e)).ok()
            })
            .collect();
        r.finish(sink);
        Some(Calendar { key: key?, name, timezone: timezone?.value, hours: hours?, holidays })
    }
}

fn day_index(name: &str) -> Option<usize> {
    DAYS.iter().position(|d| *d == name)
}

fn decode_hours(node: &Node, sink: &mut Sink) -> [DayHours; 7] {
    let mut week: [DayHours; 7] = Default::default();
    let mut seen = [false; 7];
    let Kind::Map(entries) = &node.kind else {
        sink.push(
            Code::WrongType,
            node.pos,
            format!("expected a mapping of days to hours, found {}", node.type_name()),
        );
        return week;
    };
    for (k, v) in entries {
        let key = k.as_scalar().unwrap_or_default().to_ascii_lowercase();
        let days: Option<Vec<usize>> = match key.split_once('-') {
            Some((a, b)) => match (day_index(a), day_index(b)) {
                (Some(a), Some(b)) if a <= b => Some((a..=b).collect()),
                _ => None,
            },
            None => day_index(&key).map(|d| vec![d]),
        };
        let Some(days) = days else {
            sink.push_hint(
                Code::InvalidHours,
                k.pos,
                format!("`{key}` is not a day or a day range"),
                Some("write mon..sun or a range such as mon-fri"),
            );
            continue;
        };
        let Some(text) = decode::string(v, sink) else { continue };
        let intervals = match parse_intervals(&text) {
            Ok(i) => i,
            Err(e) => {
                sink.push(Code::InvalidHours, v.pos, e);
                continue;
            }
        };
        for d in days {
            if std::mem::replace(&mut seen[d], true) {
                sink.push(Code::InvalidHours, k.pos, format!("`{}` is listed twice", DAYS[d]));
            }
            week[d] = intervals.clone();
        }
    }
    week
}

/// `"09:30-18:30"`, `"09:00-13:00, 14:00-18:00"` or `closed`.
pub fn parse_intervals(text: &str) -> Result<DayHours, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("closed") {
        return Ok(Vec::new());
    }
    let mut out: DayHours = Vec::new();
    for part in text.split(',') {
        let (a, b) = part
            .trim()
            .split_once('-')
            .ok_or_else(|| format!("`{}` is not an interval like 09:30-18:30", part.trim()))?;
        let (a, b) = (minutes(a)?, minutes(b)?);
        if a >= b {
            return Err(format!("`{}` ends before it starts", part.trim()));
        }
        out.push((a, b));
    }
    out.sort_unstable();
    if out.windows(2).any(|w| w[0].1 > w[1].0) {
        return Err(format!("intervals in `{text}` overlap"));
    }
    Ok(out)
}

fn minutes(t: &str) -> Result<u16, String> {
    let t = t.trim();
    let bad = || format!("`{t}` is not a time (HH:MM)");
    let (h, m) = t.split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_and_refuse_nonsense() {
        assert_eq!(parse_intervals("09:30-18:30"), Ok(vec![(570, 1110)]));
        assert_eq!(parse_intervals("14:00-18:00, 09:00-13:00"), Ok(vec![(540, 780), (840, 1080)]));
        assert_eq!(parse_intervals("closed"), Ok(vec![]));
        assert_eq!(parse_intervals("00:00-24:00"), Ok(vec![(0, 1440)]));
        assert!(parse_intervals("18:00-09:00").unwrap_err().contains("ends before"));
        assert!(parse_intervals("09:00-13:00,12:00-14:00").unwrap_err().contains("overlap"));
        assert!(parse_intervals("9-17").unwrap_err().contains("not a time"));
        assert!(parse_intervals("25:00-26:00").is_err());
    }
}
