//! Staff accounts and sessions: argon2 password hashes, random session
//! tokens stored only as their SHA-256, the per-session CSRF token, and the
//! cookie that carries the session.
//!
//! Everything here is crypto and the rules around it; the rows live in
//! [`crate::queue::accounts`] and [`crate::queue::sessions`], and the
//! middleware that applies it to each request lives in [`super::guard`].

use crate::queue::{accounts, sessions};
use anyhow::Context;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sos_session";
/// The cookie that carries the sign-in form's CSRF token (before a session
/// exists).
pub const LOGIN_CSRF_COOKIE: &str = "sos_login_csrf";
/// How long a session lasts without signing in again: one working day.
pub const SESSION_HOURS: i64 = 12;
/// The shortest password accepted by `users add`.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// What a staff member may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reviews the queue, decides, completes, exports.
    Reviewer,
    /// Everything a reviewer does, plus releasing and authorising
    /// quarantined senders.
    Admin,
}

impl Role {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }

    /// Parses `reviewer` / `admin`.
    pub fn parse(text: &str) -> Option<Role> {
        match text.trim() {
            "reviewer" => Some(Role::Reviewer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The signed-in staff member of a request, with the session's CSRF token.
#[derive(Clone, Debug, Serialize)]
pub struct Staff {
    /// User id.
    pub id: i64,
    /// The name written into the audit history.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// The session's CSRF token (every form carries it).
    pub csrf: String,
    /// Correspondence nobody has marked read yet (the nav shows the count).
    pub unread: i64,
    /// Signed in with a one-time password: every page leads to the
    /// password change until they chose their own (issue 13.2).
    pub must_change_password: bool,
}

impl Staff {
    /// True for admins.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A new random token: 256 bits, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The SHA-256 (hex) under which a session token is stored.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
}

/// Checks a password against a stored PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The shortest password accepted when set in the browser.
pub const MIN_WEB_PASSWORD_CHARS: usize = 12;

/// What is wrong with a password chosen in the browser for account `name`
/// (the rules the password page states), `None` when it is acceptable.
pub fn password_problem(name: &str, password: &str) -> Option<String> {
    use crate::messages::web as msg;
    let chars: Vec<char> = password.chars().collect();
    if chars.len() < MIN_WEB_PASSWORD_CHARS {
        return Some(msg::weak_password(MIN_WEB_PASSWORD_CHARS));
    }
    let name = name.trim().to_lowercase();
    if name.chars().count() >= 3 && password.to_lowercase().contains(&name) {
        return Some(msg::password_contains_name().to_string());
    }
    let first = chars.first().copied().unwrap_or_default();
    if chars.iter().all(|c| *c == first) || chars.iter().all(|c| c.is_ascii_digit()) {
        return Some(msg::password_too_simple().to_string());
    }
    None
}

/// A one-time password an admin hands over: 16 characters from an
/// alphabet without look-alikes (no 0/O, 1/l/I).
pub fn one_time_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// Why `users add` refused.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The name is empty or too long.
    #[error("{0}")]
    BadName(String),
    /// The password is too short.
    #[error("{0}")]
    WeakPassword(String),
}

/// Creates a user or, when the name exists, sets a new password and role.
/// Returns true when the user was new.
pub async fn upsert_user(
    conn: &mut AnyConnection,
    name: &str,
    role: Role,
    password: &str,
) -> anyhow::Result<bool> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(UserError::BadName(crate::messages::web::bad_user_name().into()).into());
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(UserError::WeakPassword(crate::messages::web::weak_password(
            MIN_PASSWORD_CHARS,
        ))
        .into());
    }
    let hash = hash_password(password)?;
    accounts::upsert(conn, name, role.as_str(), &hash).await
}

/// A staff account as listed by `users list`.
#[derive(Clone, Debug, Serialize)]
pub struct UserSummary {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// When created (stored text).
    pub created_at: String,
}

/// Every account, by name.
pub async fn list_users(conn: &mut AnyConnection) -> anyhow::Result<Vec<UserSummary>> {
    accounts::list(conn)
        .await?
        .into_iter()
        .map(|a| {
            Ok(UserSummary {
                role: Role::parse(&a.role)
                    .with_context(|| format!("unknown stored role {:?}", a.role))?,
                name: a.name,
                created_at: a.created_at,
            })
        })
        .collect()
}

/// Removes an account and its sessions. Returns false when unknown.
pub async fn remove_user(conn: &mut AnyConnection, name: &str) -> anyhow::Result<bool> {
    accounts::remove_by_name(conn, name).await
}

/// Checks a name and password, the argon2 work on a blocking thread off
/// the async runtime. An unknown name is checked against a dummy hash so
/// that timing does not tell which names exist.
pub async fn authenticate(
    conn: &mut AnyConnection,
    name: &str,
    password: &str,
) -> anyhow::Result<Option<i64>> {
    check_password(conn, name, password, None).await
}

/// [`authenticate`] holding `permit` (one of the capped concurrent checks)
/// until the check ends, also when the client has gone away meanwhile.
pub async fn authenticate_holding(
    conn: &mut AnyConnection,
    name: &str,
    password: &str,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> anyhow::Result<Option<i64>> {
    check_password(conn, name, password, Some(permit)).await
}

async fn check_password(
    conn: &mut AnyConnection,
    name: &str,
    password: &str,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
) -> anyhow::Result<Option<i64>> {
    // A disabled account is checked like an unknown name: same work, no
    // hint that it exists.
    let (id, phc) = match accounts::enabled_credentials(conn, name.trim()).await? {
        Some(c) => (Some(c.id), Some(c.password_hash)),
        None => (None, None),
    };
    let password = password.to_string();
    let matches = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        match phc {
            Some(phc) => verify_password(&password, &phc),
            None => {
                verify_password(&password, dummy_hash());
                false
            }
        }
    })
    .await
    .context("the password check stopped")?;
    Ok(id.filter(|_| matches))
}

/// A hash of nothing in particular, made once, that unknown names are
/// checked against (the same work as a real check).
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

/// Whether cookies must carry `Secure` for a UI listening on `listen`:
/// always, unless the address is loopback (`127.0.0.0/8`, `::1`,
/// `localhost`), where plain HTTP never leaves the machine. `configured`
/// (`[web] secure_cookies`) forces it on loopback too (a TLS proxy on the
/// same host). An address that cannot be read counts as not loopback.
pub fn cookies_must_be_secure(listen: &str, configured: bool) -> bool {
    configured || !crate::config::is_loopback_listen(listen)
}

/// A new session: the token for the cookie (never stored) and its expiry.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// The cookie value.
    pub token: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Starts a session for `user_id`, and clears expired ones while at it.
pub async fn create_session(conn: &mut AnyConnection, user_id: i64) -> anyhow::Result<NewSession> {
    let token = random_token();
    let now = Utc::now();
    let expires_at = now + Duration::hours(SESSION_HOURS);
    sessions::start(
        conn,
        &sessions::NewSessionRow {
            token_sha256: &token_digest(&token),
            user_id,
            csrf_token: &random_token(),
            created_at: now,
            expires_at,
        },
    )
    .await?;
    Ok(NewSession { token, expires_at })
}

/// The staff member behind a session token, when the session exists and
/// has not expired.
pub async fn session_staff(conn: &mut AnyConnection, token: &str) -> anyhow::Result<Option<Staff>> {
    let Some(session) = sessions::find(conn, &token_digest(token)).await? else {
        return Ok(None);
    };
    if session.expires_at <= Utc::now() {
        return Ok(None);
    }
    let role = session.role;
    Ok(Some(Staff {
        id: session.user_id,
        name: session.name,
        role: Role::parse(&role).with_context(|| format!("unknown stored role {role:?}"))?,
        csrf: session.csrf_token,
        unread: session.unread,
        must_change_password: session.must_change_password,
    }))
}

/// Ends a session (log-out).
pub async fn delete_session(conn: &mut AnyConnection, token: &str) -> anyhow::Result<()> {
    sessions::end(conn, &token_digest(token)).await
}

/// The value of cookie `name` in a `Cookie:` header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v.trim())
    })
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure when the
/// UI is served over HTTPS. `max_age` 0 deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("correct horsf", &phc));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn tokens_are_256_bit_and_distinct() {
        let a = random_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_token());
        assert_ne!(token_digest(&a), a);
    }

    #[test]
    fn cookies_parse_and_carry_flags() {
        assert_eq!(
            cookie_value("a=1; sos_session=abc; b=2", "sos_session"),
            Some("abc")
        );
        assert_eq!(cookie_value("xsos_session=abc", "sos_session"), None);
        let c = set_cookie("sos_session", "t", 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        assert!(!set_cookie("s", "t", 60, false).contains("Secure"));
    }

    #[test]
    fn cookies_are_secure_off_loopback() {
        for listen in [
            "127.0.0.1:8080",
            "127.1.2.3:80",
            "[::1]:8080",
            "localhost:8080",
            "::1",
        ] {
            assert!(!cookies_must_be_secure(listen, false), "{listen}");
            assert!(cookies_must_be_secure(listen, true), "{listen}");
        }
        for listen in [
            "0.0.0.0:8080",
            "[::]:8080",
            "192.0.2.10:443",
            "10.0.0.5:8080",
            "[::ffff:10.0.0.5]:80",
            "intake.example.lg.jp:8080",
            "localhost.evil.example:80",
            "",
        ] {
            assert!(cookies_must_be_secure(listen, false), "{listen}");
        }
        assert!(!cookies_must_be_secure("[::ffff:127.0.0.1]:80", false));
    }

    #[test]
    fn secrets_compare() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
