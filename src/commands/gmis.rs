//! `sos-intake gmis import FILE.csv`: file the G-MIS SOS export into the
//! queue beside the sheets. Each request (rows sharing a レコードID) is
//! created, updated (while not 受付完了) or left alone; its batch date comes
//! from 申請日時 by the configured cut-off rule; its institution is
//! remembered as G-MIS-registered. Bad rows are reported with their line
//! numbers and the rest is imported, all in one transaction.
//!
//! Exit code: 0 when every row was read, 1 when some rows were not, 2 when
//! the file is not a G-MIS export at all.

use crate::calendar::CutoffRule;
use crate::config::Settings;
use crate::gmis;
use crate::messages::queue::cli as label;
use crate::pipeline::gmis::file_requests;
use crate::queue::{Db, GmisChange, GmisImported};
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Subcommands of `sos-intake gmis`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Import the G-MIS SOS export (CSV; UTF-8 with or without BOM, or Shift_JIS).
    Import(ImportArgs),
}

/// Arguments of `sos-intake gmis import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The exported CSV file.
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,
    /// Who imports, for the history (default: cli:$USER).
    #[arg(long, value_name = "NAME")]
    pub actor: Option<String>,
    /// A JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(settings: &Settings, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Import(args) => import(settings, args).await,
    }
}

/// Reads the export and files every request, in one transaction.
/// Returns the parsed export (for its row errors) and what became of each
/// request.
pub async fn import_file(
    db: &Db,
    bytes: &[u8],
    rule: CutoffRule,
    actor: &str,
) -> anyhow::Result<Result<(gmis::GmisExport, Vec<GmisImported>), gmis::FileError>> {
    let export = match gmis::parse(bytes) {
        Ok(e) => e,
        Err(err) => return Ok(Err(err)),
    };
    let mut tx = db.begin().await?;
    let results = file_requests(&mut tx, &export, rule, actor).await?;
    tx.commit()
        .await
        .context("cannot commit the G-MIS import")?;
    Ok(Ok((export, results)))
}

async fn import(settings: &Settings, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let rule = settings.config.cutoff_rule()?;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let actor = args
        .actor
        .clone()
        .unwrap_or_else(super::file::default_actor);
    let db = Db::connect(&settings.database_url).await?;
    let result = import_file(&db, &bytes, rule, &actor).await;
    db.close().await;
    let (export, results) = match result? {
        Ok(done) => done,
        Err(err) => {
            eprintln!("■ {}: {err}", args.file.display());
            return Ok(ExitCode::from(2));
        }
    };
    let n = |c: GmisChange| results.iter().filter(|r| r.change == c).count();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        let doc = serde_json::json!({
            "file": args.file.display().to_string(),
            "encoding": export.encoding,
            "rows": export.rows,
            "footer_line": export.footer_line,
            "requests": results,
            // Each row error as it always printed: line, ID, sentence.
            "errors": export
                .errors
                .iter()
                .map(|e| serde_json::json!({
                    "line": e.line,
                    "record_id": e.record_id,
                    "message": crate::messages::gmis_csv::row_error(e),
                }))
                .collect::<Vec<_>>(),
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{}",
            label::gmis_summary(
                n(GmisChange::Created),
                n(GmisChange::Updated),
                n(GmisChange::Unchanged),
                n(GmisChange::KeptCompleted),
                export.errors.len()
            )
        )?;
        for r in &results {
            writeln!(out, "  {} {}", r.receipt, label::gmis_change(r.change))?;
        }
        for e in &export.errors {
            writeln!(
                out,
                "  {}",
                label::gmis_row_error(
                    e.line,
                    e.record_id.as_deref(),
                    &crate::messages::gmis_csv::row_error(e),
                )
            )?;
        }
    }
    Ok(if export.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
