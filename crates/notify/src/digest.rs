//! Digests: a user who chose an hourly or daily summary gets one message
//! per period gathering what happened, instead of one message per event.

use chrono::{DateTime, Duration, DurationRound, NaiveTime, Utc};
use serde_json::json;

use crate::render::{self, Rendered, Templates};

/// A user's delivery preference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Immediate,
    Hourly,
    Daily,
}

/// Daily digests go out at this time (UTC): 10:00 in Moscow, 08:00 in Berlin.
pub const DAILY_AT: NaiveTime = match NaiveTime::from_hms_opt(7, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

impl Mode {
    /// `immediate`, `hourly`, `daily` (anything else is immediate).
    pub fn parse(s: &str) -> Mode {
        match s.trim().to_ascii_lowercase().as_str() {
            "hourly" => Mode::Hourly,
            "daily" => Mode::Daily,
            _ => Mode::Immediate,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Immediate => "immediate",
            Mode::Hourly => "hourly",
            Mode::Daily => "daily",
        }
    }

    /// When the digest that gathers a message made at `at` goes out; `None` for immediate.
    pub fn next_send(self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Mode::Immediate => None,
            Mode::Hourly => {
                let hour = at.duration_trunc(Duration::hours(1)).unwrap_or(at);
                Some(hour + Duration::hours(1))
            }
            Mode::Daily => {
                let today = at.date_naive().and_time(DAILY_AT).and_utc();
                Some(if today > at { today } else { today + Duration::days(1) })
            }
        }
    }
}

/// One digest message from the messages it gathers (oldest first).
pub fn compose(items: &[Rendered], mode: Mode, deployed: &dyn Templates) -> crate::Result<Rendered> {
    let period = match mode {
        Mode::Hourly => "hourly",
        _ => "daily",
    };
    let items: Vec<_> = items.iter().map(|m| json!({"subject": m.subject, "text": m.text})).collect();
    let scope = json!({"items": items, "period": period});
    let parts = deployed
        .get("digest")
        .or_else(|| render::builtin("digest"))
        .ok_or_else(|| crate::Error::Template("no digest template".into()))?;
    render::render_parts("digest", &parts, &scope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::NoTemplates;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn digests_go_out_at_the_next_hour_or_the_next_morning() {
        assert_eq!(Mode::Immediate.next_send(t("2026-12-01T10:15:00Z")), None);
        assert_eq!(Mode::Hourly.next_send(t("2026-12-01T10:15:00Z")), Some(t("2026-12-01T11:00:00Z")));
        assert_eq!(Mode::Hourly.next_send(t("2026-12-01T10:00:00Z")), Some(t("2026-12-01T11:00:00Z")));
        assert_eq!(Mode::Daily.next_send(t("2026-12-01T06:59:00Z")), Some(t("2026-12-01T07:00:00Z")));
        assert_eq!(Mode::Daily.next_send(t("2026-12-01T07:00:00Z")), Some(t("2026-12-02T07:00:00Z")));
        assert_eq!(Mode::Daily.next_send(t("2026-12-31T23:00:00Z")), Some(t("2027-01-01T07:00:00Z")));
    }

    #[test]
    fn a_digest_lists_every_message() {
        let items = vec![
            Rendered { subject: "New task: Copy".into(), text: "Write it".into(), html: None },
            Rendered { subject: "New task: Visuals".into(), text: "Draw it".into(), html: None },
        ];
        let d = compose(&items, Mode::Hourly, &NoTemplates).unwrap();
        assert_eq!(d.subject, "smmflow: 2 updates (hourly)");
        assert!(d.text.contains("1. New task: Copy") && d.text.contains("Draw it"), "{}", d.text);
    }
}
