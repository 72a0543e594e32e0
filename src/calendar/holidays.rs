//! Japan's national holidays (国民の祝日) computed by the rules of the
//! 国民の祝日に関する法律 (祝日法), so that no yearly data file has to be updated.
//!
//! The rules are those in force since 2000 (Happy Monday), with the changes
//! of 2003 (海の日, 敬老の日), 2007 (昭和の日, みどりの日 on 5/4, the longer
//! 振替休日 rule), 2016 (山の日), 2019 (the enthronement days), 2020
//! (天皇誕生日 on 2/23, 体育の日 renamed スポーツの日) and the Olympic moves of
//! 2020 and 2021. Equinox days use the standard formula of the National
//! Astronomical Observatory, which matches the Cabinet Office's announcements
//! for 1980–2099; the Cabinet Office fixes each year's equinox days in the
//! February of the year before, so check them there when extending tests.
//! Years before 2000 follow the same rules, which is not what the calendar
//! of those years said.

use chrono::{Datelike, NaiveDate, Weekday};

/// 振替休日: the day after a holiday that fell on a Sunday.
pub const SUBSTITUTE_HOLIDAY: &str = "振替休日";
/// 国民の休日: a weekday sandwiched between two national holidays.
pub const CITIZENS_HOLIDAY: &str = "国民の休日";

/// Every holiday of `year` in date order: the national holidays, 振替休日
/// and 国民の休日, each with its official name.
pub fn holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let mut days = national_holidays(year);
    days.sort_by_key(|(d, _)| *d);
    let is_national = |d: NaiveDate, days: &[(NaiveDate, &str)]| days.iter().any(|(h, _)| *h == d);

    // 国民の休日 (Art. 3 (3)): a day whose previous and next days are
    // national holidays, and which is not one itself.
    let mut extra = Vec::new();
    for (d, _) in &days {
        if let Some(mid) = d.succ_opt()
            && let Some(after) = mid.succ_opt()
            && !is_national(mid, &days)
            && is_national(after, &days)
            && mid.weekday() != Weekday::Sun
        {
            extra.push((mid, CITIZENS_HOLIDAY));
        }
    }

    // 振替休日 (Art. 3 (2)): a national holiday on a Sunday moves the rest
    // day to the next day that is not a national holiday (since 2007; before,
    // only to the Monday when that was not a holiday).
    for (d, _) in &days {
        if d.weekday() != Weekday::Sun {
            continue;
        }
        let mut next = d.succ_opt();
        while let Some(n) = next {
            if !is_national(n, &days) {
                break;
            }
            next = if year >= 2007 { n.succ_opt() } else { None };
        }
        if let Some(n) = next
            && n.year() == year
        {
            extra.push((n, SUBSTITUTE_HOLIDAY));
        }
    }

    days.extend(extra);
    days.sort_by_key(|(d, _)| *d);
    days.dedup_by_key(|(d, _)| *d);
    days
}

/// The name of the holiday on `date`, if it is one (national holiday,
/// 振替休日 or 国民の休日). 12/29–1/3 other than 元日 are not holidays but
/// administrative closing days; see [`crate::calendar::is_business_day`].
pub fn holiday_name(date: NaiveDate) -> Option<&'static str> {
    holidays(date.year())
        .into_iter()
        .find(|(d, _)| *d == date)
        .map(|(_, name)| name)
}

/// The national holidays proper (Art. 2 and the special laws), without the
/// days derived from them.
fn national_holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let mut out: Vec<(Option<NaiveDate>, &'static str)> = Vec::with_capacity(20);
    let fixed = |m, d| NaiveDate::from_ymd_opt(year, m, d);
    let monday = |m, n| NaiveDate::from_weekday_of_month_opt(year, m, Weekday::Mon, n);

    out.push((fixed(1, 1), "元日"));
    out.push((monday(1, 2), "成人の日"));
    out.push((fixed(2, 11), "建国記念の日"));
    if year >= 2020 {
        out.push((fixed(2, 23), "天皇誕生日"));
    }
    out.push((fixed(3, spring_equinox_day(year)), "春分の日"));
    out.push((
        fixed(4, 29),
        if year >= 2007 {
            "昭和の日"
        } else {
            "みどりの日"
        },
    ));
    out.push((fixed(5, 3), "憲法記念日"));
    if year >= 2007 {
        out.push((fixed(5, 4), "みどりの日"));
    }
    out.push((fixed(5, 5), "こどもの日"));
    out.push((
        match year {
            2020 => fixed(7, 23),
            2021 => fixed(7, 22),
            y if y >= 2003 => monday(7, 3),
            _ => fixed(7, 20),
        },
        "海の日",
    ));
    if year >= 2016 {
        out.push((
            match year {
                2020 => fixed(8, 10),
                2021 => fixed(8, 8),
                _ => fixed(8, 11),
            },
            "山の日",
        ));
    }
    out.push((
        if year >= 2003 {
            monday(9, 3)
        } else {
            fixed(9, 15)
        },
        "敬老の日",
    ));
    out.push((fixed(9, autumn_equinox_day(year)), "秋分の日"));
    out.push(match year {
        2020 => (fixed(7, 24), "スポーツの日"),
        2021 => (fixed(7, 23), "スポーツの日"),
        y if y >= 2022 => (monday(10, 2), "スポーツの日"),
        _ => (monday(10, 2), "体育の日"),
    });
    out.push((fixed(11, 3), "文化の日"));
    out.push((fixed(11, 23), "勤労感謝の日"));
    if year <= 2018 {
        out.push((fixed(12, 23), "天皇誕生日"));
    }
    if year == 2019 {
        out.push((fixed(5, 1), "天皇の即位の日"));
        out.push((fixed(10, 22), "即位礼正殿の儀の行われる日"));
    }
    out.into_iter()
        .filter_map(|(d, name)| d.map(|d| (d, name)))
        .collect()
}

/// Day of March of the vernal equinox: floor(20.8431 + 0.242194 (y − 1980)
/// − floor((y − 1980) / 4)), in integer arithmetic to avoid rounding.
fn spring_equinox_day(year: i32) -> u32 {
    equinox_day(year, 20_843_100)
}

/// Day of September of the autumnal equinox: the same formula with 23.2488.
fn autumn_equinox_day(year: i32) -> u32 {
    equinox_day(year, 23_248_800)
}

fn equinox_day(year: i32, base_millionths: i64) -> u32 {
    let n = i64::from(year) - 1980;
    let day = (base_millionths + 242_194 * n).div_euclid(1_000_000) - n.div_euclid(4);
    // The formula stays within 19..=24 for any realistic year; clamp so that
    // absurd years still give a real date instead of none.
    day.clamp(1, 30) as u32
}
