//! `sos-intake template`: writes the blank 緊急配布要請シート.

use crate::config::Settings;
use crate::messages::workbook as msg;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sos-intake template`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the blank form (.xlsx).
    #[arg(value_name = "OUT.xlsx")]
    pub out: PathBuf,
}

/// Runs the command.
pub fn run(_settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let bytes = crate::sheet::template::template().context("building the blank form")?;
    std::fs::write(&args.out, bytes).with_context(|| format!("writing {}", args.out.display()))?;
    println!("{}", msg::template_written(&args.out.display().to_string()));
    Ok(ExitCode::SUCCESS)
}
