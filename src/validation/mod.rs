//! Validation of a [`RequestSheet`](crate::sheet::RequestSheet) against the
//! rules of SPEC.md ("Validation"), institution part and prefecture part.
//!
//! The result is a typed request (what the queue files) and a list of
//! [`Finding`]s, each pointing at the cell at fault in the file as submitted.

pub mod institution;
pub mod items;
pub mod prefecture;
pub mod structure;

use crate::config::Config;
use crate::request::{Institution, Item, ItemLine};
use crate::sheet::{CellPos, RequestSheet, Seen};
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

/// What is being accepted right now (SPEC "accepted_items").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Items that may be requested; others get `item.not_accepted`.
    pub accepted_items: Vec<Item>,
}

impl Default for Policy {
    /// The latest manual (v1.09, 2026-05): 非滅菌手袋 only.
    fn default() -> Self {
        Policy {
            accepted_items: vec![Item::NonSterileGloves],
        }
    }
}

impl Policy {
    /// The policy of a configuration (`accepted_items`).
    pub fn from_config(config: &Config) -> anyhow::Result<Policy> {
        Ok(Policy {
            accepted_items: config.accepted_items()?,
        })
    }

    /// True when `item` may be requested.
    pub fn accepts(&self, item: Item) -> bool {
        self.accepted_items.contains(&item)
    }
}

/// The result of [`check`]: the typed request and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checked {
    /// The institution as understood (normalised where the value was valid,
    /// as written otherwise).
    pub institution: Institution,
    /// One line per item row of the institution table, in sheet order, with
    /// the prefecture's decision filled in (MHLW part empty).
    pub lines: Vec<ItemLine>,
    /// Every finding, in sheet order of the checks (institution block, item
    /// table, prefecture table, MHLW block).
    pub findings: Vec<Finding>,
}

impl Checked {
    /// True when any finding is an error (the sheet goes to エラー有り).
    pub fn has_errors(&self) -> bool {
        has_errors(&self.findings)
    }

    /// The lines whose item was requested (要請する).
    pub fn requested(&self) -> impl Iterator<Item = &ItemLine> {
        self.lines.iter().filter(|l| l.requested)
    }
}

/// Checks one worksheet against every rule of SPEC.md "Validation"
/// (institution part and prefecture part; mail-level checks belong to the
/// mail intake). Never fails: whatever cannot be read becomes a finding.
pub fn check(sheet: &RequestSheet, policy: &Policy) -> Checked {
    let mut findings = Vec::new();
    structure::check(sheet, &mut findings);
    let institution = institution::check(&sheet.institution, &mut findings);
    let mut lines = items::check(sheet, policy, &mut findings);
    prefecture::check(sheet, &mut lines, &mut findings);
    prefecture::check_mhlw(sheet, &mut findings);
    Checked {
        institution,
        lines,
        findings,
    }
}

/// A finding about the cell `seen`.
pub(crate) fn at(
    severity: Severity,
    code: &str,
    seen: &Seen,
    field: &str,
    message: String,
) -> Finding {
    Finding {
        severity,
        code: code.to_string(),
        cell: Some(seen.cell.a1()),
        field: field.to_string(),
        value: shown_value(seen),
        message,
    }
}

/// A finding about a cell (or none) with the value given.
pub(crate) fn at_cell(
    severity: Severity,
    code: &str,
    cell: Option<CellPos>,
    field: &str,
    value: &str,
    message: String,
) -> Finding {
    Finding {
        severity,
        code: code.to_string(),
        cell: cell.map(CellPos::a1),
        field: field.to_string(),
        value: value.to_string(),
        message,
    }
}

/// The value as shown in a finding: the text, or `=FORMULA` when a formula
/// left no value; long texts are shortened.
fn shown_value(seen: &Seen) -> String {
    if seen.is_blank()
        && let Some(f) = &seen.formula
    {
        return format!("={f}");
    }
    let text = seen.text.trim();
    if text.chars().count() > 200 {
        let cut: String = text.chars().take(200).collect();
        format!("{cut}…")
    } else {
        text.to_string()
    }
}
