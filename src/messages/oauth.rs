//! Wording of OAuth 2.0 sign-in (Microsoft 365, Google Workspace): which
//! step failed and what the administrator should check. Plain words first,
//! technical detail after.

use crate::oauth::TokenError;
use crate::oauth::smtp::OAuthSmtpError;
use crate::oauth::token::{EndpointError, Refusal};
use std::fmt;

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&match self {
            TokenError::Config(detail) => config(detail),
            TokenError::Unreachable { url, detail } => unreachable(url, detail),
            TokenError::Refused { url, error } => refused(url, error),
        })
    }
}

impl fmt::Display for OAuthSmtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OAuthSmtpError::Token(e) => e.fmt(f),
            OAuthSmtpError::Refused { user, detail } => {
                f.write_str(&token_refused(user, "XOAUTH2", detail))
            }
            OAuthSmtpError::Smtp(e) => e.fmt(f),
        }
    }
}

/// The OAuth configuration is incomplete or a file is unusable.
pub fn config(detail: &str) -> String {
    format!("OAuth の設定に誤りがあります: {detail}")
}

/// The token endpoint could not be reached.
pub fn unreachable(url: &str, detail: &str) -> String {
    format!(
        "アクセストークンを発行するサーバー {url} に接続できません。ネットワーク・プロキシ・ファイアウォールを確認してください（{detail}）。"
    )
}

/// The token endpoint answered without a token.
pub fn refused(url: &str, error: &EndpointError) -> String {
    let what = match error.refusal {
        Refusal::InvalidClient => {
            "アプリ（クライアント）が認められません。クライアント ID、シークレットまたは証明書が誤っているか、期限切れか、取り消されています。"
        }
        Refusal::NotPermitted => {
            "アプリに権限がありません。管理者の同意、API のアクセス許可、Google のドメイン全体の委任、またはメールボックスへのアクセス権を確認してください。"
        }
        Refusal::InvalidScope => "要求したスコープ（scope）が誤っています。",
        Refusal::Other => "アクセストークンを発行できませんでした。",
    };
    format!("{what}（{url}: HTTP {} {}）", error.status, error.detail)
}

/// The mail server refused a token the endpoint issued.
pub fn token_refused(user: &str, mechanism: &str, detail: &str) -> String {
    format!(
        "メールサーバーがアクセストークンを受け付けませんでした（{mechanism}、ユーザー {user}）。トークンは発行されたので、メールボックス側の権限を確認してください。Exchange Online ならサービスプリンシパルの登録（New-ServicePrincipal）とメールボックスへのアクセス権（Add-MailboxPermission）、Google ならドメイン全体の委任のスコープを確認してください。サーバーの応答: {detail}"
    )
}

/// The server does not offer the SASL mechanism configured.
pub fn mechanism_missing(mechanism: &str, offered: &str) -> String {
    format!(
        "IMAP サーバーが OAuth のログイン方式 {mechanism} を提供していません（提供している方式: {offered}）。host が正しいか、mechanism をサーバーが提供する方式にしてください。"
    )
}

/// `imap check`: how the login was made.
pub fn check_token(url: &str) -> String {
    format!("アクセストークン: {url} から取得しました。")
}
