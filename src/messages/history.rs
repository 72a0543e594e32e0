//! The history of a request as sentences (issue 13.7): each audit row's
//! stored JSON detail read back into one Japanese sentence, with dates and
//! quantities in the style of the mails (`2026年11月25日（水）`, `4,000`).
//! Unknown rows (added by other modules) list their plain values, never raw
//! JSON.

use crate::request::Item;
use serde_json::Value;

/// The history's action words.
pub fn action_label(action: &str) -> &'static str {
    match action {
        "filed" => "受付（シート）",
        "superseded" => "差し替え",
        "refused_completed" => "受付完了済みのため不可",
        "gmis_imported" => "G-MIS取込",
        "gmis_updated" => "G-MIS更新",
        "decided" => "判断",
        "completed" => "受付完了",
        "batch_moved" => "対応日変更",
        "naiji_queued" => "内示メール送信予約",
        "naiji_not_sent" => "内示メール送信先なし",
        "signin_succeeded" => "ログイン",
        "signin_failed" => "ログイン失敗",
        "account_created" => "アカウント追加",
        "account_disabled" => "アカウント無効化",
        "account_enabled" => "アカウント有効化",
        "account_role_changed" => "権限変更",
        "account_password_issued" => "一時パスワード発行",
        "account_password_changed" => "パスワード変更",
        "gmis_file_imported" => "G-MIS取込（ブラウザ）",
        "address_completed" => "住所の補完",
        "retention_purged" => "保持期間経過による削除",
        _ => "その他",
    }
}

/// One sentence for a history row.
pub fn sentence(action: &str, d: &Value) -> String {
    match action {
        "filed" => filed(d, false),
        "refused_completed" => filed(d, true),
        "superseded" => format!(
            "新しいシート（受付番号 {}）に差し替えられました。",
            text(&d["superseded_by"])
        ),
        "gmis_imported" => format!(
            "G-MIS（レコードID {}）から取り込み、{}分に入れました（{}）。",
            text(&d["gmis_record_id"]),
            date(&d["batch_date"]),
            text(&d["status"])
        ),
        "gmis_updated" => gmis_updated(d),
        "decided" => decided(d),
        "completed" => format!(
            "受付完了にしました（{} → {}）。",
            text(&d["status"]["from"]),
            text(&d["status"]["to"])
        ),
        "batch_moved" => format!(
            "対応日を{}分から{}分に変更しました。",
            date(&d["batch_date"]["from"]),
            date(&d["batch_date"]["to"])
        ),
        "naiji_queued" => format!(
            "内示メールを {} 宛てに送信キューに入れました。",
            text(&d["to"])
        ),
        "naiji_not_sent" => format!(
            "{}の送信先が登録されていないため、内示メールは送っていません。",
            text(&d["prefecture"])
        ),
        "signin_succeeded" => format!("{}からログインしました。", text(&d["client"])),
        "signin_failed" => format!(
            "{}からのログインに失敗しました（パスワード違い、または存在しない・無効なアカウント）。",
            text(&d["client"])
        ),
        "account_created" => format!(
            "アカウント「{}」（{}）を追加し、一時パスワードを発行しました。",
            text(&d["account"]),
            role(&d["role"])
        ),
        "account_disabled" => format!("アカウント「{}」を無効にしました。", text(&d["account"])),
        "account_enabled" => format!("アカウント「{}」を有効にしました。", text(&d["account"])),
        "account_role_changed" => format!(
            "アカウント「{}」の権限を{}から{}に変更しました。",
            text(&d["account"]),
            role(&d["role"]["from"]),
            role(&d["role"]["to"])
        ),
        "account_password_issued" => format!(
            "アカウント「{}」に一時パスワードを発行しました。",
            text(&d["account"])
        ),
        "account_password_changed" => "自分のパスワードを変更しました。".to_string(),
        "address_completed" => format!(
            "配送先の住所を「〒{} {}」にしました。",
            text(&d["postcode"]["to"]),
            text(&d["address"]["to"])
        ),
        "retention_purged" => retention_purged(d),
        _ => plain_values(d),
    }
}

/// What a retention purge removed from a 受付完了 request (`[retention]`).
fn retention_purged(d: &Value) -> String {
    if d.get("personal_fields").is_some() {
        "保持期間を過ぎたため、担当者名・電話番号などの個人情報を削除しました。".to_string()
    } else if d.get("raw_mail").is_some() {
        "保持期間を過ぎたため、受信したメールの原本と添付ファイルを削除しました。".to_string()
    } else {
        "保持期間を過ぎたため、受信した添付ファイルを削除しました。".to_string()
    }
}

fn role(v: &Value) -> &'static str {
    match v.as_str() {
        Some("admin") => "管理者",
        Some("reviewer") => "審査担当",
        _ => "",
    }
}

fn filed(d: &Value, refused: bool) -> String {
    let mut file = text(&d["attachment_name"]);
    let sheet = text(&d["sheet_name"]);
    if !sheet.is_empty() {
        file = format!("{file}／{sheet}");
    }
    let what = if file.is_empty() {
        "シート".to_string()
    } else {
        format!("シート「{file}」")
    };
    let mut out = if refused {
        format!(
            "{what}を受信しましたが、同じ医療機関・物品が{}分で受付完了済みのため受け付けていません。",
            date(&d["batch_date"])
        )
    } else {
        format!(
            "{what}を受け付け、{}分に入れました（{}）。",
            date(&d["batch_date"]),
            text(&d["status"])
        )
    };
    let replaced: Vec<String> = d["supersedes"]
        .as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default();
    if !replaced.is_empty() {
        out.push_str(&format!("{} を差し替えました。", replaced.join("、")));
    }
    out
}

fn gmis_updated(d: &Value) -> String {
    let changes: Vec<String> = [
        ("status", "対応ステータス"),
        ("received_at", "申請日時"),
        ("requested_items", "物資"),
        ("batch_date", "対応日"),
    ]
    .iter()
    .filter(|(key, _)| d[*key]["from"] != d[*key]["to"])
    .map(|(key, label)| {
        format!(
            "{label}「{}」→「{}」",
            text(&d[*key]["from"]),
            text(&d[*key]["to"])
        )
    })
    .collect();
    if changes.is_empty() {
        "G-MISの新しいエクスポートで内容が更新されました。".to_string()
    } else {
        format!(
            "G-MISの新しいエクスポートで更新されました（{}）。",
            changes.join("、")
        )
    }
}

fn decided(d: &Value) -> String {
    let item = d["item"]
        .as_str()
        .and_then(Item::parse)
        .map(|i| i.label())
        .unwrap_or("物品");
    let to = &d["to"];
    match to["approved"].as_bool() {
        Some(true) => format!(
            "{item}を承認しました（配布数 {}枚、送付日 {}）。",
            super::mail::quantity(to["quantity"].as_i64()),
            date(&to["ship_date"])
        ),
        Some(false) => format!(
            "{item}を不承認にしました（理由：{}）。",
            text(&to["reason"])
        ),
        None => format!("{item}の判断を未判断に戻しました。"),
    }
}

/// A JSON string as text; numbers as written; anything else empty.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// A stored `YYYY-MM-DD` as `2026年11月25日（水）` (as stored when unreadable).
fn date(v: &Value) -> String {
    let t = text(v);
    chrono::NaiveDate::parse_from_str(&t, "%Y-%m-%d")
        .map(super::calendar::date)
        .unwrap_or(t)
}

/// An unknown row's plain values, `key：value` joined; nested values and
/// nulls are left out.
fn plain_values(d: &Value) -> String {
    d.as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| {
                    let t = text(v);
                    (!t.is_empty()).then(|| format!("{k}：{t}"))
                })
                .collect::<Vec<_>>()
                .join("、")
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn history_reads_as_sentences() {
        let d = json!({"item": "non_sterile_gloves", "to": {"approved": true, "quantity": 4000, "ship_date": "2026-11-25"}});
        assert_eq!(
            sentence("decided", &d),
            "非滅菌手袋を承認しました（配布数 4,000枚、送付日 2026年11月25日（水））。"
        );
        let d = json!({"item": "n95_mask", "to": {"approved": false, "reason": "在庫十分"}});
        assert_eq!(
            sentence("decided", &d),
            "N95マスクを不承認にしました（理由：在庫十分）。"
        );
        let d = json!({"batch_date": {"from": "2026-11-20", "to": "2026-11-19"}});
        assert_eq!(
            sentence("batch_moved", &d),
            "対応日を2026年11月20日（金）分から2026年11月19日（木）分に変更しました。"
        );
        let d = json!({"receipt": "SOS-1", "status": "都道府県・国確認中", "batch_date": "2026-11-20",
            "attachment_name": "forwarded.eml/受付.zip/要請.xlsx", "sheet_name": "様式", "supersedes": []});
        let s = sentence("filed", &d);
        assert_eq!(
            s,
            "シート「forwarded.eml/受付.zip/要請.xlsx／様式」を受け付け、2026年11月20日（金）分に入れました（都道府県・国確認中）。"
        );
        assert!(!s.contains('{'));
    }

    #[test]
    fn unknown_rows_show_plain_values_not_json() {
        let d = json!({"outbox_id": 3, "nested": {"a": 1}, "none": null});
        assert_eq!(sentence("x", &d), "outbox_id：3");
        assert_eq!(sentence("x", &Value::Null), "");
    }
}
