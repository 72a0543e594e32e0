//! `sos-intake ingest FILE.eml | -`: processes one message through the same
//! pipeline as the Maildir and IMAP sources, for an MTA that pipes mail to
//! us (`mailbox_command`, `.forward`) or for replaying old mail.
//!
//! Exit status, as an MTA expects: 0 once the message is stored, whatever
//! was decided (filed, refused, quarantined, or set aside as 処理不能 when it
//! cannot be processed at all); 75 (`EX_TEMPFAIL`) for anything before
//! that — a configuration that cannot be read, a database that cannot be
//! reached, a full disk — so the MTA keeps the message and retries. Never 2
//! once the message is stored: the pipeline turns every permanent failure
//! after storing into 処理不能, and a retry of a stored message changes
//! nothing (same bytes, same key).

use crate::config::Settings;
use crate::messages::mail as msg;
use crate::outbox::{Sender, Transport};
use crate::pipeline::{Intake, IntakeError};
use crate::queue::Db;
use anyhow::Context;
use chrono::{DateTime, FixedOffset, Local};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// `EX_TEMPFAIL` of sysexits.h: the MTA retries later.
pub const EX_TEMPFAIL: u8 = 75;

/// Arguments of `sos-intake ingest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The message file (RFC 5322, e.g. .eml), or `-` for standard input.
    #[arg(value_name = "FILE.eml | -")]
    pub file: PathBuf,
    /// The receipt time, when replaying old mail (RFC 3339, e.g.
    /// 2026-11-20T12:59:00+09:00); default: now.
    #[arg(long, value_name = "TIME")]
    pub received_at: Option<String>,
    /// Only queue the reply; do not deliver the outbox before exiting.
    #[arg(long)]
    pub no_send: bool,
}

/// Runs the command.
pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    super::serve::init_logging();
    let received_at = match &args.received_at {
        Some(text) => crate::calendar::parse_time(text).with_context(|| msg::bad_time(text))?,
        None => Local::now().fixed_offset(),
    };
    let raw = read_input(&args.file)?;
    match ingest(settings, &raw, received_at, !args.no_send).await {
        Ok(line) => {
            println!("{line}");
            Ok(ExitCode::SUCCESS)
        }
        // The pipeline already set aside whatever failed permanently after
        // storing it; what reaches here failed before or while storing.
        Err(e) => {
            eprintln!("{}", msg::ingest_temporary(&e.to_string()));
            Ok(ExitCode::from(EX_TEMPFAIL))
        }
    }
}

fn read_input(file: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    if file.as_os_str() == "-" {
        let mut raw = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut raw)
            .context("cannot read the message from standard input")?;
        Ok(raw)
    } else {
        std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
    }
}

/// Processes `raw` and, when `send`, delivers what is due in the outbox.
async fn ingest(
    settings: &Settings,
    raw: &[u8],
    received_at: DateTime<FixedOffset>,
    send: bool,
) -> Result<String, IntakeError> {
    let db = Db::connect(&settings.database_url)
        .await
        .map_err(IntakeError::Database)?;
    let intake = Intake::new(db.clone(), settings)
        .map_err(IntakeError::Internal)?
        .with_source("ingest");
    let outcome = intake.process(raw, received_at).await?;
    let mut line = msg::ingest_outcome(
        outcome.disposition.as_str(),
        &outcome.receipts,
        &outcome.reply_note,
    );
    if send {
        let transport = Transport::from_settings(settings).map_err(IntakeError::Internal)?;
        match Sender::new(db.clone(), transport).deliver_due().await {
            Ok(report) => line.push_str(&msg::ingest_sent(
                report.sent,
                report.deferred,
                report.failed,
            )),
            // The reply is safely queued; a later run (or `serve`) sends it.
            Err(e) => tracing::warn!("outbox delivery failed: {e:#}"),
        }
    }
    db.close().await;
    Ok(line)
}
