//! `sos-intake reader` (hidden): one reader process of a
//! [`ReaderPool`](crate::readers::ReaderPool). It is started by the gateway,
//! never by hand: it speaks the framed protocol of
//! [`crate::readers::protocol`] on stdin/stdout until stdin closes.

use crate::readers::child::{self, ChildLimits};
use std::process::ExitCode;

/// Arguments of `sos-intake reader`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address-space limit in MiB (0: none).
    #[arg(long, default_value_t = 512)]
    pub memory_mb: u64,
    /// CPU seconds per request (0: none).
    #[arg(long, default_value_t = 20)]
    pub cpu_seconds: u64,
}

/// Runs the reader until its input closes. It reads no configuration file:
/// everything it needs comes from the gateway.
pub fn run(args: Args) -> ExitCode {
    let limits = ChildLimits {
        memory_mb: args.memory_mb,
        cpu_seconds: args.cpu_seconds,
    };
    match child::serve(limits) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reader: {e:#}");
            ExitCode::from(2)
        }
    }
}
