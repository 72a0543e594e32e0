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
pub fn restore_target_not_empty(path: &str) -> String {
    format!(
        "復元先 {path} には既にデータベースがあります。空のデータディレクトリを指定してください。"
    )
}
