//! Status timers on the dashboard: count down from a chosen duration, count
//! up from zero. Only staff see them.
//!
//! Times are stored as UTC instants and durations are real elapsed time, so
//! a two-hour job started before a daylight-saving change is due two hours
//! later, not at the same wall-clock reading; the shop's time zone is used
//! only to show the due time.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::tickets::TimerMode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerLevel {
    /// Nothing to worry about.
    Normal,
    /// Little time left (orange).
    Warning,
    /// Time is up (red).
    Overdue,
}

impl TimerLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerLevel::Normal => "normal",
            TimerLevel::Warning => "warning",
            TimerLevel::Overdue => "overdue",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerState {
    pub mode: TimerMode,
    pub started_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    /// Seconds since the status was set.
    pub elapsed_secs: i64,
    /// For count down: seconds left (negative once overdue).
    pub remaining_secs: Option<i64>,
    pub level: TimerLevel,
}

/// When a count-down set at `started` for `minutes` runs out.
pub fn due_at(started: DateTime<Utc>, minutes: i32) -> DateTime<Utc> {
    started + Duration::minutes(i64::from(minutes))
}

/// The orange threshold: a fifth of the duration, at most 15 minutes.
fn warning_threshold(total: Duration) -> Duration {
    (total / 5).min(Duration::minutes(15))
}

pub fn state(
    mode: TimerMode,
    started_at: DateTime<Utc>,
    due: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> TimerState {
    let elapsed = (now - started_at).max(Duration::zero());
    let (remaining, level) = match (mode, due) {
        (TimerMode::CountDown, Some(due)) => {
            let remaining = due - now;
            let level = if remaining <= Duration::zero() {
                TimerLevel::Overdue
            } else if remaining <= warning_threshold(due - started_at) {
                TimerLevel::Warning
            } else {
                TimerLevel::Normal
            };
            (Some(remaining.num_seconds()), level)
        }
        _ => (None, TimerLevel::Normal),
    };
    TimerState {
        mode,
        started_at,
        due_at: due,
        elapsed_secs: elapsed.num_seconds(),
        remaining_secs: remaining,
        level,
    }
}

/// `1h 05m`, `-0h 10m` for overdue: how the dashboard shows a duration.
pub fn format_secs(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.abs();
    format!("{sign}{}h {:02}m", s / 3600, (s % 3600) / 60)
}

/// A time as the shop reads it, e.g. `Mon 9 Mar, 3:30 AM`.
pub fn local_display(at: DateTime<Utc>, tz: &str) -> String {
    let tz: Tz = tz.parse().unwrap_or(chrono_tz::UTC);
    at.with_timezone(&tz)
        .format("%a %-d %b, %-I:%M %p")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ny(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        chrono_tz::America::New_York
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn count_down_goes_orange_then_red() {
        let start = ny(2026, 6, 1, 9, 0);
        let due = due_at(start, 60);
        let at = |m| {
            state(
                TimerMode::CountDown,
                start,
                Some(due),
                start + Duration::minutes(m),
            )
        };
        assert_eq!(at(10).level, TimerLevel::Normal);
        assert_eq!(at(10).remaining_secs, Some(50 * 60));
        assert_eq!(at(50).level, TimerLevel::Warning);
        assert_eq!(at(60).level, TimerLevel::Overdue);
        assert_eq!(at(75).remaining_secs, Some(-15 * 60));
        assert_eq!(format_secs(-15 * 60), "-0h 15m");
    }

    #[test]
    fn count_down_across_spring_forward_is_real_time() {
        // 01:30 EST on the night clocks jump from 02:00 to 03:00.
        let start = ny(2026, 3, 8, 1, 30);
        let due = due_at(start, 60);
        // One real hour later the wall clock reads 03:30 EDT.
        assert_eq!(due, ny(2026, 3, 8, 3, 30));
        assert_eq!(local_display(due, "America/New_York"), "Sun 8 Mar, 3:30 AM");
        let s = state(TimerMode::CountDown, start, Some(due), ny(2026, 3, 8, 3, 0));
        assert_eq!(s.remaining_secs, Some(30 * 60));
        assert_eq!(s.level, TimerLevel::Normal);
    }

    #[test]
    fn count_up_across_fall_back_counts_the_repeated_hour() {
        // 00:30 EDT; at 01:30 EST (the second 01:30) two real hours passed.
        let start = ny(2026, 11, 1, 0, 30);
        let later = chrono_tz::America::New_York
            .with_ymd_and_hms(2026, 11, 1, 1, 30, 0)
            .latest()
            .unwrap()
            .with_timezone(&Utc);
        let s = state(TimerMode::CountUp, start, None, later);
        assert_eq!(s.elapsed_secs, 2 * 3600);
        assert_eq!(s.level, TimerLevel::Normal);
        assert_eq!(s.remaining_secs, None);
    }
}
