//! The one time zone of the service: Japan Standard Time.
//!
//! Japan has no daylight saving time, so a fixed +09:00 offset is all the
//! time zone needed; batch dates, receipt numbers and the times shown to
//! officials are all in it.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};

/// Japan Standard Time, UTC+09:00.
pub const JST: FixedOffset = match FixedOffset::east_opt(9 * 3600) {
    Some(offset) => offset,
    None => panic!("+09:00 is a valid offset"),
};

/// `at` as a time in JST.
pub fn in_jst<Tz: TimeZone>(at: &DateTime<Tz>) -> DateTime<FixedOffset> {
    at.with_timezone(&JST)
}

/// Today's date in Japan (where batch dates are).
pub fn today_in_japan() -> NaiveDate {
    Utc::now().with_timezone(&JST).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jst_is_nine_hours_ahead_of_utc() {
        let utc = Utc.with_ymd_and_hms(2026, 5, 11, 15, 30, 0).unwrap();
        let jst = in_jst(&utc);
        assert_eq!(jst.to_rfc3339(), "2026-05-12T00:30:00+09:00");
        assert_eq!(JST.local_minus_utc(), 9 * 3600);
    }
}
