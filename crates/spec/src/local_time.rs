//! The `local_time` filter: an RFC 3339 time as people read it, in a
//! timezone: `{{ task.due_at | local_time }}` gives `Tue 8 Dec 2026, 09:30
//! Moscow time`. The timezone is the filter's argument when given
//! (`local_time("Europe/Moscow")`, `local_time(workspace.timezone)`), else
//! the `workspace.timezone` of the scope when the template sees one, else
//! the offset the time was written with. Anything that is not an RFC 3339
//! time prints as it is, so a template never fails on it.

use chrono::{DateTime, FixedOffset};
use minijinja::value::Value;
use minijinja::{Error, State};

pub fn filter(state: &State, value: Value, timezone: Option<Value>) -> Result<Value, Error> {
    if value.is_undefined() || value.is_none() {
        return Ok(Value::from(""));
    }
    let Some(text) = value.as_str() else { return Ok(value) };
    let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) else { return Ok(value) };
    let zone = timezone
        .and_then(|z| z.as_str().map(str::to_string))
        .or_else(|| state.lookup("workspace").and_then(|w| w.get_attr("timezone").ok()?.as_str().map(str::to_string)))
        .and_then(|name| name.parse::<chrono_tz::Tz>().ok());
    Ok(Value::from(human(t, zone)))
}

/// `Tue 8 Dec 2026, 09:30 Moscow time` (`UTC`, or `UTC+03:00` for a bare offset).
pub fn human(t: DateTime<FixedOffset>, zone: Option<chrono_tz::Tz>) -> String {
    const FORMAT: &str = "%a %-d %b %Y, %H:%M";
    match zone {
        Some(chrono_tz::UTC) => format!("{} UTC", t.to_utc().format(FORMAT)),
        Some(z) => {
            let city = z.name().rsplit('/').next().unwrap_or(z.name()).replace('_', " ");
            format!("{} {city} time", t.with_timezone(&z).format(FORMAT))
        }
        None if t.offset().local_minus_utc() == 0 => format!("{} UTC", t.format(FORMAT)),
        None => format!("{} UTC{}", t.format(FORMAT), t.format("%:z")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn render(template: &str, scope: serde_json::Value) -> String {
        crate::expr::environment().render_str(template, minijinja::value::Serde(&scope)).unwrap()
    }

    #[test]
    fn times_read_as_people_read_them() {
        let due = json!({"due": "2026-12-08T06:30:00+00:00", "workspace": {"timezone": "Europe/Moscow"}});
        assert_eq!(render("{{ due | local_time }}", due.clone()), "Tue 8 Dec 2026, 09:30 Moscow time");
        assert_eq!(render("{{ due | local_time('America/New_York') }}", due), "Tue 8 Dec 2026, 01:30 New York time");
        // Without a timezone in sight, the offset it was written with.
        assert_eq!(
            render("{{ t | local_time }}", json!({"t": "2030-03-15T09:00:00+03:00"})),
            "Fri 15 Mar 2030, 09:00 UTC+03:00"
        );
        assert_eq!(render("{{ t | local_time }}", json!({"t": "2030-03-15T09:00:00Z"})), "Fri 15 Mar 2030, 09:00 UTC");
        // Not a time, or nothing: printed as it is, never an error.
        assert_eq!(render("{{ t | local_time }}", json!({"t": "soon"})), "soon");
        assert_eq!(render("[{{ missing | local_time }}]", json!({})), "[]");
        assert_eq!(
            render("{{ t | local_time('Mars/Base') }}", json!({"t": "2030-03-15T09:00:00Z"})),
            "Fri 15 Mar 2030, 09:00 UTC"
        );
    }
}
