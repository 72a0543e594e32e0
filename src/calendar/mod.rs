//! The business calendar and the cut-off rule that give each request its
//! batch date (対応日).
//!
//! Everything is in Japan Standard Time, a fixed +09:00 (Japan has no
//! daylight saving time), so a [`FixedOffset`] is all the time zone we need.
//! Business days exclude Saturdays, Sundays, the national holidays of
//! [`holidays`] and the administrative closing days 12/29–1/3 (行政機関の休日).

pub mod holidays;

pub use holidays::{holiday_name, holidays};

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Timelike, Weekday,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Japan Standard Time, UTC+09:00 (defined once, in [`crate::base::time`]).
pub use crate::base::time::JST;

/// The daily rule's cut-off: received at or before this time → that day.
const DAILY_CUTOFF: NaiveTime = match NaiveTime::from_hms_opt(13, 0, 0) {
    Some(t) => t,
    None => panic!("13:00:00 is a valid time"),
};

/// The weekly rule's deadline time.
const WEEKLY_DEADLINE: NaiveTime = match NaiveTime::from_hms_opt(17, 0, 0) {
    Some(t) => t,
    None => panic!("17:00:00 is a valid time"),
};

/// The batch date (対応日): the day MHLW staff handle a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BatchDate(NaiveDate);

impl BatchDate {
    /// A batch date set by hand (staff moving an urgent record) or loaded
    /// from storage. New requests get theirs from [`batch`].
    pub fn new(date: NaiveDate) -> BatchDate {
        BatchDate(date)
    }

    /// Reads `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<BatchDate> {
        NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .ok()
            .map(BatchDate)
    }

    /// The date.
    pub fn date(self) -> NaiveDate {
        self.0
    }
}

impl fmt::Display for BatchDate {
    /// `YYYY-MM-DD`, as stored and printed by the CLI.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// Which cut-off rule dates the requests (configuration `cutoff_rule`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CutoffRule {
    /// `daily-13` (2023 notice): received on a business day at or before
    /// 13:00:00 → that day; otherwise the next business day.
    #[default]
    #[serde(rename = "daily-13")]
    Daily13,
    /// `weekly-wed-17` (2026 G-MIS manual): each week's deadline is Wednesday
    /// 17:00 (17:00 of the next business day when that Wednesday is not one);
    /// the batch date is the date of the first deadline at or after receipt.
    #[serde(rename = "weekly-wed-17")]
    WeeklyWed17,
}

impl CutoffRule {
    /// Both rules.
    pub const ALL: [CutoffRule; 2] = [CutoffRule::Daily13, CutoffRule::WeeklyWed17];

    /// The configuration word: `daily-13` or `weekly-wed-17`.
    pub fn as_str(self) -> &'static str {
        match self {
            CutoffRule::Daily13 => "daily-13",
            CutoffRule::WeeklyWed17 => "weekly-wed-17",
        }
    }

    /// Parses the configuration word (case and surrounding spaces ignored).
    pub fn parse(text: &str) -> Option<CutoffRule> {
        let t = text.trim().to_ascii_lowercase();
        CutoffRule::ALL.into_iter().find(|r| r.as_str() == t)
    }
}

impl fmt::Display for CutoffRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a day is not a business day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DayOff {
    /// A national holiday, 振替休日 or 国民の休日, with its name.
    Holiday(&'static str),
    /// 12/29–1/3 other than 元日 (行政機関の休日).
    YearEnd,
    /// Saturday or Sunday.
    Weekend(Weekday),
}

/// Why a request got its batch date; the Japanese wording for replies is
/// `batch_reason` in `src/messages/calendar.rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BatchReason {
    /// Daily rule: received on a business day at or before 13:00.
    OnTime,
    /// Daily rule: received on a business day after 13:00.
    AfterCutoff,
    /// Daily rule: received on a day that is not a business day.
    DayOff(DayOff),
    /// Weekly rule: the first deadline at or after receipt.
    WeeklyDeadline {
        /// The deadline (17:00 JST of the batch date).
        deadline: NaiveDateTime,
        /// The Wednesday this deadline stands in for, when that Wednesday
        /// was not a business day.
        moved_from: Option<NaiveDate>,
    },
}

/// A batch date and the reason for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Batch {
    /// The batch date (対応日).
    pub date: BatchDate,
    /// Why.
    pub reason: BatchReason,
}

/// Why `date` is not a business day, or None when it is one. A holiday on a
/// weekend or in the year-end days is reported by its name.
pub fn day_off(date: NaiveDate) -> Option<DayOff> {
    if let Some(name) = holiday_name(date) {
        return Some(DayOff::Holiday(name));
    }
    let (m, d) = (date.month(), date.day());
    if (m == 12 && d >= 29) || (m == 1 && d <= 3) {
        return Some(DayOff::YearEnd);
    }
    match date.weekday() {
        w @ (Weekday::Sat | Weekday::Sun) => Some(DayOff::Weekend(w)),
        _ => None,
    }
}

/// True on a business day: not a weekend, holiday or 12/29–1/3.
pub fn is_business_day(date: NaiveDate) -> bool {
    day_off(date).is_none()
}

/// The first business day strictly after `date`. (At the very end of the
/// representable calendar, where no later day exists, `date` itself.)
pub fn next_business_day(date: NaiveDate) -> NaiveDate {
    let mut day = date;
    while let Some(next) = day.succ_opt() {
        if is_business_day(next) {
            return next;
        }
        day = next;
    }
    date
}

/// `date` when it is a business day, else the next one.
pub fn this_or_next_business_day(date: NaiveDate) -> NaiveDate {
    if is_business_day(date) {
        date
    } else {
        next_business_day(date)
    }
}

/// The batch date of a request received at `received_at` (any time zone;
/// it is read in JST) under `rule`, with the reason.
///
/// Times are compared to the second, as clocks show them: 13:00:00.9 is
/// still 13:00:00.
pub fn batch<Tz: TimeZone>(rule: CutoffRule, received_at: &DateTime<Tz>) -> Batch {
    let local = received_at.with_timezone(&JST).naive_local();
    let local = local.with_nanosecond(0).unwrap_or(local);
    match rule {
        CutoffRule::Daily13 => daily(local),
        CutoffRule::WeeklyWed17 => weekly(local),
    }
}

/// The batch date alone; see [`batch`].
pub fn batch_date<Tz: TimeZone>(rule: CutoffRule, received_at: &DateTime<Tz>) -> BatchDate {
    batch(rule, received_at).date
}

fn daily(local: NaiveDateTime) -> Batch {
    let day = local.date();
    let (date, reason) = match day_off(day) {
        Some(off) => (next_business_day(day), BatchReason::DayOff(off)),
        None if local.time() <= DAILY_CUTOFF => (day, BatchReason::OnTime),
        None => (next_business_day(day), BatchReason::AfterCutoff),
    };
    Batch {
        date: BatchDate(date),
        reason,
    }
}

fn weekly(local: NaiveDateTime) -> Batch {
    // Start from the Wednesday a week before receipt's week: that week's
    // deadline may have moved past a holiday into this week.
    let day = local.date();
    let back = i64::from(day.weekday().num_days_from_monday()) + 7;
    let Some(monday) = day.checked_sub_signed(Duration::days(back)) else {
        return daily(local);
    };
    let mut wednesday = monday.checked_add_signed(Duration::days(2));
    // Deadlines only move forward by a few days, so within a handful of
    // weeks one lies after any receipt; the bound only guards the loop.
    for _ in 0..8 {
        let Some(wed) = wednesday else { break };
        let (deadline_day, moved_from) = if is_business_day(wed) {
            (wed, None)
        } else {
            (next_business_day(wed), Some(wed))
        };
        let deadline = deadline_day.and_time(WEEKLY_DEADLINE);
        if deadline >= local {
            return Batch {
                date: BatchDate(deadline_day),
                reason: BatchReason::WeeklyDeadline {
                    deadline,
                    moved_from,
                },
            };
        }
        wednesday = wed.checked_add_signed(Duration::days(7));
    }
    daily(local)
}

/// Parses an RFC 3339 time (`2026-12-28T13:00:01+09:00`, `…Z`); a space may
/// stand for the `T`.
pub fn parse_time(text: &str) -> Option<DateTime<FixedOffset>> {
    let t = text.trim();
    DateTime::parse_from_rfc3339(t)
        .ok()
        .or_else(|| DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%:z").ok())
}

#[cfg(test)]
mod tests;
