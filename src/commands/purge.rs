//! `sos-intake purge [--dry-run]`: removes what `[retention]` says is past
//! its time (see [`crate::queue::retention`]) and lists it. `--dry-run`
//! only lists. Without `[retention]` it removes nothing.

use crate::config::{RetentionConfig, Settings};
use crate::messages::ops as msg;
use crate::queue::Db;
use crate::queue::retention::{self, Cutoffs, Plan};
use chrono::{Days, NaiveDate};
use std::process::ExitCode;

/// The actor written in the audit history.
const ACTOR: &str = "retention";

/// Arguments of `sos-intake purge`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// List what would go; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let retention = &settings.config.retention;
    if retention.raw_mail_days.is_none() && retention.personal_fields_days.is_none() {
        println!("{}", msg::RETENTION_OFF);
        return Ok(ExitCode::SUCCESS);
    }
    let db = Db::connect(&settings.database_url).await?;
    let cutoffs = cutoffs(retention, crate::base::time::today_in_japan());
    let plan = {
        let mut conn = db.pool().acquire().await?;
        retention::plan(&mut conn, cutoffs).await?
    };
    if !args.dry_run && !plan.is_empty() {
        let reason = msg::purge_reason(retention.raw_mail_days, retention.personal_fields_days);
        retention::purge(&db, &plan, ACTOR, &reason).await?;
    }
    db.close().await;
    if args.json {
        let value = serde_json::json!({"dry_run": args.dry_run, "plan": plan});
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print_plan(&plan, args.dry_run);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_plan(plan: &Plan, dry_run: bool) {
    if plan.is_empty() {
        println!("{}", msg::PURGE_NOTHING);
        return;
    }
    println!("{}", msg::purge_heading(dry_run));
    for t in &plan.personal {
        println!("{}", msg::purge_personal(&t.receipt));
    }
    for b in &plan.blobs {
        let receipts: Vec<String> = b.requests.iter().map(|t| t.receipt.clone()).collect();
        println!("{}", msg::purge_blob(b.kind, &receipts, b.size));
    }
}

/// Batches dated before these are past their retention.
pub fn cutoffs(retention: &RetentionConfig, today: NaiveDate) -> Cutoffs {
    let before = |days: Option<u32>| {
        days.map(|d| {
            today
                .checked_sub_days(Days::new(u64::from(d)))
                .unwrap_or(NaiveDate::MIN)
        })
    };
    Cutoffs {
        raw_mail_before: before(retention.raw_mail_days),
        personal_before: before(retention.personal_fields_days),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_exactly_n_days_old_stays() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let c = cutoffs(
            &RetentionConfig {
                raw_mail_days: Some(30),
                personal_fields_days: None,
            },
            today,
        );
        // Dates strictly before 2026-11-02 go; 2026-11-02 itself stays.
        assert_eq!(c.raw_mail_before, NaiveDate::from_ymd_opt(2026, 11, 2));
        assert_eq!(c.personal_before, None);
    }
}
