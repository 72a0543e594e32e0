//! One module per subcommand: its arguments and the thin I/O layer that
//! calls into the library and prints results.

pub mod backup;
pub mod calendar;
pub mod check;
pub mod config_check;
pub mod file;
pub mod gmis;
pub mod imap;
pub mod ingest;
pub mod purge;
pub mod queue;
pub mod reader;
pub mod serve;
pub mod status;
pub mod template;
pub mod users;

use crate::messages::queue::cli as label;
use crate::validation::Finding;
use std::io::Write;

/// One finding as a line for people (`  [エラー] E31 在庫量「abc」: …`),
/// the same in `file` and `queue show`.
pub(crate) fn write_finding(out: &mut impl Write, finding: &Finding) -> std::io::Result<()> {
    let sev = if finding.is_error() {
        label::ERROR
    } else {
        label::WARNING
    };
    writeln!(
        out,
        "  [{sev}] {} {}「{}」: {}",
        finding.cell.as_deref().unwrap_or("-"),
        crate::messages::findings::field(finding),
        finding.value,
        crate::messages::findings::message(finding)
    )
}
