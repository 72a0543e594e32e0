//! Wording of the replies: subjects, the short phrases the reply templates
//! (`templates/mail/*.txt`) are filled with, and the names of files we send
//! back. The bodies themselves are the templates.

/// The tag put before the original subject of every reply.
const SUBJECT_TAG: &str = "【緊急配布要請シート】";

/// The subject of a reply: what happened, the receipt numbers, then the
/// original subject so the official's mail client threads it.
pub fn subject(status: &str, receipts: &[String], original: Option<&str>) -> String {
    let what = match status {
        "accepted" => "受付しました",
        "partial" => "一部受付（要再送あり）",
        "rejected" => "受付できませんでした（要再送）",
        _ => "受付保留",
    };
    let mut s = format!("{SUBJECT_TAG}{what}");
    if !receipts.is_empty() {
        s.push_str(&format!(" 受付番号 {}", receipts.join(", ")));
    }
    let original = original.map(str::trim).filter(|o| !o.is_empty());
    if let Some(o) = original {
        s.push_str(&format!(" (Re: {})", strip_reply_prefixes(o)));
    }
    s
}

/// `Re: RE: Fw: 件名` → `件名` (so a long thread does not pile prefixes up).
fn strip_reply_prefixes(subject: &str) -> &str {
    let mut s = subject.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        let cut = ["re:", "re：", "fw:", "fwd:", "ｒｅ：", "転送:", "返信:"]
            .iter()
            .find(|p| lower.starts_with(&p.to_ascii_lowercase()))
            .map(|p| p.len());
        match cut {
            Some(n) if s.is_char_boundary(n) => s = s[n..].trim_start(),
            _ => return s,
        }
    }
}

/// The file name of the annotated copy of `original` sent back.
pub fn annotated_file_name(original: &str) -> String {
    let base = original.rsplit('/').next().unwrap_or(original);
    let stem = base
        .rsplit_once('.')
        .map(|(s, _)| s)
        .filter(|s| !s.is_empty())
        .unwrap_or(base);
    format!("{stem}_指摘箇所.xlsx")
}

/// The name used for an attachment that came without one.
pub const UNNAMED_FILE: &str = "（名前のない添付ファイル）";

/// A `winmail.dat` from which no file could be taken out: how to switch
/// Outlook from rich text to HTML or plain text (the paths of Outlook 2016
/// and later, Japanese UI). Continuation lines are indented like the
/// template's per-file line.
pub const TNEF_UNREADABLE: &str = "Outlookの「リッチテキスト形式」で送信されたため、添付ファイルが winmail.dat にまとめられ、中のファイルを取り出せませんでした。
  お手数ですが、次のいずれかの設定でHTML形式またはテキスト形式に切り替え、シートを添付し直して再送してください。
  ・すべてのメール：［ファイル］＞［オプション］＞［メール］の「メッセージの作成」で「次の形式でメッセージを作成する」を「HTML形式」（または「テキスト形式」）にし、
    同じ画面の「メッセージ形式」で「リッチテキスト形式のメッセージをインターネットの受信者に送信する場合」を「HTML形式に変換する」にする。
  ・このメールだけ：作成画面の［書式設定］タブで「HTML」または「テキスト」を選ぶ。
  ・このあて先だけ：宛先のアドレスを右クリック（またはダブルクリック）して開くプロパティで、「インターネット形式」を「プレーンテキストのみ送信」（または「Outlookの既定の設定に従う」）にする。";

/// Why a file was not read (templates print it per file; one line, except
/// [`TNEF_UNREADABLE`]).
pub fn file_problem(kind: &str) -> &'static str {
    match kind {
        "encrypted" => {
            "パスワード付きのファイル（または暗号化されたZIP）のため開けませんでした。パスワードを設定せずに再送してください。（パスワードを別メールで送る方法は不要です）"
        }
        "too_large" => "ファイルが大きすぎるため受け付けられませんでした。",
        "unreadable" => "ファイルが壊れているか、読み取れない形式のため開けませんでした。",
        "no_form" => {
            "緊急配布要請シートの様式が見つかりませんでした。所定の様式（Excel）に記入して再送してください。"
        }
        "unsupported" => {
            "受付対象外のファイル形式です（.xlsx / .xlsm / .xls / .ods、またはそれらを含むZIPのみ受け付けます）。"
        }
        "tnef" => TNEF_UNREADABLE,
        "smime" => {
            "電子署名（S/MIME）が本文と一体になった形式、または暗号化されたメールのため、添付ファイルを取り出せませんでした。署名なし・暗号化なしで再送するか、署名する場合はクリア テキスト署名で送ってください（Outlook：［ファイル］＞［オプション］＞［トラスト センター］＞［トラスト センターの設定］＞［電子メールのセキュリティ］で「クリア テキストで署名付きメッセージを送信する」をオン）。"
        }
        _ => "ファイルを処理できませんでした。",
    }
}

/// Words for the sheet's state in an acknowledgement.
pub fn sheet_state(accepted: bool, refused_because_completed: bool) -> &'static str {
    match (accepted, refused_because_completed) {
        (_, true) => "受付不可（同じ対応日の受付完了済みの要請があります）",
        (true, false) => "受付（都道府県・国確認中）",
        (false, false) => "エラーあり（要修正・再送）",
    }
}

/// A quantity for the reply: `1,200` or `（空欄）`.
pub fn quantity(q: Option<i64>) -> String {
    match q {
        None => "（空欄）".to_string(),
        Some(n) => {
            let digits = n.unsigned_abs().to_string();
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(c);
            }
            if n < 0 { format!("-{out}") } else { out }
        }
    }
}

/// A time for the reply, in JST: `2026年11月21日 13:05`.
pub fn received_at(at: chrono::DateTime<chrono::FixedOffset>) -> String {
    crate::base::time::in_jst(&at)
        .format("%Y年%-m月%-d日 %H:%M")
        .to_string()
}

/// The name shown when the whole message was too large to read.
pub const WHOLE_MESSAGE: &str = "（メール全体）";

/// The cut-off rule in one sentence, for the reply's footer.
pub fn cutoff_note(rule: &str) -> &'static str {
    match rule {
        "weekly-wed-17" => {
            "受付の締切：毎週水曜17時（休日の場合は翌営業日17時）までの受信分をまとめて対応します。"
        }
        _ => {
            "受付の締切：平日13時までの受信は当日分、13時以降および閉庁日の受信は翌営業日分として対応します。"
        }
    }
}

/// Why a quarantined mail was not processed (shown when we may answer).
pub const QUARANTINE_REASON: &str =
    "送信元のアドレスが、都道府県の登録アドレスとして登録されていません";

/// A mail-level finding: the sheet's 都道府県 is not the sender's prefecture.
pub fn prefecture_mismatch(sheet: &str, sender: &str) -> String {
    format!(
        "シートの都道府県（{sheet}）が送信元の都道府県（{sender}）と一致しません。自都道府県の医療機関のシートのみ送付してください。"
    )
}

/// The field name of the mail-level finding above.
pub const PREFECTURE_FIELD: &str = "都道府県";

/// The finding code of the mail-level finding above.
pub const PREFECTURE_MISMATCH_CODE: &str =
    crate::validation::FiledBy::Mail.prefecture_mismatch_code();

/// The finding code of a cell whose control characters were removed.
pub const CONTROL_CHARACTERS_CODE: &str = "sheet.control_characters";

/// The finding: control characters were removed from a cell.
pub const CONTROL_CHARACTERS: &str = "セルに制御文字（NUL など表示できない文字）が含まれていたため、取り除いて受け付けました。内容が意図どおりかご確認ください。";

/// `--received-at` could not be read.
pub fn bad_time(text: &str) -> String {
    format!("受信日時を読み取れません: {text:?}（例: 2026-11-20T12:59:00+09:00）")
}

/// `ingest` could not handle the message now; the MTA will retry.
pub fn ingest_temporary(detail: &str) -> String {
    format!("一時的な障害のため処理できませんでした（再送されます）: {detail}")
}

/// `ingest`'s one-line report.
pub fn ingest_outcome(disposition: &str, receipts: &[String], reply: &str) -> String {
    let what = match disposition {
        "accepted" => "受付",
        "partial" => "一部受付",
        "rejected" => "受付不可",
        "quarantined" => "隔離（未登録または未認証の送信元）",
        "ignored" => "自動送信メールのため対象外",
        "already_processed" => "処理済み（変更なし）",
        "unprocessable" => "処理不能（保留し、管理画面の「処理不能メール」に掲載）",
        _ => disposition,
    };
    let receipts = if receipts.is_empty() {
        String::new()
    } else {
        format!(" 受付番号 {}", receipts.join(", "))
    };
    let reply = if reply == "queued" {
        "返信を送信待ちに登録".to_string()
    } else {
        format!("返信なし: {reply}")
    };
    format!("{what}{receipts}（{reply}）")
}

/// What `ingest` delivered before exiting.
pub fn ingest_sent(sent: usize, deferred: usize, failed: usize) -> String {
    format!(" 送信 {sent}件・再試行待ち {deferred}件・失敗 {failed}件")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_has_receipts_and_the_original() {
        let s = subject(
            "accepted",
            &["SOS-20261121-000001".into()],
            Some("Re: RE: 緊急配布要請（東京都）"),
        );
        assert_eq!(
            s,
            "【緊急配布要請シート】受付しました 受付番号 SOS-20261121-000001 (Re: 緊急配布要請（東京都）)"
        );
        assert_eq!(
            subject("rejected", &[], None),
            "【緊急配布要請シート】受付できませんでした（要再送）"
        );
    }

    #[test]
    fn quantities_get_separators() {
        assert_eq!(quantity(Some(1_200)), "1,200");
        assert_eq!(quantity(Some(999)), "999");
        assert_eq!(quantity(Some(1_000_000)), "1,000,000");
        assert_eq!(quantity(None), "（空欄）");
    }

    #[test]
    fn annotated_names_keep_the_stem() {
        assert_eq!(
            annotated_file_name("要請シート.xls"),
            "要請シート_指摘箇所.xlsx"
        );
        assert_eq!(
            annotated_file_name("受付.zip/sheet.xlsx"),
            "sheet_指摘箇所.xlsx"
        );
    }
}
