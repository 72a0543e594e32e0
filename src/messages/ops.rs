//! Wording of the operations commands: `status`, `backup`, `restore`.

/// The heading of `status`: ready or not.
pub fn status_heading(ready: bool) -> &'static str {
    if ready {
        "ゲートウェイは稼働可能です（準備完了）。"
    } else {
        "ゲートウェイは準備ができていません。下の項目を確認してください。"
    }
}

/// `status` when the running gateway did not answer on its web address.
pub fn gateway_not_answering(url: &str, why: &str) -> String {
    format!("稼働中のゲートウェイが {url} で応答しません（{why}）。データベースのみ確認します。")
}

/// The Japanese name of a readiness check (`database`, `mailbox:…`,
/// `outbox`).
pub fn check_label(name: &str) -> String {
    match name.split_once(':') {
        Some(("mailbox", source)) => format!("メールボックス {source}"),
        _ => match name {
            "database" => "データベース".into(),
            "mailbox" => "メールボックス".into(),
            "outbox" => "返信の送信待ち".into(),
            other => other.into(),
        },
    }
}

/// One check line: label, verdict, detail (the detail is technical, kept
/// as the gateway reports it).
pub fn check_line(label: &str, ok: bool, detail: &str) -> String {
    let verdict = if ok { "正常" } else { "異常" };
    format!("  {label}: {verdict}（{detail}）")
}

/// A connection whose OAuth 2.0 token is failing, with the step in plain
/// words (the step name kept for searching the documentation).
pub fn token_failing(connection: &str, step: &str) -> String {
    let what = match step {
        "config" => "OAuth の設定に誤りがあります",
        "unreachable" => "アクセストークンを発行するサーバーに接続できません",
        "invalid_client" => {
            "アプリ（クライアント）が認められません（シークレット・証明書の誤り、期限切れ、取り消し）"
        }
        "not_permitted" => "アプリに権限がありません（管理者の同意・API のアクセス許可・委任）",
        "invalid_scope" => "要求したスコープが誤っています",
        "server_refused" => {
            "メールサーバーがアクセストークンを受け付けません（メールボックスの権限）"
        }
        _ => "アクセストークンを発行できません",
    };
    format!("  アクセストークン {connection}: 異常 — {what}（{step}）")
}

/// The counts line of `status`.
pub fn counts(queued: i64, failed: i64, quarantined: i64, dead: i64) -> String {
    format!(
        "  送信待ち {queued} 件・送信失敗 {failed} 件・隔離中 {quarantined} 件・処理不能 {dead} 件"
    )
}

/// `backup` finished.
pub fn backup_written(path: &str, bytes: u64) -> String {
    format!("バックアップを作成しました: {path}（{bytes} バイト）")
}

/// `backup` on PostgreSQL: the command the operator runs.
pub fn backup_pg_dump(command: &str) -> String {
    format!(
        "PostgreSQL のバックアップは pg_dump で作成します。次のコマンドを実行してください:\n{command}"
    )
}

/// `restore` finished.
pub fn restored(path: &str) -> String {
    format!("バックアップから復元しました: {path}")
}

/// `restore` refused: the data directory already holds a database.
impl std::fmt::Display for crate::ops::backup::TargetNotEmpty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "復元先 {} には既にデータベースがあります。空のデータディレクトリを指定してください。",
            self.0
        )
    }
}

/// The heading of `config check`'s listing.
pub const EFFECTIVE_CONFIG: &str = "有効な設定（設定ファイル・コマンドライン・環境変数を反映）:";

/// `config check` found nothing unsafe.
pub const CONFIG_SAFE: &str = "危険な設定は見つかりませんでした。";

/// `config check` could not open the database to look for demo passwords.
pub fn config_db_unchecked(why: &str) -> String {
    format!("注意: データベースを開けないため、デモ用パスワードの確認はできませんでした（{why}）。")
}

/// One warning of `config check`.
pub fn config_warning(w: &crate::ops::config_check::Warning) -> String {
    use crate::ops::config_check::Warning::*;
    let text = match w {
        SenderAuthOff => "[mail] sender_auth が off です。登録済みアドレスを詐称したメールも受け付けて返信します。[mail] authserv_id に当方 MTA の authserv-id を設定してください。".to_string(),
        WebPlainHttpOffLoopback(listen) => format!("管理画面が {listen} （ループバック以外）で HTTP のまま公開されています。TLS を終端するプロキシを前に置き、[web] secure_cookies = true を設定してください。"),
        DemoPassword(name) => format!("職員アカウント「{name}」がデモ用パスワードのままです。users add {name} でパスワードを変更してください。"),
        SmtpWithoutTls => "[smtp] tls = \"none\" です。返信と SMTP のパスワードが暗号化されずに送られます。starttls か implicit にしてください。".to_string(),
        NoSmtp => "[smtp] が設定されていません。返信は送信されず、.eml ファイルとして保存されるだけです。".to_string(),
        ImapWithoutTls => "[imap] tls = \"none\" です。受信メールと IMAP のパスワードが暗号化されずに送られます。".to_string(),
        HealthTokenUnreadable(why) => format!("[health] のトークンを読めません（{why}）。ループバック以外の監視は拒否されます。"),
    };
    format!("警告: {text}")
}

/// `purge` without `[retention]`: nothing to do.
pub const RETENTION_OFF: &str =
    "[retention] が設定されていないため、何も削除しません（既定ではすべて保持します）。";

/// `purge` found nothing past its retention.
pub const PURGE_NOTHING: &str = "保持期間を過ぎたものはありません。";

/// The heading of `purge`'s listing.
pub fn purge_heading(dry_run: bool) -> &'static str {
    if dry_run {
        "次のものが削除されます（--dry-run のため、まだ何も削除していません）:"
    } else {
        "次のものを削除しました（監査履歴に記録済み、受付完了の判断は保持）:"
    }
}

/// One request whose personal fields go.
pub fn purge_personal(receipt: &str) -> String {
    format!("  {receipt}: 担当者名・電話番号")
}

/// One raw mail or attachment that goes.
pub fn purge_blob(kind: &str, receipts: &[String], size: i64) -> String {
    let what = if kind == "raw_mail" {
        "受信メール原本（と送信済み返信）"
    } else {
        "添付シート"
    };
    format!("  {}: {what}（{size} バイト）", receipts.join("・"))
}

/// The audit reason of a purge.
pub fn purge_reason(raw_days: Option<u32>, personal_days: Option<u32>) -> String {
    let days = |d: Option<u32>| d.map_or("保持".to_string(), |d| format!("{d} 日"));
    format!(
        "保持期間の経過による削除（[retention] 原本 {}、個人情報 {}）",
        days(raw_days),
        days(personal_days)
    )
}
