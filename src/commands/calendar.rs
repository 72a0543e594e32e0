//! `sos-intake calendar …`: the batch date of a receipt time, and the
//! holidays of a year, so officials can check the business calendar.

use crate::calendar::{self, CutoffRule};
use crate::config::Settings;
use crate::messages;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use std::process::ExitCode;

/// Subcommands of `sos-intake calendar`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the batch date (対応日) of a request received at a given time.
    BatchDate(BatchDateArgs),
    /// List the holidays (祝日・振替休日・国民の休日) of a year.
    Holidays(HolidaysArgs),
}

/// Arguments of `calendar batch-date`.
#[derive(Debug, clap::Args)]
pub struct BatchDateArgs {
    /// Receipt time, RFC 3339 with any offset (`2026-12-28T13:00:01+09:00`,
    /// `2026-12-28T04:00:01Z`); default: now.
    #[arg(long, value_name = "TIME", value_parser = parse_at)]
    pub at: Option<DateTime<FixedOffset>>,
    /// Cut-off rule: `daily-13` or `weekly-wed-17` (default: configuration
    /// `cutoff_rule`).
    #[arg(long, value_name = "RULE", value_parser = parse_rule)]
    pub rule: Option<CutoffRule>,
    /// Also print why, after a tab.
    #[arg(long)]
    pub explain: bool,
}

/// Arguments of `calendar holidays`.
#[derive(Debug, clap::Args)]
pub struct HolidaysArgs {
    /// The year (default: this year in Japan).
    #[arg(long)]
    pub year: Option<i32>,
}

fn parse_at(text: &str) -> Result<DateTime<FixedOffset>, String> {
    calendar::parse_time(text)
        .ok_or_else(|| format!("日時を読めません: {text:?}（例: 2026-12-28T13:00:01+09:00）"))
}

fn parse_rule(text: &str) -> Result<CutoffRule, String> {
    CutoffRule::parse(text)
        .ok_or_else(|| format!("締切ルールは daily-13 か weekly-wed-17 です: {text:?}"))
}

/// Runs the command.
pub fn run(settings: &Settings, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::BatchDate(args) => batch_date(settings, args),
        Command::Holidays(args) => holidays(args),
    }
}

fn batch_date(settings: &Settings, args: BatchDateArgs) -> anyhow::Result<ExitCode> {
    let rule = match args.rule {
        Some(rule) => rule,
        None => settings.config.cutoff_rule()?,
    };
    let at = args
        .at
        .unwrap_or_else(|| Utc::now().with_timezone(&calendar::JST));
    let batch = calendar::batch(rule, &at);
    if args.explain {
        println!(
            "{}\t{}",
            batch.date,
            messages::calendar::batch_reason(&batch.reason)
        );
    } else {
        println!("{}", batch.date);
    }
    Ok(ExitCode::SUCCESS)
}

fn holidays(args: HolidaysArgs) -> anyhow::Result<ExitCode> {
    let year = args
        .year
        .unwrap_or_else(|| Utc::now().with_timezone(&calendar::JST).year());
    if NaiveDate::from_ymd_opt(year, 1, 1).is_none()
        || NaiveDate::from_ymd_opt(year, 12, 31).is_none()
    {
        anyhow::bail!("年が範囲外です: {year}");
    }
    for (date, name) in calendar::holidays(year) {
        println!(
            "{}\t{}\t{}",
            date.format("%Y-%m-%d"),
            messages::calendar::weekday(date.weekday()),
            name
        );
    }
    Ok(ExitCode::SUCCESS)
}
