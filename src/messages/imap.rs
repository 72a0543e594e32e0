//! Wording of the IMAP source: what `sos-intake imap check` reports and what
//! an official reads when the gateway cannot reach or log in to the inbox.
//! Plain words first (what is wrong, what to do), technical detail after.

use crate::imap_client::ImapError;
use std::fmt;

/// The configuration names no password source.
pub const NO_PASSWORD: &str = "IMAP のパスワードが設定されていません。[imap] に password_file または password_env を書いてください。";

/// The password file cannot be read.
pub fn password_file_unreadable(path: &str, detail: &str) -> String {
    format!("IMAP のパスワードファイル {path} を読めません（{detail}）。")
}

/// The password environment variable is not set.
pub fn password_env_missing(name: &str) -> String {
    format!("IMAP のパスワードを入れる環境変数 {name} が設定されていません。")
}

/// The CA file cannot be read or holds no certificate.
pub fn ca_file_unusable(path: &str, detail: &str) -> String {
    format!("CA 証明書ファイル {path} を使えません（{detail}）。")
}

/// The host name does not resolve.
pub fn host_unknown(host: &str, detail: &str) -> String {
    format!(
        "IMAP サーバー名 {host} が見つかりません（名前解決に失敗: {detail}）。host の綴りを確認してください。"
    )
}

/// Nothing listens on the port.
pub fn connection_refused(addr: &str) -> String {
    format!(
        "IMAP サーバー {addr} に接続を拒否されました。サーバーが止まっているか、ポート番号が違います。"
    )
}

/// The server did not answer in time.
pub fn timed_out(addr: &str, what: &str) -> String {
    format!(
        "IMAP サーバー {addr} が応答しません（{what} で時間切れ）。ネットワークかサーバーの状態を確認してください。"
    )
}

/// Some other network failure.
pub fn network_failed(addr: &str, detail: &str) -> String {
    format!("IMAP サーバー {addr} との通信に失敗しました（{detail}）。")
}

/// The certificate is not for the host name we dialled.
pub fn tls_name_mismatch(host: &str, detail: &str) -> String {
    format!(
        "IMAP サーバーの証明書の名前が {host} と一致しません（TLS 名の不一致: {detail}）。host には証明書に書かれた名前を使ってください。"
    )
}

/// The certificate is signed by a CA we do not trust.
pub fn tls_untrusted(detail: &str) -> String {
    format!(
        "IMAP サーバーの証明書を信頼できません（{detail}）。私設 CA の場合は ca_file にその CA 証明書を指定してください。"
    )
}

/// The certificate has expired or is not valid yet.
pub fn tls_expired(detail: &str) -> String {
    format!("IMAP サーバーの証明書の有効期限が切れているか、まだ有効ではありません（{detail}）。")
}

/// TLS failed for another reason (e.g. the port speaks plain text).
pub fn tls_failed(detail: &str) -> String {
    format!(
        "IMAP サーバーと TLS で接続できません（{detail}）。tls の設定（implicit / starttls）とポート番号の組み合わせを確認してください。"
    )
}

/// STARTTLS was asked for but the server refused it.
pub fn starttls_refused(detail: &str) -> String {
    format!(
        "IMAP サーバーが STARTTLS を受け付けません（{detail}）。tls = \"implicit\" とポート 993 を試してください。"
    )
}

/// The server refused the user name or password.
pub fn login_refused(user: &str, detail: &str) -> String {
    format!(
        "IMAP にログインできません: ユーザー名 {user} またはパスワードが違います（サーバーの返答: {detail}）。"
    )
}

/// The watched mailbox does not exist.
pub fn mailbox_missing(mailbox: &str, detail: &str) -> String {
    format!(
        "監視するフォルダー「{mailbox}」が IMAP サーバーにありません（{detail}）。mailbox の設定を確認してください。"
    )
}

/// A folder for filed mail cannot be created.
pub fn folder_create_failed(folder: &str, detail: &str) -> String {
    format!("振り分け先フォルダー「{folder}」を作成できません（{detail}）。")
}

/// The server said something we did not expect.
pub fn protocol_failed(detail: &str) -> String {
    format!("IMAP サーバーとのやり取りに失敗しました（{detail}）。")
}

/// `imap check`: heading of the connection line.
pub fn check_connected(addr: &str, tls: &str) -> String {
    format!("接続: {addr}（{tls}）… OK")
}

/// `imap check`: the login worked.
pub fn check_logged_in(user: &str, mechanism: &str) -> String {
    format!("ログイン: {user}（{mechanism}）… OK")
}

/// `imap check`: heading of the folder list.
pub const CHECK_FOLDERS: &str = "フォルダー一覧:";

/// `imap check`: the watched mailbox and its backlog.
pub fn check_backlog(mailbox: &str, total: u32, backlog: usize) -> String {
    format!("監視フォルダー「{mailbox}」: 全 {total} 通、未処理 {backlog} 通")
}

/// `imap check`: the stored checkpoint.
pub fn check_checkpoint(uidvalidity: u32, last_uid: u32, current_uidvalidity: u32) -> String {
    if uidvalidity == current_uidvalidity {
        format!("処理済みの位置: UID {last_uid} まで（UIDVALIDITY {uidvalidity}）")
    } else {
        format!(
            "処理済みの位置: UIDVALIDITY が {uidvalidity} から {current_uidvalidity} に変わりました。次回の起動で全件を確認し直します（処理済みのメールは二重に受け付けません）。"
        )
    }
}

/// `imap check`: no checkpoint yet.
pub const CHECK_NO_CHECKPOINT: &str =
    "処理済みの位置: まだありません（最初の起動で受信箱の全件を処理します）";

/// `imap check`: the gateway that holds the mailbox's lease now.
pub fn check_watched_by(holder: &str, remaining_ms: i64) -> String {
    format!(
        "監視中のゲートウェイ: {holder}（リース残り {:.1} 秒）",
        remaining_ms as f64 / 1000.0
    )
}

/// `imap check`: no gateway watches the mailbox now.
pub const CHECK_NOT_WATCHED: &str =
    "監視中のゲートウェイ: なし（sos-intake serve が動いていません）";

/// `imap check`: a target folder exists.
pub fn check_folder_present(role: &str, folder: &str) -> String {
    format!("{role}フォルダー「{folder}」… あり")
}

/// `imap check`: a target folder is missing (it will be created).
pub fn check_folder_absent(role: &str, folder: &str) -> String {
    format!("{role}フォルダー「{folder}」… なし（受付開始時に作成します）")
}

/// Role label of the folder for handled mail.
pub const ROLE_DONE: &str = "処理済み用";
/// Role label of the folder for mail answered with an error report.
pub const ROLE_ERROR: &str = "エラー用";
/// Role label of the folder for quarantined and ignored mail.
pub const ROLE_QUARANTINE: &str = "隔離用";

/// `imap check`: the capabilities that change behaviour.
pub fn check_capabilities(idle: bool, mv: bool, uidplus: bool) -> String {
    let yn = |b: bool| if b { "あり" } else { "なし" };
    format!(
        "サーバー機能: IDLE {}（なければ定期確認）、MOVE {}（なければ COPY＋削除フラグ）、UIDPLUS {}",
        yn(idle),
        yn(mv),
        yn(uidplus)
    )
}

/// `imap check`: everything is fine.
pub const CHECK_OK: &str = "IMAP の設定に問題はありません。";

/// `imap check`: the configuration has no `[imap]` section.
pub const CHECK_NOT_CONFIGURED: &str =
    "設定ファイルに [imap] がありません（受信は data_dir/inbox の Maildir から行います）。";

/// `imap check`: a problem was found.
pub fn check_problem(detail: &str) -> String {
    format!("問題: {detail}")
}

/// An IMAP failure as an official reads it.
impl fmt::Display for ImapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ImapError::NoPassword => NO_PASSWORD.to_string(),
            ImapError::PasswordFile { path, detail } => password_file_unreadable(path, detail),
            ImapError::PasswordEnv(v) => password_env_missing(v),
            ImapError::CaFile { path, detail } => ca_file_unusable(path, detail),
            ImapError::HostUnknown { host, detail } => host_unknown(host, detail),
            ImapError::Refused(v) => connection_refused(v),
            ImapError::Timeout { addr, what } => timed_out(addr, what),
            ImapError::Network { addr, detail } => network_failed(addr, detail),
            ImapError::TlsNameMismatch { host, detail } => tls_name_mismatch(host, detail),
            ImapError::TlsUntrusted(v) => tls_untrusted(v),
            ImapError::TlsExpired(v) => tls_expired(v),
            ImapError::Tls(v) => tls_failed(v),
            ImapError::StarttlsRefused(v) => starttls_refused(v),
            ImapError::LoginRefused { user, detail } => login_refused(user, detail),
            ImapError::MailboxMissing { mailbox, detail } => mailbox_missing(mailbox, detail),
            ImapError::FolderCreate { folder, detail } => folder_create_failed(folder, detail),
            ImapError::Protocol(v) => protocol_failed(v),
            ImapError::NoUidValidity => protocol_failed("SELECT に UIDVALIDITY がありません"),
            ImapError::NoBody { uid } => {
                protocol_failed(&format!("UID {uid} の本文が返されません"))
            }
            ImapError::Token(e) => return e.fmt(f),
            ImapError::OAuthUnsupported { mechanism, offered } => {
                super::oauth::mechanism_missing(mechanism, offered)
            }
            ImapError::TokenRefused {
                user,
                mechanism,
                detail,
            } => super::oauth::token_refused(user, mechanism, detail),
        };
        f.write_str(&text)
    }
}
