//! Japanese wording of the G-MIS institution list upload (issue 13.8).

use crate::gmis_institutions::{FileError, RowError, RowProblem};

/// A file that is not an institution list.
pub fn file_error(e: FileError) -> String {
    match e {
        FileError::NoHeader => "医療機関リストとして読めません。1行目に「住所」と「医療機関コード」または「医療機関名」の列見出しが必要です。".into(),
    }
}

/// One row not used, with its line.
pub fn row_error(e: &RowError) -> String {
    let why = match e.problem {
        RowProblem::NoAddress => "住所が空欄のため使いません",
        RowProblem::NoCodeOrName => "医療機関コードも医療機関名も空欄のため使いません",
        RowProblem::Unreadable => "CSVとして読めないため、ここで読み込みを終えました",
    };
    format!("{}行目：{why}", e.line)
}

/// How a request was matched.
pub fn matched_by(by: crate::queue::addresses::MatchedBy) -> &'static str {
    match by {
        crate::queue::addresses::MatchedBy::Code => "医療機関コード",
        crate::queue::addresses::MatchedBy::Name => "医療機関名（同じ都道府県）",
    }
}

/// The result line after confirming.
pub fn done(completed: usize, skipped: usize) -> String {
    if skipped == 0 {
        format!("{completed}件の要請に配送先の住所を登録しました。")
    } else {
        format!(
            "{completed}件の要請に配送先の住所を登録しました。確認後に住所が入力された・受付完了になった{skipped}件はそのままにしました。"
        )
    }
}

/// The previewed file is gone (or the form was tampered with).
pub fn file_gone() -> &'static str {
    "確認したファイルが見つかりません。もう一度ファイルを選んでください。"
}
