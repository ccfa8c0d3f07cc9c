//! Business hours: a weekly schedule read in the tenant's time zone.

use chrono::{DateTime, Datelike, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// `{"monday": {"start": "09:00", "end": "18:00"}, "sunday": null, ...}`; a day may also
/// hold a list of spans. A span whose end is before its start runs past midnight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusinessHours {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub schedule: WeekSchedule,
    pub away_message: String,
    /// The away message goes out at most once per this many hours per conversation.
    #[serde(default = "default_away_every")]
    pub away_every_hours: u32,
}

fn yes() -> bool {
    true
}

fn default_away_every() -> u32 {
    4
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct WeekSchedule {
    #[serde(default)]
    pub monday: Option<DayHours>,
    #[serde(default)]
    pub tuesday: Option<DayHours>,
    #[serde(default)]
    pub wednesday: Option<DayHours>,
    #[serde(default)]
    pub thursday: Option<DayHours>,
    #[serde(default)]
    pub friday: Option<DayHours>,
    #[serde(default)]
    pub saturday: Option<DayHours>,
    #[serde(default)]
    pub sunday: Option<DayHours>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DayHours {
    One(Span),
    Many(Vec<Span>),
}

/// Opening span, "HH:MM" local time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub start: String,
    pub end: String,
}

impl Span {
    fn times(&self) -> Option<(NaiveTime, NaiveTime)> {
        let s = NaiveTime::parse_from_str(&self.start, "%H:%M").ok()?;
        // "24:00" means end of day.
        let e = if self.end == "24:00" {
            NaiveTime::from_hms_opt(23, 59, 59)?
        } else {
            NaiveTime::parse_from_str(&self.end, "%H:%M").ok()?
        };
        Some((s, e))
    }

    /// Whether the span is well formed; used when a bot is saved.
    pub fn is_valid(&self) -> bool {
        self.times().is_some()
    }
}

impl DayHours {
    pub fn spans(&self) -> &[Span] {
        match self {
            DayHours::One(s) => std::slice::from_ref(s),
            DayHours::Many(v) => v,
        }
    }
}

impl WeekSchedule {
    pub fn day(&self, d: Weekday) -> Option<&DayHours> {
        match d {
            Weekday::Mon => self.monday.as_ref(),
            Weekday::Tue => self.tuesday.as_ref(),
            Weekday::Wed => self.wednesday.as_ref(),
            Weekday::Thu => self.thursday.as_ref(),
            Weekday::Fri => self.friday.as_ref(),
            Weekday::Sat => self.saturday.as_ref(),
            Weekday::Sun => self.sunday.as_ref(),
        }
    }
}

impl BusinessHours {
    /// Whether the shop is open at `now`, read in time zone `tz`.
    pub fn is_open(&self, now: DateTime<Utc>, tz: Tz) -> bool {
        if !self.enabled {
            return true;
        }
        let local = now.with_timezone(&tz);
        let t = local.time();
        let today = local.weekday();
        let spans = |d: Weekday| {
            self.schedule
                .day(d)
                .map(|h| h.spans().iter().filter_map(Span::times).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let open_today =
            spans(today)
                .into_iter()
                .any(|(s, e)| if s <= e { s <= t && t < e } else { t >= s });
        // An overnight span from yesterday still running after midnight.
        let open_from_yesterday = spans(today.pred()).into_iter().any(|(s, e)| s > e && t < e);
        open_today || open_from_yesterday
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn hours() -> BusinessHours {
        serde_json::from_value(serde_json::json!({
            "schedule": {
                "monday": {"start": "09:00", "end": "18:00"},
                "friday": [{"start": "09:00", "end": "13:00"}, {"start": "20:00", "end": "02:00"}],
                "sunday": null
            },
            "away_message": "Cerrado"
        }))
        .expect("valid hours")
    }

    #[test]
    fn monday_morning_in_lima_is_open_and_evening_is_closed() {
        let tz: Tz = "America/Lima".parse().expect("tz");
        // 2026-11-23 is a Monday; Lima is UTC-5.
        let ten_am = Utc.with_ymd_and_hms(2026, 11, 23, 15, 0, 0).unwrap();
        let seven_pm = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
        assert!(hours().is_open(ten_am, tz));
        assert!(!hours().is_open(seven_pm, tz));
    }

    #[test]
    fn an_overnight_span_stays_open_after_midnight() {
        let tz: Tz = "America/Lima".parse().expect("tz");
        // Saturday 2026-11-28 01:00 Lima = 06:00 UTC, inside Friday's 20:00–02:00.
        let sat_1am = Utc.with_ymd_and_hms(2026, 11, 28, 6, 0, 0).unwrap();
        let sat_3am = Utc.with_ymd_and_hms(2026, 11, 28, 8, 0, 0).unwrap();
        assert!(hours().is_open(sat_1am, tz));
        assert!(!hours().is_open(sat_3am, tz));
    }

    #[test]
    fn days_without_hours_are_closed_and_disabled_hours_always_open() {
        let tz: Tz = "America/Lima".parse().expect("tz");
        let sunday_noon = Utc.with_ymd_and_hms(2026, 11, 29, 17, 0, 0).unwrap();
        let mut h = hours();
        assert!(!h.is_open(sunday_noon, tz));
        h.enabled = false;
        assert!(h.is_open(sunday_noon, tz));
    }
}
