//! Validation of a [`RequestSheet`](crate::sheet::RequestSheet) against the
//! rules of SPEC.md ("Validation"), institution part and prefecture part.
//!
//! The result is a typed request (what the queue files) and a list of
//! [`Finding`]s, each pointing at the cell at fault in the file as submitted.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Stops the sheet from entering review.
    Error,
    /// Goes through, but is shown to staff and in the acknowledgement.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in a submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// `error` or `warning`.
    pub severity: Severity,
    /// A stable machine code, e.g. `institution.code.format`.
    pub code: String,
    /// The A1 reference of the cell at fault in the file as submitted;
    /// `None` for findings about the mail or the queue, not a cell.
    pub cell: Option<String>,
    /// The field's Japanese label, e.g. `医療機関コード`.
    pub field: String,
    /// The value as seen (empty when blank).
    pub value: String,
    /// Japanese: what is wrong and what is expected.
    pub message: String,
}

impl Finding {
    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// True when any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(Finding::is_error)
}
