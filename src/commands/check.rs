//! `sos-intake check [--json] FILE...`: read and validate request sheets and
//! report the findings, one report (or JSON line) per form found.
//!
//! Exit code: 0 when no file has errors (warnings are fine), 1 when some file
//! has errors, 2 when some file could not be read as a request sheet at all.
//!
//! Files are read by reader processes (see [`crate::readers`]), so a hostile
//! file that crashes or exhausts a parser is reported as unreadable and the
//! remaining files are still checked.

use crate::config::Settings;
use crate::messages::findings::report;
use crate::readers::ReaderPool;
use crate::sheet::ReadError;
use crate::validation::{Checked, Policy, Severity, check};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `sos-intake check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// One JSON object per form found, one per line.
    #[arg(long)]
    pub json: bool,
    /// The sheets (.xlsx, .xlsm, .xls, .ods).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// What became of one file.
enum Outcome {
    /// The file was read; one entry per worksheet holding the form.
    Forms(Vec<(String, Checked)>),
    /// The file could not be read as a request sheet.
    Unreadable { code: &'static str, message: String },
}

/// Runs the command.
pub fn run(settings: &Settings, readers: &ReaderPool, args: Args) -> anyhow::Result<ExitCode> {
    let policy = Policy::from_config(&settings.config)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut worst = 0u8;
    for file in &args.files {
        let outcome = check_file(file, readers, &policy);
        worst = worst.max(match &outcome {
            Outcome::Unreadable { .. } => 2,
            Outcome::Forms(forms) if forms.iter().any(|(_, c)| c.has_errors()) => 1,
            Outcome::Forms(_) => 0,
        });
        if args.json {
            write_json(&mut out, file, &outcome)?;
        } else {
            write_human(&mut out, file, &outcome)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::from(worst))
}

fn check_file(path: &Path, readers: &ReaderPool, policy: &Policy) -> Outcome {
    let too_big = std::fs::metadata(path)
        .is_ok_and(|m| m.len() > crate::sheet::reader::MAX_INPUT_BYTES as u64);
    if too_big {
        let err = ReadError::TooLarge("file".into());
        return Outcome::Unreadable {
            code: err.code(),
            message: crate::messages::findings::read_error(&err),
        };
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return Outcome::Unreadable {
                code: "io",
                message: crate::messages::findings::io_error(&e.to_string()),
            };
        }
    };
    let read = match readers.read_workbook(&bytes) {
        Ok(read) => read,
        Err(failure) => {
            return Outcome::Unreadable {
                code: failure.code(),
                message: crate::messages::readers::check_unreadable(&failure),
            };
        }
    };
    match read {
        Ok(book) => Outcome::Forms(
            book.forms
                .iter()
                .map(|f| (f.sheet.clone(), check(f, policy)))
                .collect(),
        ),
        Err(err) => Outcome::Unreadable {
            code: err.code(),
            message: crate::messages::findings::read_error(&err),
        },
    }
}

fn status(checked: &Checked) -> &'static str {
    if checked.has_errors() { "errors" } else { "ok" }
}

fn write_json(out: &mut impl Write, file: &Path, outcome: &Outcome) -> anyhow::Result<()> {
    let file = file.display().to_string();
    match outcome {
        Outcome::Unreadable { code, message } => {
            let line = json!({
                "file": file,
                "sheet": null,
                "status": "unreadable",
                "reason": { "code": code, "message": message },
                "institution": null,
                "items": [],
                "findings": [],
            });
            writeln!(out, "{line}")?;
        }
        Outcome::Forms(forms) => {
            for (sheet, checked) in forms {
                let line = json!({
                    "file": file,
                    "sheet": sheet,
                    "status": status(checked),
                    "institution": checked.institution,
                    "items": checked.lines,
                    "findings": checked
                        .findings
                        .iter()
                        .map(crate::messages::findings::plain)
                        .collect::<Vec<_>>(),
                });
                writeln!(out, "{line}")?;
            }
        }
    }
    Ok(())
}

fn write_human(out: &mut impl Write, file: &Path, outcome: &Outcome) -> anyhow::Result<()> {
    let file = file.display();
    match outcome {
        Outcome::Unreadable { code, message } => {
            writeln!(out, "■ {file}: {}（{code}）", report::UNREADABLE)?;
            writeln!(out, "  {message}")?;
        }
        Outcome::Forms(forms) => {
            for (sheet, checked) in forms {
                let errors = checked.findings.iter().filter(|f| f.is_error()).count();
                let warnings = checked.findings.len() - errors;
                let verdict = if errors > 0 {
                    report::HAS_ERRORS
                } else {
                    report::OK
                };
                writeln!(
                    out,
                    "■ {file} [{}: {sheet}]: {verdict}（{} {errors}件・{} {warnings}件）",
                    report::SHEET,
                    report::ERROR,
                    report::WARNING
                )?;
                let inst = &checked.institution;
                let pref = inst.prefecture.map(|p| p.name()).unwrap_or("");
                writeln!(
                    out,
                    "  {}: {} {} {}",
                    report::INSTITUTION,
                    inst.name,
                    inst.code,
                    pref
                )?;
                for line in checked.requested() {
                    let total = line
                        .prefecture
                        .total_quantity
                        .map(|t| t.to_string())
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "  {}: {} {} {total}",
                        report::REQUESTED,
                        line.item.label(),
                        report::TOTAL
                    )?;
                }
                for f in &checked.findings {
                    let severity = match f.severity {
                        Severity::Error => report::ERROR,
                        Severity::Warning => report::WARNING,
                    };
                    writeln!(
                        out,
                        "  [{severity}] {} {}「{}」: {} ({})",
                        f.cell.as_deref().unwrap_or("-"),
                        crate::messages::findings::field(f),
                        f.value,
                        crate::messages::findings::message(f),
                        f.code
                    )?;
                }
            }
        }
    }
    Ok(())
}
