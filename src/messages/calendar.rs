//! Japanese wording about batch dates and the business calendar: the reason
//! a request got its 対応日, as replies and the review desk show it.

use crate::calendar::holidays::{CITIZENS_HOLIDAY, SUBSTITUTE_HOLIDAY};
use crate::calendar::{BatchReason, DayOff};
use chrono::{Datelike, NaiveDate, Weekday};

/// The weekday as one kanji: 月, 火, …
pub fn weekday(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "月",
        Weekday::Tue => "火",
        Weekday::Wed => "水",
        Weekday::Thu => "木",
        Weekday::Fri => "金",
        Weekday::Sat => "土",
        Weekday::Sun => "日",
    }
}

/// A date as officials write it: `2026年11月20日（金）`.
pub fn date(d: NaiveDate) -> String {
    format!(
        "{}年{}月{}日（{}）",
        d.year(),
        d.month(),
        d.day(),
        weekday(d.weekday())
    )
}

/// Why a day is not a business day: `土曜日`, `祝日（勤労感謝の日）`,
/// `年末年始（12月29日～1月3日）`.
pub fn day_off(off: DayOff) -> String {
    match off {
        DayOff::Weekend(w) => format!("{}曜日", weekday(w)),
        // 振替休日 and 国民の休日 are rest days, not 祝日: their name says it.
        DayOff::Holiday(name @ (SUBSTITUTE_HOLIDAY | CITIZENS_HOLIDAY)) => name.to_string(),
        DayOff::Holiday(name) => format!("祝日（{name}）"),
        DayOff::YearEnd => "年末年始（12月29日～1月3日）".to_string(),
    }
}

/// The reason for a batch date, one sentence for acknowledgements:
/// `13時を過ぎての受信のため翌営業日扱い` and the like.
pub fn batch_reason(reason: &BatchReason) -> String {
    match reason {
        BatchReason::OnTime => "13時までの受信のため当日扱い".to_string(),
        BatchReason::AfterCutoff => "13時を過ぎての受信のため翌営業日扱い".to_string(),
        BatchReason::DayOff(off) => format!("{}の受信のため翌営業日扱い", day_off(*off)),
        BatchReason::WeeklyDeadline {
            deadline,
            moved_from: None,
        } => {
            format!(
                "毎週水曜17時の締切（{} 17時）分として扱い",
                date(deadline.date())
            )
        }
        BatchReason::WeeklyDeadline {
            deadline,
            moved_from: Some(wed),
        } => format!(
            "{}が休日のため、締切（{} 17時）分として扱い",
            date(*wed),
            date(deadline.date())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_naturally() {
        assert_eq!(
            batch_reason(&BatchReason::AfterCutoff),
            "13時を過ぎての受信のため翌営業日扱い"
        );
        assert_eq!(
            batch_reason(&BatchReason::DayOff(DayOff::Holiday("勤労感謝の日"))),
            "祝日（勤労感謝の日）の受信のため翌営業日扱い"
        );
        assert_eq!(
            batch_reason(&BatchReason::DayOff(DayOff::Weekend(Weekday::Sat))),
            "土曜日の受信のため翌営業日扱い"
        );
        assert_eq!(
            batch_reason(&BatchReason::DayOff(DayOff::Holiday(SUBSTITUTE_HOLIDAY))),
            "振替休日の受信のため翌営業日扱い"
        );
        let wed = NaiveDate::from_ymd_opt(2026, 9, 23).unwrap();
        let thu = NaiveDate::from_ymd_opt(2026, 9, 24).unwrap();
        assert_eq!(
            batch_reason(&BatchReason::WeeklyDeadline {
                deadline: thu.and_hms_opt(17, 0, 0).unwrap(),
                moved_from: Some(wed)
            }),
            "2026年9月23日（水）が休日のため、締切（2026年9月24日（木） 17時）分として扱い"
        );
    }
}
