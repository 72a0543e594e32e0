//! Sign-in, sign-out, the start page and the 404 page.

use super::auth::{self, LOGIN_CSRF_COOKIE, SESSION_COOKIE, SESSION_HOURS, Staff};
use super::guard::{self, form_field};
use super::signin::{self, Refusal};
use super::{AppState, WebError, error_page};
use crate::messages::web as msg;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use minijinja::context;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Query of the sign-in page.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    /// Where to go after signing in (a local path).
    #[serde(default)]
    pub next: String,
    /// Notice code (e.g. `logged_out`).
    #[serde(default)]
    pub notice: String,
}

/// GET /login: the form, with a fresh CSRF token in a cookie and the form.
pub async fn login_form(
    State(state): State<AppState>,
    Query(q): Query<LoginQuery>,
) -> Result<Response, WebError> {
    login_page(
        &state,
        &q.next,
        msg::notice(&q.notice),
        None,
        StatusCode::OK,
    )
}

fn login_page(
    state: &AppState,
    next: &str,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let csrf = auth::random_token();
    let html = state.render(
        "login.html",
        context! { csrf => &csrf, next => safe_next(next), notice => notice, error => error },
    )?;
    let cookie = auth::set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, state.secure_cookies());
    Ok((status, [(header::SET_COOKIE, cookie)], html).into_response())
}

/// POST /login: checks the CSRF pair, the sign-in limits of the account
/// name and the client address, then the password (off the runtime, at
/// most `[web.signin] max_concurrent_checks` at once), and starts a
/// session.
pub async fn login(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let cookie_token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| auth::cookie_value(h, LOGIN_CSRF_COOKIE).map(str::to_string));
    let form_token = form_field(&body, guard::CSRF_FIELD);
    let next = form_field(&body, "next").unwrap_or_default();
    match (cookie_token, form_token) {
        (Some(c), Some(f)) if !c.is_empty() && auth::same_secret(&c, &f) => {}
        _ => return Ok(error_page(StatusCode::FORBIDDEN, msg::csrf_refused())),
    }
    let name = form_field(&body, "name").unwrap_or_default();
    let password = form_field(&body, "password").unwrap_or_default();
    // Without ConnectInfo (a router served without it) every client shares
    // one address key: stricter, never looser.
    let addr = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.0.0.ip());
    let mut conn = state.db().pool().acquire().await?;
    if let Some(refusal) = signin::check(&mut conn, &name, addr, Utc::now()).await? {
        tracing::warn!(account = %name.trim(), client = %addr, ?refusal, "web: sign-in refused before the password check");
        return refused(&state, &next, refusal);
    }
    let Some(permit) = state.try_signin_check() else {
        tracing::warn!(account = %name.trim(), client = %addr, "web: sign-in refused, every password check slot is busy");
        return Ok(error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            msg::signin_busy(),
        ));
    };
    let Some(user_id) = auth::authenticate_holding(&mut conn, &name, &password, permit).await?
    else {
        let config = &state.settings().config.web.signin;
        let failure = signin::record_failure(&mut conn, config, &name, addr, Utc::now()).await?;
        log_failure(&name, addr, &failure);
        audit_signin(&mut conn, &name, addr, false).await?;
        return login_page(
            &state,
            &next,
            None,
            Some(msg::login_failed()),
            StatusCode::UNAUTHORIZED,
        );
    };
    signin::record_success(&mut conn, &name).await?;
    audit_signin(&mut conn, &name, addr, true).await?;
    let session = auth::create_session(&mut conn, user_id).await?;
    let secure = state.secure_cookies();
    let mut resp = Redirect::to(&safe_next(&next)).into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        auth::set_cookie(SESSION_COOKIE, &session.token, SESSION_HOURS * 3600, secure)
            .parse()
            .map_err(|e| anyhow::anyhow!("bad cookie header: {e}"))?,
    );
    h.append(
        header::SET_COOKIE,
        auth::set_cookie(LOGIN_CSRF_COOKIE, "", 0, secure)
            .parse()
            .map_err(|e| anyhow::anyhow!("bad cookie header: {e}"))?,
    );
    Ok(resp)
}

/// The sign-in page again, 429 with `Retry-After`, saying how long to wait.
fn refused(state: &AppState, next: &str, refusal: Refusal) -> Result<Response, WebError> {
    let left = refusal.remaining();
    let text = match refusal {
        Refusal::Wait(d) => msg::signin_wait(signin::seconds_up(d)),
        Refusal::AccountLocked(d) => msg::signin_account_locked(signin::minutes_up(d)),
        Refusal::AddressLocked(d) => msg::signin_address_locked(signin::minutes_up(d)),
    };
    let mut resp = login_page(
        state,
        next,
        None,
        Some(&text),
        StatusCode::TOO_MANY_REQUESTS,
    )?;
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(signin::seconds_up(left)),
    );
    Ok(resp)
}

/// Puts a sign-in or a failed one into the audit list admins read
/// (issue 13.2). The actor is the name as typed, shortened and without
/// control characters: it comes from outside.
async fn audit_signin(
    conn: &mut sqlx::AnyConnection,
    name: &str,
    addr: IpAddr,
    succeeded: bool,
) -> anyhow::Result<()> {
    let actor: String = crate::text::as_written(name).chars().take(64).collect();
    let action = if succeeded {
        "signin_succeeded"
    } else {
        "signin_failed"
    };
    let detail = serde_json::json!({ "client": addr.to_string() });
    crate::queue::audit::record(conn, None, &actor, action, &detail, "").await
}

/// Logs a wrong password, and a lock when this failure started one.
fn log_failure(name: &str, addr: IpAddr, failure: &signin::Failure) {
    let name = name.trim();
    tracing::warn!(
        account = %name,
        client = %addr,
        account_failures = failure.account_failures,
        address_failures = failure.address_failures,
        "web: wrong password"
    );
    if let signin::Block::Lock(d) = failure.account {
        tracing::warn!(account = %name, client = %addr, lock_secs = d.as_secs(), "web: account locked after repeated wrong passwords");
    }
    if let signin::Block::Lock(d) = failure.address {
        tracing::warn!(account = %name, client = %addr, lock_secs = d.as_secs(), "web: client address locked after repeated wrong passwords");
    }
}

/// POST /logout: ends the session and clears the cookie.
pub async fn logout(State(state): State<AppState>, req: Request) -> Result<Response, WebError> {
    if let Some(token) = guard::session_token(&req) {
        let mut conn = state.db().pool().acquire().await?;
        auth::delete_session(&mut conn, &token).await?;
    }
    let cookie = auth::set_cookie(SESSION_COOKIE, "", 0, state.secure_cookies());
    Ok((
        [(header::SET_COOKIE, cookie)],
        Redirect::to("/login?notice=logged_out"),
    )
        .into_response())
}

/// GET /: the queue.
pub async fn home(Extension(_staff): Extension<Staff>) -> Redirect {
    Redirect::to("/queue")
}

/// Anything else: 404.
pub async fn not_found() -> Response {
    error_page(StatusCode::NOT_FOUND, msg::not_found())
}

/// A redirect target after sign-in: a path on this site only
/// ([`signin::same_site_path`]), never the sign-in page itself; anything
/// else goes to the queue.
pub fn safe_next(next: &str) -> String {
    signin::same_site_path(next)
        .filter(|p| !p.starts_with("/login"))
        .unwrap_or_else(|| "/queue".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_local_only() {
        for (input, want) in [
            ("/requests/3", "/requests/3"),
            ("//evil.example/x", "/queue"),
            ("https://evil.example/", "/queue"),
            ("/\\evil.example", "/queue"),
            ("", "/queue"),
            ("/login?next=/x", "/queue"),
            ("/%09/evil.example", "/queue"),
            ("/requests?date=2026-12-01", "/requests?date=2026-12-01"),
        ] {
            assert_eq!(safe_next(input), want, "{input:?}");
        }
    }
}
