//! Wording of the workbooks we write: the findings sheet of the annotated
//! copy sent back with an error report, and the `template` command's output.

/// Printed by `sos-intake template` once the blank form is written.
pub fn template_written(path: &str) -> String {
    format!("緊急配布要請シート（空欄）を書き出しました: {path}")
}

/// Name of the first worksheet of an annotated copy, listing the findings.
pub const FINDINGS_SHEET: &str = "指摘事項";

/// Title row of the findings sheet.
pub const FINDINGS_TITLE: &str = "緊急配布要請シートの指摘事項（赤：エラー、黄：警告）";

/// Guidance under the title.
pub const FINDINGS_GUIDANCE: &str =
    "エラーのセルを修正のうえ、元のシートを再送してください。警告は確認のみで受け付けられます。";

/// Column headers of the findings table.
pub const FINDINGS_COLUMNS: [&str; 6] = ["シート", "セル", "重要度", "項目", "記入値", "指摘内容"];

/// The word shown for a severity.
pub fn severity_word(severity: crate::validation::Severity) -> &'static str {
    match severity {
        crate::validation::Severity::Error => "エラー",
        crate::validation::Severity::Warning => "警告",
    }
}

/// Shown in the findings sheet when there is nothing to report.
pub const NO_FINDINGS: &str = "指摘事項はありません。";

/// Author name of the notes attached to marked cells.
pub const NOTE_AUTHOR: &str = "sos-intake";

/// The words of the annotated copy (`sheet::annotate`), findings worded by
/// `messages::findings`.
pub const ANNOTATION: crate::sheet::annotate::Wording = crate::sheet::annotate::Wording {
    findings_sheet: FINDINGS_SHEET,
    title: FINDINGS_TITLE,
    guidance: FINDINGS_GUIDANCE,
    columns: FINDINGS_COLUMNS,
    no_findings: NO_FINDINGS,
    note_author: NOTE_AUTHOR,
};

/// A finding as the annotated copy shows it.
pub fn remark(finding: &crate::validation::Finding) -> crate::sheet::annotate::Remark {
    use crate::sheet::annotate::{Fill, Remark};
    use crate::validation::Severity;
    Remark {
        fill: match finding.severity {
            Severity::Error => Fill::Error,
            Severity::Warning => Fill::Warning,
        },
        cell: finding.cell.clone(),
        severity: severity_word(finding.severity).to_string(),
        field: super::findings::field(finding),
        value: finding.value.clone(),
        message: super::findings::message(finding),
    }
}
