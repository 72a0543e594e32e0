//! Wording of the queue: findings the queue adds when filing, refusals of
//! staff actions, and the CLI's listing labels.

use crate::request::Item;

/// Finding code: the institution is registered in G-MIS.
pub const GMIS_REGISTERED_CODE: &str = "queue.gmis_registered";
/// Finding code: the same institution and item are already 受付完了 in the batch.
pub const COMPLETED_EXISTS_CODE: &str = "queue.completed_exists";
/// Finding code: this sheet replaced earlier ones (a warning, for the record).
pub const SUPERSEDES_CODE: &str = "queue.supersedes";

/// Field label for findings about the institution as a whole.
pub const INSTITUTION_CODE_FIELD: &str = "医療機関コード";
/// Field label for findings about the items requested.
pub const ITEMS_FIELD: &str = "緊急配布要請";

/// The sheet names an institution registered in G-MIS.
pub fn gmis_registered(code: &str) -> String {
    format!(
        "医療機関コード {code} はG-MIS登録済みの医療機関です。このシートはG-MIS未登録医療機関用です。G-MISから申請してください。"
    )
}

/// A 受付完了 record already exists for the same institution and items in
/// the same batch.
pub fn completed_exists(receipts: &[String], items: &[Item], batch_date: &str) -> String {
    format!(
        "同じ医療機関・物品（{}）の要請は対応日 {batch_date} 分として受付完了済みです（受付番号 {}）。このシートは受け付けられません。変更が必要な場合は厚生労働省にご連絡ください。",
        item_labels(items),
        receipts.join("、")
    )
}

/// This sheet replaces earlier ones for the same institution and items.
pub fn supersedes(receipts: &[String]) -> String {
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
