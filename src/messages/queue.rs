//! Wording of the queue: findings the queue adds when filing, refusals of
//! staff actions, and the CLI's listing labels.

use crate::request::Item;

// The queue's finding codes are the queue's own facts; named here too for
// the callers that word them.
pub use crate::queue::filing::{COMPLETED_EXISTS_CODE, GMIS_REGISTERED_CODE, SUPERSEDES_CODE};

/// The sheet names an institution registered in G-MIS (sentence of
/// `queue.gmis_registered`, worded through `messages::findings`).
pub(crate) fn gmis_registered(code: &str) -> String {
    format!(
        "医療機関コード {code} はG-MIS登録済みの医療機関です。このシートはG-MIS未登録医療機関用です。G-MISから申請してください。"
    )
}

/// A 受付完了 record already exists for the same institution and items in
/// the same batch.
pub(crate) fn completed_exists(receipts: &[String], items: &[Item], batch_date: &str) -> String {
    format!(
        "同じ医療機関・物品（{}）の要請は対応日 {batch_date} 分として受付完了済みです（受付番号 {}）。このシートは受け付けられません。変更が必要な場合は厚生労働省にご連絡ください。",
        item_labels(items),
        receipts.join("、")
    )
}

/// This sheet replaces earlier ones for the same institution and items.
pub(crate) fn supersedes(receipts: &[String]) -> String {
    format!(
        "同じ医療機関・物品の先の要請（受付番号 {}）をこのシートで差し替えました。",
        receipts.join("、")
    )
}

fn item_labels(items: &[Item]) -> String {
    items
        .iter()
        .map(|i| i.label())
        .collect::<Vec<_>>()
        .join("、")
}

/// No record with this id or receipt number.
pub fn not_found(key: &str) -> String {
    format!("要請 {key} が見つかりません。")
}

/// The record is 受付完了 and can no longer change.
pub fn completed(receipt: &str) -> String {
    format!("要請 {receipt} は受付完了のため変更できません。")
}

/// The record is not under review (e.g. エラー有り).
pub fn not_in_review(receipt: &str, status: &str) -> String {
    format!(
        "要請 {receipt} は「{status}」のため、判断・受付完了はできません（都道府県・国確認中の要請のみ）。"
    )
}

/// The record was replaced by a newer sheet.
pub fn superseded(receipt: &str, by: &str) -> String {
    format!("要請 {receipt} は {by} に差し替えられたため変更できません。")
}

/// The item is not part of the request.
pub fn item_not_in_request(receipt: &str, item: Item) -> String {
    format!(
        "要請 {receipt} に物品「{}」の行はありません。",
        item.label()
    )
}

/// Some requested items have no complete MHLW decision yet.
pub fn undecided(receipt: &str, items: &[Item]) -> String {
    format!(
        "要請 {receipt} は未決定の物品があるため受付完了にできません: {}（承認なら配布数と送付日、不承認なら理由が必要です）。",
        item_labels(items)
    )
}

/// A decision that does not make sense (negative quantity…).
pub fn invalid_decision(detail: &str) -> String {
    format!("判断の内容が正しくありません: {detail}")
}

/// The refusal or failure of a queue action, as shown to staff.
impl std::fmt::Display for crate::queue::QueueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::queue::{BadDecision, QueueError};
        let text = match self {
            QueueError::NotFound(key) => not_found(key),
            QueueError::Completed { receipt } => completed(receipt),
            QueueError::NotInReview { receipt, status } => not_in_review(receipt, status),
            QueueError::Superseded { receipt, by } => superseded(receipt, by),
            QueueError::ItemNotInRequest { receipt, item } => item_not_in_request(receipt, *item),
            QueueError::Undecided { receipt, items } => undecided(receipt, items),
            QueueError::InvalidDecision(bad) => invalid_decision(match bad {
                BadDecision::NegativeQuantity => NEGATIVE_QUANTITY,
                BadDecision::RefusalWithoutReason => REFUSAL_NEEDS_REASON,
            }),
            QueueError::ReasonRequired => MOVE_NEEDS_REASON.to_string(),
            // Transparent: the underlying error as it reports itself.
            QueueError::Internal(err) => return std::fmt::Display::fmt(err, f),
        };
        f.write_str(&text)
    }
}

/// Detail for [`invalid_decision`]: negative quantity.
pub const NEGATIVE_QUANTITY: &str = "配布数は0以上の整数で入力してください。";
/// Detail for [`invalid_decision`]: refusal without a reason.
pub const REFUSAL_NEEDS_REASON: &str = "不承認の場合は理由を入力してください。";

/// A batch move without a reason.
pub const MOVE_NEEDS_REASON: &str = "対応日を変更する理由を入力してください。";

/// Column headers of `sos-intake queue list`.
pub const LIST_HEADER: [&str; 8] = [
    "ID",
    "受付番号",
    "対応日",
    "状態",
    "種別",
    "都道府県",
    "医療機関",
    "物品",
];

/// The footer of `sos-intake queue list`: shown / total.
pub fn list_footer(shown: usize, total: i64) -> String {
    format!("{shown}件表示 / 全{total}件")
}

/// Label for a superseded record in listings.
pub fn superseded_mark(by: &str) -> String {
    format!("（{by} に差替）")
}

/// Finding code: the sheet's 都道府県 is not the filing prefecture's.
pub const PREFECTURE_MISMATCH_CODE: &str =
    crate::validation::FiledBy::Hand.prefecture_mismatch_code();

/// The sheet names another prefecture than the one filing it (sentence of
/// `queue.prefecture_mismatch`, worded through `messages::findings`).
pub(crate) fn prefecture_mismatch(on_sheet: &str, filer: &str) -> String {
    format!("シートの都道府県（{on_sheet}）が提出元の都道府県（{filer}）と一致しません。")
}

/// Labels of `sos-intake file` and `sos-intake queue show`.
pub mod cli {
    /// 受付番号.
    pub const RECEIPT: &str = "受付番号";
    /// 状態.
    pub const STATUS: &str = "状態";
    /// 対応日.
    pub const BATCH_DATE: &str = "対応日";
    /// 受付日時.
    pub const RECEIVED_AT: &str = "受付日時";
    /// 種別.
    pub const SOURCE: &str = "種別";
    /// 都道府県.
    pub const PREFECTURE: &str = "都道府県";
    /// 医療機関.
    pub const INSTITUTION: &str = "医療機関";
    /// 物品.
    pub const ITEMS: &str = "物品";
    /// 指摘.
    pub const FINDINGS: &str = "指摘";
    /// エラー.
    pub const ERROR: &str = "エラー";
    /// 警告.
    pub const WARNING: &str = "警告";
    /// 過去の緊急配布（受付完了・承認済み）.
    pub const EARLIER: &str = "過去の緊急配布（受付完了・承認済み）";
    /// 差替えた受付番号.
    pub const SUPERSEDES: &str = "差し替えた要請";
    /// 差替え先.
    pub const SUPERSEDED_BY: &str = "差し替え先";
    /// 履歴.
    pub const HISTORY: &str = "履歴";
    /// 元のメール・添付.
    pub const RAW: &str = "元のメール・添付";
    /// 都道府県の判断.
    pub const PREFECTURE_DECISION: &str = "都道府県";
    /// 厚労省の判断.
    pub const MHLW_DECISION: &str = "厚労省";
    /// Already filed before: nothing changed.
    pub const ALREADY_FILED: &str = "（登録済みの同じシートです。変更はありません）";
    /// Refused because 受付完了 exists.
    pub const REFUSED: &str = "（受付完了済みの要請があるため受け付けません）";
    /// The file could not be read as a sheet.
    pub const UNREADABLE: &str = "シートとして読み取れません";
    /// G-MIS import summary.
    pub fn gmis_summary(
        created: usize,
        updated: usize,
        unchanged: usize,
        kept: usize,
        bad_rows: usize,
    ) -> String {
        format!(
            "G-MIS取込: 新規 {created}件・更新 {updated}件・変更なし {unchanged}件・受付完了のため据置 {kept}件・読めない行 {bad_rows}件"
        )
    }
    /// What an import did to one request.
    pub fn gmis_change(change: crate::queue::GmisChange) -> &'static str {
        match change {
            crate::queue::GmisChange::Created => "新規",
            crate::queue::GmisChange::Updated => "更新",
            crate::queue::GmisChange::Unchanged => "変更なし",
            crate::queue::GmisChange::KeptCompleted => "受付完了のため据置",
        }
    }
    /// A bad G-MIS row.
    pub fn gmis_row_error(line: usize, record_id: Option<&str>, message: &str) -> String {
        match record_id {
            Some(id) => format!("{line}行目（レコードID {id}）: {message}"),
            None => format!("{line}行目: {message}"),
        }
    }
    /// 在庫 (stock on the previous day).
    pub const STOCK: &str = "在庫";
    /// 週消費 (expected weekly use).
    pub const WEEKLY_USE: &str = "週消費";
    /// 週購入 (expected weekly purchase).
    pub const WEEKLY_PURCHASE: &str = "週購入";
    /// 県 (prefecture's quantity).
    pub const PREFECTURE_QUANTITY: &str = "県";
    /// 国 (national quantity).
    pub const NATIONAL_QUANTITY: &str = "国";
    /// 計 (total quantity).
    pub const TOTAL_QUANTITY: &str = "計";
    /// 要 / 否.
    pub fn need(n: crate::request::Need) -> &'static str {
        match n {
            crate::request::Need::Needed => "要",
            crate::request::Need::NotNeeded => "否",
        }
    }
    /// Approved / refused / open.
    pub fn approval(approved: Option<bool>) -> &'static str {
        match approved {
            Some(true) => "承認",
            Some(false) => "不承認",
            None => "未決定",
        }
    }
}

/// A command-line value that could not be read (`what`: 都道府県, 状態…).
pub fn bad_argument(what: &str, value: &str, expected: &str) -> String {
    format!("{what}「{value}」を読み取れません（{expected}）。")
}
/// Expected form of a date argument.
pub const EXPECTED_DATE: &str = "YYYY-MM-DD";
/// Expected form of a time argument.
pub const EXPECTED_TIME: &str = "RFC 3339、例: 2026-11-20T10:15:00+09:00";
/// Expected prefecture.
pub const EXPECTED_PREFECTURE: &str = "47都道府県のいずれか";
/// Expected status.
pub const EXPECTED_STATUS: &str = "未申請・エラー有り・都道府県・国確認中・受付完了";
/// Expected source.
pub const EXPECTED_SOURCE: &str = "g-mis または sheet";
/// Expected item.
pub const EXPECTED_ITEM: &str = "物品名またはコード（non_sterile_gloves など）";
