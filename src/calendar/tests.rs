//! Unit tests of the calendar: the holiday rules against the Cabinet Office
//! list, and the edges of both cut-off rules.

use super::*;
use chrono::Utc;

/// Every holiday of 2020–2030 as the Cabinet Office (内閣府「国民の祝日について」)
/// lists them, written out by hand as data: the rules must reproduce it.
const CABINET_OFFICE_2020_2030: &str = "
2020-01-01 元日; 2020-01-13 成人の日; 2020-02-11 建国記念の日; 2020-02-23 天皇誕生日;
2020-02-24 振替休日; 2020-03-20 春分の日; 2020-04-29 昭和の日; 2020-05-03 憲法記念日;
2020-05-04 みどりの日; 2020-05-05 こどもの日; 2020-05-06 振替休日; 2020-07-23 海の日;
2020-07-24 スポーツの日; 2020-08-10 山の日; 2020-09-21 敬老の日; 2020-09-22 秋分の日;
2020-11-03 文化の日; 2020-11-23 勤労感謝の日;
2021-01-01 元日; 2021-01-11 成人の日; 2021-02-11 建国記念の日; 2021-02-23 天皇誕生日;
2021-03-20 春分の日; 2021-04-29 昭和の日; 2021-05-03 憲法記念日; 2021-05-04 みどりの日;
2021-05-05 こどもの日; 2021-07-22 海の日; 2021-07-23 スポーツの日; 2021-08-08 山の日;
2021-08-09 振替休日; 2021-09-20 敬老の日; 2021-09-23 秋分の日; 2021-11-03 文化の日;
2021-11-23 勤労感謝の日;
2022-01-01 元日; 2022-01-10 成人の日; 2022-02-11 建国記念の日; 2022-02-23 天皇誕生日;
2022-03-21 春分の日; 2022-04-29 昭和の日; 2022-05-03 憲法記念日; 2022-05-04 みどりの日;
2022-05-05 こどもの日; 2022-07-18 海の日; 2022-08-11 山の日; 2022-09-19 敬老の日;
2022-09-23 秋分の日; 2022-10-10 スポーツの日; 2022-11-03 文化の日; 2022-11-23 勤労感謝の日;
2023-01-01 元日; 2023-01-02 振替休日; 2023-01-09 成人の日; 2023-02-11 建国記念の日;
2023-02-23 天皇誕生日; 2023-03-21 春分の日; 2023-04-29 昭和の日; 2023-05-03 憲法記念日;
2023-05-04 みどりの日; 2023-05-05 こどもの日; 2023-07-17 海の日; 2023-08-11 山の日;
2023-09-18 敬老の日; 2023-09-23 秋分の日; 2023-10-09 スポーツの日; 2023-11-03 文化の日;
2023-11-23 勤労感謝の日;
2024-01-01 元日; 2024-01-08 成人の日; 2024-02-11 建国記念の日; 2024-02-12 振替休日;
2024-02-23 天皇誕生日; 2024-03-20 春分の日; 2024-04-29 昭和の日; 2024-05-03 憲法記念日;
2024-05-04 みどりの日; 2024-05-05 こどもの日; 2024-05-06 振替休日; 2024-07-15 海の日;
2024-08-11 山の日; 2024-08-12 振替休日; 2024-09-16 敬老の日; 2024-09-22 秋分の日;
2024-09-23 振替休日; 2024-10-14 スポーツの日; 2024-11-03 文化の日; 2024-11-04 振替休日;
2024-11-23 勤労感謝の日;
2025-01-01 元日; 2025-01-13 成人の日; 2025-02-11 建国記念の日; 2025-02-23 天皇誕生日;
2025-02-24 振替休日; 2025-03-20 春分の日; 2025-04-29 昭和の日; 2025-05-03 憲法記念日;
2025-05-04 みどりの日; 2025-05-05 こどもの日; 2025-05-06 振替休日; 2025-07-21 海の日;
2025-08-11 山の日; 2025-09-15 敬老の日; 2025-09-23 秋分の日; 2025-10-13 スポーツの日;
2025-11-03 文化の日; 2025-11-23 勤労感謝の日; 2025-11-24 振替休日;
2026-01-01 元日; 2026-01-12 成人の日; 2026-02-11 建国記念の日; 2026-02-23 天皇誕生日;
2026-03-20 春分の日; 2026-04-29 昭和の日; 2026-05-03 憲法記念日; 2026-05-04 みどりの日;
2026-05-05 こどもの日; 2026-05-06 振替休日; 2026-07-20 海の日; 2026-08-11 山の日;
2026-09-21 敬老の日; 2026-09-22 国民の休日; 2026-09-23 秋分の日; 2026-10-12 スポーツの日;
2026-11-03 文化の日; 2026-11-23 勤労感謝の日;
2027-01-01 元日; 2027-01-11 成人の日; 2027-02-11 建国記念の日; 2027-02-23 天皇誕生日;
2027-03-21 春分の日; 2027-03-22 振替休日; 2027-04-29 昭和の日; 2027-05-03 憲法記念日;
2027-05-04 みどりの日; 2027-05-05 こどもの日; 2027-07-19 海の日; 2027-08-11 山の日;
2027-09-20 敬老の日; 2027-09-23 秋分の日; 2027-10-11 スポーツの日; 2027-11-03 文化の日;
2027-11-23 勤労感謝の日;
2028-01-01 元日; 2028-01-10 成人の日; 2028-02-11 建国記念の日; 2028-02-23 天皇誕生日;
2028-03-20 春分の日; 2028-04-29 昭和の日; 2028-05-03 憲法記念日; 2028-05-04 みどりの日;
2028-05-05 こどもの日; 2028-07-17 海の日; 2028-08-11 山の日; 2028-09-18 敬老の日;
2028-09-22 秋分の日; 2028-10-09 スポーツの日; 2028-11-03 文化の日; 2028-11-23 勤労感謝の日;
2029-01-01 元日; 2029-01-08 成人の日; 2029-02-11 建国記念の日; 2029-02-12 振替休日;
2029-02-23 天皇誕生日; 2029-03-20 春分の日; 2029-04-29 昭和の日; 2029-04-30 振替休日;
2029-05-03 憲法記念日; 2029-05-04 みどりの日; 2029-05-05 こどもの日; 2029-07-16 海の日;
2029-08-11 山の日; 2029-09-17 敬老の日; 2029-09-23 秋分の日; 2029-09-24 振替休日;
2029-10-08 スポーツの日; 2029-11-03 文化の日; 2029-11-23 勤労感謝の日;
2030-01-01 元日; 2030-01-14 成人の日; 2030-02-11 建国記念の日; 2030-02-23 天皇誕生日;
2030-03-20 春分の日; 2030-04-29 昭和の日; 2030-05-03 憲法記念日; 2030-05-04 みどりの日;
2030-05-05 こどもの日; 2030-05-06 振替休日; 2030-07-15 海の日; 2030-08-11 山の日;
2030-08-12 振替休日; 2030-09-16 敬老の日; 2030-09-23 秋分の日; 2030-10-14 スポーツの日;
2030-11-03 文化の日; 2030-11-04 振替休日; 2030-11-23 勤労感謝の日;
";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn at(s: &str) -> DateTime<FixedOffset> {
    parse_time(s).unwrap_or_else(|| panic!("bad test time {s}"))
}

fn daily(s: &str) -> Batch {
    batch(CutoffRule::Daily13, &at(s))
}

fn weekly(s: &str) -> Batch {
    batch(CutoffRule::WeeklyWed17, &at(s))
}

#[test]
fn holidays_2020_to_2030_match_the_cabinet_office_list() {
    let expected: Vec<(NaiveDate, &str)> = CABINET_OFFICE_2020_2030
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (date, name) = s.split_once(' ').unwrap();
            (d(date), name)
        })
        .collect();
    let computed: Vec<(NaiveDate, &str)> = (2020..=2030).flat_map(holidays).collect();
    for (date, name) in &expected {
        assert_eq!(holiday_name(*date), Some(*name), "{date}");
    }
    assert_eq!(computed, expected);
}

#[test]
fn derived_holidays_named_in_the_brief() {
    assert_eq!(holiday_name(d("2026-09-22")), Some("国民の休日"));
    assert_eq!(holiday_name(d("2025-11-24")), Some("振替休日"));
    assert_eq!(holiday_name(d("2024-02-12")), Some("振替休日"));
    // A Saturday holiday gives no substitute.
    assert_eq!(holiday_name(d("2024-11-23")), Some("勤労感謝の日"));
    assert_eq!(holiday_name(d("2024-11-25")), None);
}

#[test]
fn enthronement_year_2019() {
    let names: Vec<_> = holidays(2019)
        .into_iter()
        .filter(|(d, _)| d.month() == 4 || d.month() == 5)
        .collect();
    assert_eq!(
        names,
        vec![
            (d("2019-04-29"), "昭和の日"),
            (d("2019-04-30"), "国民の休日"),
            (d("2019-05-01"), "天皇の即位の日"),
            (d("2019-05-02"), "国民の休日"),
            (d("2019-05-03"), "憲法記念日"),
            (d("2019-05-04"), "みどりの日"),
            (d("2019-05-05"), "こどもの日"),
            (d("2019-05-06"), "振替休日"),
        ]
    );
    assert_eq!(
        holiday_name(d("2019-10-22")),
        Some("即位礼正殿の儀の行われる日")
    );
    assert_eq!(holiday_name(d("2019-12-23")), None);
    assert_eq!(holiday_name(d("2018-12-23")), Some("天皇誕生日"));
}

#[test]
fn business_days() {
    assert!(is_business_day(d("2026-11-20")));
    assert_eq!(
        day_off(d("2026-11-21")),
        Some(DayOff::Weekend(Weekday::Sat))
    );
    assert_eq!(
        day_off(d("2026-11-22")),
        Some(DayOff::Weekend(Weekday::Sun))
    );
    assert_eq!(
        day_off(d("2026-11-23")),
        Some(DayOff::Holiday("勤労感謝の日"))
    );
    assert_eq!(day_off(d("2026-12-29")), Some(DayOff::YearEnd));
    assert_eq!(day_off(d("2027-01-01")), Some(DayOff::Holiday("元日")));
    assert_eq!(day_off(d("2027-01-03")), Some(DayOff::YearEnd));
    assert!(is_business_day(d("2026-12-28")));
    assert!(is_business_day(d("2027-01-04")));
    assert_eq!(next_business_day(d("2026-12-28")), d("2027-01-04"));
    assert_eq!(next_business_day(d("2026-11-20")), d("2026-11-24"));
    assert_eq!(this_or_next_business_day(d("2026-11-20")), d("2026-11-20"));
    assert_eq!(this_or_next_business_day(d("2026-11-21")), d("2026-11-24"));
    assert_eq!(next_business_day(NaiveDate::MAX), NaiveDate::MAX);
}

#[test]
fn daily_cutoff_at_13_to_the_second() {
    let on_time = daily("2026-11-19T12:59:59+09:00");
    assert_eq!(
        (on_time.date.to_string(), on_time.reason),
        ("2026-11-19".into(), BatchReason::OnTime)
    );
    let edge = daily("2026-11-19T13:00:00+09:00");
    assert_eq!(
        (edge.date.to_string(), edge.reason),
        ("2026-11-19".into(), BatchReason::OnTime)
    );
    let fraction = daily("2026-11-19T13:00:00.999+09:00");
    assert_eq!(fraction.date.to_string(), "2026-11-19");
    let late = daily("2026-11-19T13:00:01+09:00");
    assert_eq!(
        (late.date.to_string(), late.reason),
        ("2026-11-20".into(), BatchReason::AfterCutoff)
    );
}

#[test]
fn friday_afternoon_goes_to_monday() {
    let b = daily("2026-11-13T15:00:00+09:00");
    assert_eq!(b.date, BatchDate::parse("2026-11-16").unwrap());
    assert_eq!(b.reason, BatchReason::AfterCutoff);
    let sat = daily("2026-11-14T09:00:00+09:00");
    assert_eq!(sat.date.to_string(), "2026-11-16");
    assert_eq!(
        sat.reason,
        BatchReason::DayOff(DayOff::Weekend(Weekday::Sat))
    );
}

#[test]
fn monday_holiday_skipped() {
    // 2026-11-23 is 勤労感謝の日 (Monday).
    assert_eq!(
        daily("2026-11-20T13:00:01+09:00").date.to_string(),
        "2026-11-24"
    );
    let on_holiday = daily("2026-10-12T10:00:00+09:00");
    assert_eq!(on_holiday.date.to_string(), "2026-10-13");
    assert_eq!(
        on_holiday.reason,
        BatchReason::DayOff(DayOff::Holiday("スポーツの日"))
    );
}

#[test]
fn golden_week_2026() {
    // 5/1 (Fri) is a business day; 5/2–5/6 are off (5/6 振替休日).
    assert_eq!(
        daily("2026-05-01T11:00:00+09:00").date.to_string(),
        "2026-05-01"
    );
    assert_eq!(
        daily("2026-05-01T13:30:00+09:00").date.to_string(),
        "2026-05-07"
    );
    let b = daily("2026-05-06T09:00:00+09:00");
    assert_eq!(b.date.to_string(), "2026-05-07");
    assert_eq!(b.reason, BatchReason::DayOff(DayOff::Holiday("振替休日")));
    assert_eq!(
        daily("2026-04-28T14:00:00+09:00").date.to_string(),
        "2026-04-30"
    );
}

#[test]
fn year_end() {
    assert_eq!(
        daily("2026-12-28T13:00:00+09:00").date.to_string(),
        "2026-12-28"
    );
    assert_eq!(
        daily("2026-12-28T13:00:01+09:00").date.to_string(),
        "2027-01-04"
    );
    let b = daily("2026-12-30T10:00:00+09:00");
    assert_eq!(
        (b.date.to_string(), b.reason),
        ("2027-01-04".into(), BatchReason::DayOff(DayOff::YearEnd))
    );
}

#[test]
fn time_given_in_utc_is_read_in_jst() {
    // 04:00Z = 13:00 JST.
    assert_eq!(daily("2026-11-19T04:00:00Z").date.to_string(), "2026-11-19");
    assert_eq!(daily("2026-11-19T04:00:01Z").date.to_string(), "2026-11-20");
    // 15:30Z on the 18th is already 00:30 on the 19th in Tokyo.
    assert_eq!(daily("2026-11-18T15:30:00Z").date.to_string(), "2026-11-19");
    // Any offset, and a chrono::Utc value directly.
    assert_eq!(
        daily("2026-11-18T23:00:00-05:00").date.to_string(),
        "2026-11-19"
    );
    let utc = Utc.with_ymd_and_hms(2026, 11, 19, 4, 0, 1).unwrap();
    assert_eq!(
        batch_date(CutoffRule::Daily13, &utc).to_string(),
        "2026-11-20"
    );
}

#[test]
fn weekly_deadline_wednesday_17() {
    let b = weekly("2026-11-18T17:00:00+09:00");
    assert_eq!(b.date.to_string(), "2026-11-18");
    assert_eq!(
        b.reason,
        BatchReason::WeeklyDeadline {
            deadline: d("2026-11-18").and_hms_opt(17, 0, 0).unwrap(),
            moved_from: None
        }
    );
    assert_eq!(
        weekly("2026-11-18T17:00:01+09:00").date.to_string(),
        "2026-11-25"
    );
    assert_eq!(
        weekly("2026-11-19T09:00:00+09:00").date.to_string(),
        "2026-11-25"
    );
    assert_eq!(
        weekly("2026-11-16T09:00:00+09:00").date.to_string(),
        "2026-11-18"
    );
    assert_eq!(
        weekly("2026-11-22T23:59:59+09:00").date.to_string(),
        "2026-11-25"
    );
}

#[test]
fn weekly_wednesday_holiday_moves_to_thursday() {
    // 2026-09-23 (Wed) is 秋分の日: that week's deadline is 9/24 17:00.
    let b = weekly("2026-09-23T10:00:00+09:00");
    assert_eq!(b.date.to_string(), "2026-09-24");
    assert_eq!(
        b.reason,
        BatchReason::WeeklyDeadline {
            deadline: d("2026-09-24").and_hms_opt(17, 0, 0).unwrap(),
            moved_from: Some(d("2026-09-23"))
        }
    );
    assert_eq!(
        weekly("2026-09-23T17:00:01+09:00").date.to_string(),
        "2026-09-24"
    );
    assert_eq!(
        weekly("2026-09-24T17:00:00+09:00").date.to_string(),
        "2026-09-24"
    );
    assert_eq!(
        weekly("2026-09-24T17:00:01+09:00").date.to_string(),
        "2026-09-30"
    );
}

#[test]
fn weekly_deadline_moved_over_the_year_end_into_the_next_week() {
    // 2025-12-31 (Wed) is off until 2026-01-05 (Mon).
    assert_eq!(
        weekly("2025-12-31T12:00:00+09:00").date.to_string(),
        "2026-01-05"
    );
    assert_eq!(
        weekly("2026-01-04T12:00:00+09:00").date.to_string(),
        "2026-01-05"
    );
    assert_eq!(
        weekly("2026-01-05T17:00:01+09:00").date.to_string(),
        "2026-01-07"
    );
}

#[test]
fn cutoff_rule_words() {
    assert_eq!(CutoffRule::parse("daily-13"), Some(CutoffRule::Daily13));
    assert_eq!(
        CutoffRule::parse(" Weekly-Wed-17 "),
        Some(CutoffRule::WeeklyWed17)
    );
    assert_eq!(CutoffRule::parse("weekly"), None);
    assert_eq!(CutoffRule::default(), CutoffRule::Daily13);
    for r in CutoffRule::ALL {
        assert_eq!(CutoffRule::parse(r.as_str()), Some(r));
    }
}

#[test]
fn batch_date_text_round_trip() {
    let b = BatchDate::parse("2027-01-04").unwrap();
    assert_eq!(b.to_string(), "2027-01-04");
    assert_eq!(b.date(), d("2027-01-04"));
    assert!(BatchDate::parse("2027/01/04").is_none());
    assert_eq!(serde_json::to_string(&b).unwrap(), "\"2027-01-04\"");
}

#[test]
fn absurd_years_do_not_panic() {
    for year in [-262_000, -1, 0, 1, 1900, 2200, 262_000] {
        let _ = holidays(year);
    }
    let far = NaiveDate::MAX
        .and_hms_opt(23, 0, 0)
        .unwrap()
        .and_local_timezone(JST)
        .unwrap();
    let _ = batch(CutoffRule::Daily13, &far);
    let _ = batch(CutoffRule::WeeklyWed17, &far);
    let early = NaiveDate::MIN.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let _ = batch(CutoffRule::WeeklyWed17, &early);
}
