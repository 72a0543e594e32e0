//! `sos-intake file SHEET --received-at TIME --prefecture P`: file one
//! workbook by hand, exactly as the mail pipeline would: store the bytes,
//! read and check every form in it, date it by the cut-off rule, file each
//! sheet (one transaction), and print receipt, status, batch date and
//! findings.
//!
//! Exit code: 0 when every sheet went to review, 1 when some sheet was filed
//! with errors (エラー有り), 2 when the file could not be read as a sheet.

use crate::calendar;
use crate::config::Settings;
use crate::messages::queue as msg;
use crate::messages::queue::cli as label;
use crate::prefecture::Prefecture;
use crate::queue::{self, Db, FilingOutcome, SheetFiling, blobs};
use crate::request::Status;
use crate::sheet::{RequestSheet, read_workbook};
use crate::validation::{self, Finding, Policy};
use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::AnyConnection;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sos-intake file`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workbook (.xlsx, .xlsm, .xls, .ods).
    #[arg(value_name = "SHEET")]
    pub file: PathBuf,
    /// When it was received (RFC 3339, e.g. 2026-11-20T10:15:00+09:00);
    /// default: now.
    #[arg(long, value_name = "TIME")]
    pub received_at: Option<String>,
    /// The prefecture submitting it (the sheet's 都道府県 must match).
    #[arg(long, value_name = "P")]
    pub prefecture: String,
    /// Who files it, for the history (default: cli:$USER).
    #[arg(long, value_name = "NAME")]
    pub actor: Option<String>,
    /// One JSON object per sheet filed, one per line.
    #[arg(long)]
    pub json: bool,
}

/// One filed sheet, for printing.
#[derive(Clone)]
struct Filed {
    sheet: String,
    outcome: FilingOutcome,
    findings: Vec<Finding>,
}

/// Runs the command: read the arguments and the workbook, file every form
/// in one transaction, print what became of each.
pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let prefecture = prefecture_arg(&args.prefecture)?;
    let received_at = received_at_arg(args.received_at.as_deref())?;
    let rule = settings.config.cutoff_rule()?;
    let policy = Policy::from_config(&settings.config)?;

    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let book = match read_workbook(&bytes) {
        Ok(book) => book,
        Err(err) => {
            eprintln!(
                "■ {}: {}（{}）\n  {}",
                args.file.display(),
                label::UNREADABLE,
                err.code(),
                crate::messages::findings::read_error(&err)
            );
            return Ok(ExitCode::from(2));
        }
    };
    let batch = calendar::batch(rule, &received_at);
    let batch_reason = crate::messages::calendar::batch_reason(&batch.reason);
    let mut common = Common {
        received_at,
        batch_date: batch.date.date(),
        batch_reason: batch_reason.clone(),
        prefecture,
        attachment_sha256: String::new(),
        attachment_name: args
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        actor: args.actor.clone().unwrap_or_else(default_actor),
    };

    let db = Db::connect(&settings.database_url).await?;
    let mut tx = db.begin().await?;
    common.attachment_sha256 = blobs::put(&mut tx, &bytes).await?;
    let filed = file_forms(&mut tx, &book.forms, &policy, &common).await?;
    tx.commit().await.context("cannot commit the filing")?;
    db.close().await;

    print_filed(&args, &filed, &batch_reason)?;
    let any_errors = filed
        .iter()
        .any(|f| f.outcome.status != Status::UnderReview);
    Ok(if any_errors {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `--prefecture`, parsed.
fn prefecture_arg(text: &str) -> anyhow::Result<Prefecture> {
    Prefecture::parse(text).ok_or_else(|| {
        anyhow::anyhow!(msg::bad_argument(
            label::PREFECTURE,
            text,
            msg::EXPECTED_PREFECTURE
        ))
    })
}

/// `--received-at`, parsed; now when not given.
fn received_at_arg(text: Option<&str>) -> anyhow::Result<DateTime<Utc>> {
    Ok(match text {
        Some(text) => calendar::parse_time(text)
            .ok_or_else(|| {
                anyhow::anyhow!(msg::bad_argument(
                    label::RECEIVED_AT,
                    text,
                    msg::EXPECTED_TIME
                ))
            })?
            .with_timezone(&Utc),
        None => Utc::now(),
    })
}

/// What every form of the file is filed with; each form adds its own part.
struct Common {
    received_at: DateTime<Utc>,
    batch_date: NaiveDate,
    batch_reason: String,
    prefecture: Prefecture,
    attachment_sha256: String,
    attachment_name: String,
    actor: String,
}

/// Checks and files each form (inside the caller's transaction).
async fn file_forms(
    conn: &mut AnyConnection,
    forms: &[RequestSheet],
    policy: &Policy,
    common: &Common,
) -> anyhow::Result<Vec<Filed>> {
    let mut filed = Vec::new();
    for form in forms {
        let checked = validation::check(form, policy);
        let mut findings = checked.findings.clone();
        findings.extend(validation::prefecture_mismatch(
            form,
            &checked,
            common.prefecture,
            validation::FiledBy::Hand,
        ));
        let filing = SheetFiling {
            received_at: common.received_at,
            batch_date: common.batch_date,
            batch_reason: Some(common.batch_reason.clone()),
            prefecture: common.prefecture,
            institution: checked.institution.clone(),
            lines: checked.lines.clone(),
            findings: findings.clone(),
            source_message_sha256: None,
            attachment_sha256: Some(common.attachment_sha256.clone()),
            attachment_name: common.attachment_name.clone(),
            sheet_name: form.sheet.clone(),
            actor: common.actor.clone(),
            // Staff file by hand what they received and checked themselves.
            sender_trust: crate::message::senders::SenderTrust::Vouched,
        };
        let outcome = queue::file_sheet(conn, &filing).await?;
        findings.extend(outcome.findings_added.iter().cloned());
        filed.push(Filed {
            sheet: form.sheet.clone(),
            outcome,
            findings,
        });
    }
    Ok(filed)
}

/// Prints each filed sheet: one JSON line with `--json`, else for people.
fn print_filed(args: &Args, filed: &[Filed], batch_reason: &str) -> anyhow::Result<()> {
    // Findings are printed as people read them, worded.
    let mut filed = filed.to_vec();
    for f in &mut filed {
        let plain = |v: &[Finding]| v.iter().map(crate::messages::findings::plain).collect();
        f.findings = plain(&f.findings);
        f.outcome.findings_added = plain(&f.outcome.findings_added);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for f in filed {
        if args.json {
            let line = serde_json::json!({
                "file": args.file.display().to_string(),
                "sheet": f.sheet,
                "outcome": f.outcome,
                "batch_reason": batch_reason,
                "findings": f.findings,
            });
            writeln!(out, "{line}")?;
        } else {
            write_human(&mut out, args, &f, batch_reason)?;
        }
    }
    Ok(())
}

fn write_human(
    out: &mut impl Write,
    args: &Args,
    f: &Filed,
    batch_reason: &str,
) -> anyhow::Result<()> {
    let o = &f.outcome;
    writeln!(out, "■ {} [{}]", args.file.display(), f.sheet)?;
    let note = if o.already_filed {
        label::ALREADY_FILED
    } else if o.refused_because_completed {
        label::REFUSED
    } else {
        ""
    };
    writeln!(out, "  {}: {}{note}", label::RECEIPT, o.receipt)?;
    writeln!(out, "  {}: {}", label::STATUS, o.status)?;
    writeln!(
        out,
        "  {}: {}（{batch_reason}）",
        label::BATCH_DATE,
        o.batch_date
    )?;
    writeln!(out, "  {}: {}", label::EARLIER, o.earlier_distributions)?;
    if !o.superseded.is_empty() {
        writeln!(out, "  {}: {}", label::SUPERSEDES, o.superseded.join("、"))?;
    }
    for finding in &f.findings {
        super::write_finding(out, finding)?;
    }
    Ok(())
}

/// `cli:<login name>`, for the history.
pub fn default_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    if user.is_empty() {
        "cli".into()
    } else {
        format!("cli:{user}")
    }
}
