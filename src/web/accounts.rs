//! Accounts in the browser (issue 13.2): every user changes their own
//! password on `/account`; admins add accounts, disable and enable them,
//! set roles and issue one-time passwords on `/admin/accounts`, which also
//! lists sign-ins, failures and account changes from the audit history.
//! `sos-intake users add` stays for the first admin.
//!
//! Accounts are named by id in the routes (names are free text). An admin
//! cannot disable or demote their own account, so the last admin cannot
//! lock everyone out by mistake.

use super::auth::{self, Role, Staff};
use super::{AppState, WebError};
use crate::messages::history;
use crate::messages::web as msg;
use crate::queue::{accounts, audit};
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};

/// How many audit rows the accounts page lists.
const AUDIT_ROWS: i64 = 100;

/// Query of both pages.
#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    /// Notice code after an action.
    pub notice: Option<String>,
}

/// GET /account: the user's own password form.
pub async fn own(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(q): Query<NoticeQuery>,
) -> Result<Html<String>, WebError> {
    own_page(
        &state,
        &staff,
        q.notice.as_deref().and_then(msg::notice),
        None,
    )
}

fn own_page(
    state: &AppState,
    staff: &Staff,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<Html<String>, WebError> {
    state.render(
        "account.html",
        context! {
            staff => staff,
            nav => "account",
            notice => notice,
            error => error,
            min_chars => auth::MIN_WEB_PASSWORD_CHARS,
        },
    )
}

/// The password change form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    /// The password now.
    #[serde(default)]
    pub current: String,
    /// The new one.
    #[serde(default)]
    pub password: String,
    /// The new one again.
    #[serde(default)]
    pub again: String,
}

/// POST /account/password: checks the current password, the rules and the
/// repetition, stores the new one, ends the user's other sessions.
pub async fn change_password(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Result<Response, WebError> {
    // This session stays; the user's others end with the old password.
    let session = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| auth::cookie_value(h, auth::SESSION_COOKIE))
        .map(auth::token_digest);
    let refuse = |text: &str| -> Result<Response, WebError> {
        let page = own_page(&state, &staff, None, Some(text))?;
        Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    };
    let mut conn = state.db().pool().acquire().await?;
    let phc = accounts::password_hash(&mut conn, staff.id)
        .await?
        .unwrap_or_default();
    if !verify(form.current.clone(), phc).await? {
        return refuse(msg::current_password_wrong());
    }
    if let Some(problem) = auth::password_problem(&staff.name, &form.password) {
        return refuse(&problem);
    }
    if form.password != form.again {
        return refuse(msg::passwords_differ());
    }
    let phc = hash(form.password).await?;
    let mut tx = state.db().begin().await?;
    accounts::set_password(&mut tx, staff.id, &phc, false, session.as_deref()).await?;
    let detail = serde_json::json!({ "account": staff.name });
    audit::record(
        &mut tx,
        None,
        &staff.name,
        "account_password_changed",
        &detail,
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/account?notice=password_changed").into_response())
}

/// Checks a password off the async runtime (argon2 is slow on purpose).
async fn verify(password: String, phc: String) -> Result<bool, WebError> {
    tokio::task::spawn_blocking(move || auth::verify_password(&password, &phc))
        .await
        .map_err(|e| WebError::Internal(e.into()))
}

/// Hashes a password off the async runtime.
async fn hash(password: String) -> Result<String, WebError> {
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| WebError::Internal(e.into()))?
        .map_err(WebError::Internal)
}

/// One audit row of the accounts page.
#[derive(Debug, Serialize)]
struct AuditView {
    at: String,
    actor: String,
    action: &'static str,
    detail: String,
}

/// A one-time password, shown once right after it was issued.
#[derive(Debug, Serialize)]
struct Issued {
    name: String,
    password: String,
}

/// GET /admin/accounts.
pub async fn list(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, WebError> {
    let notice = q.notice.as_deref().and_then(msg::notice);
    admin_page(&state, &staff, notice, None, None).await
}

async fn admin_page(
    state: &AppState,
    staff: &Staff,
    notice: Option<&str>,
    error: Option<String>,
    issued: Option<Issued>,
) -> Result<Response, WebError> {
    let mut conn = state.db().pool().acquire().await?;
    let list = accounts::list(&mut conn).await?;
    let audit = accounts::audit_list(&mut conn, AUDIT_ROWS)
        .await?
        .into_iter()
        .map(|e| AuditView {
            at: super::queue_page::jst(e.at),
            action: history::action_label(&e.action),
            detail: history::sentence(&e.action, &e.detail),
            actor: e.actor,
        })
        .collect::<Vec<_>>();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = state.render(
        "accounts.html",
        context! {
            staff => staff,
            nav => "accounts",
            notice => notice,
            error => error,
            issued => issued,
            accounts => list,
            audit => audit,
        },
    )?;
    Ok((status, page).into_response())
}

/// The add form.
#[derive(Debug, Deserialize)]
pub struct AddForm {
    /// The new account's name.
    #[serde(default)]
    pub name: String,
    /// `reviewer` or `admin`.
    #[serde(default)]
    pub role: String,
}

/// POST /admin/accounts: a new account with a one-time password, shown
/// once on the page that answers.
pub async fn add(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Form(form): Form<AddForm>,
) -> Result<Response, WebError> {
    let name = crate::text::as_written(&form.name);
    let role = Role::parse(&form.role).unwrap_or(Role::Reviewer);
    let mut conn = state.db().pool().acquire().await?;
    if accounts::list(&mut conn)
        .await?
        .iter()
        .any(|a| a.name == name)
    {
        let error = msg::account_exists(&name);
        return admin_page(&state, &staff, None, Some(error), None).await;
    }
    drop(conn);
    let password = auth::one_time_password();
    let phc = hash(password.clone()).await?;
    let mut tx = state.db().begin().await?;
    match auth::upsert_user(&mut tx, &name, role, &password).await {
        Ok(_) => {}
        Err(e) if e.downcast_ref::<auth::UserError>().is_some() => {
            return admin_page(&state, &staff, None, Some(e.to_string()), None).await;
        }
        Err(e) => return Err(e.into()),
    }
    let id = accounts::list(&mut tx)
        .await?
        .into_iter()
        .find(|a| a.name == name)
        .map(|a| a.id)
        .ok_or_else(WebError::not_found)?;
    accounts::set_password(&mut tx, id, &phc, true, None).await?;
    let detail = serde_json::json!({ "account": name, "role": role.as_str() });
    audit::record(&mut tx, None, &staff.name, "account_created", &detail, "").await?;
    tx.commit().await?;
    let issued = Issued { name, password };
    admin_page(&state, &staff, None, None, Some(issued)).await
}

/// POST /admin/accounts/{id}/disable.
pub async fn disable(
    state: State<AppState>,
    staff: Extension<Staff>,
    id: Path<i64>,
) -> Result<Response, WebError> {
    set_disabled(state, staff, id, true).await
}

/// POST /admin/accounts/{id}/enable.
pub async fn enable(
    state: State<AppState>,
    staff: Extension<Staff>,
    id: Path<i64>,
) -> Result<Response, WebError> {
    set_disabled(state, staff, id, false).await
}

async fn set_disabled(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    disabled: bool,
) -> Result<Response, WebError> {
    let account = other_account(&state, &staff, id).await?;
    let mut tx = state.db().begin().await?;
    accounts::set_disabled(&mut tx, id, disabled).await?;
    let action = if disabled {
        "account_disabled"
    } else {
        "account_enabled"
    };
    let detail = serde_json::json!({ "account": account.name });
    audit::record(&mut tx, None, &staff.name, action, &detail, "").await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/accounts?notice={action}")).into_response())
}

/// The role form.
#[derive(Debug, Deserialize)]
pub struct RoleForm {
    /// `reviewer` or `admin`.
    #[serde(default)]
    pub role: String,
}

/// POST /admin/accounts/{id}/role.
pub async fn set_role(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    Form(form): Form<RoleForm>,
) -> Result<Response, WebError> {
    let account = other_account(&state, &staff, id).await?;
    let role =
        Role::parse(&form.role).ok_or_else(|| WebError::BadInput(msg::bad_role(&form.role)))?;
    let mut tx = state.db().begin().await?;
    accounts::set_role(&mut tx, id, role.as_str()).await?;
    let detail = serde_json::json!({ "account": account.name, "role": { "from": account.role, "to": role.as_str() } });
    audit::record(
        &mut tx,
        None,
        &staff.name,
        "account_role_changed",
        &detail,
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/accounts?notice=account_role_changed").into_response())
}

/// POST /admin/accounts/{id}/password: a new one-time password, shown
/// once; the account's sessions end.
pub async fn issue_password(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let account = other_account(&state, &staff, id).await?;
    let password = auth::one_time_password();
    let phc = hash(password.clone()).await?;
    let mut tx = state.db().begin().await?;
    accounts::set_password(&mut tx, id, &phc, true, None).await?;
    let detail = serde_json::json!({ "account": account.name });
    audit::record(
        &mut tx,
        None,
        &staff.name,
        "account_password_issued",
        &detail,
        "",
    )
    .await?;
    tx.commit().await?;
    let issued = Issued {
        name: account.name,
        password,
    };
    admin_page(&state, &staff, None, None, Some(issued)).await
}

/// The account `id`, refused when it is the admin's own (no self-lockout)
/// or does not exist.
async fn other_account(
    state: &AppState,
    staff: &Staff,
    id: i64,
) -> Result<accounts::Account, WebError> {
    if id == staff.id {
        return Err(WebError::Conflict(msg::not_on_own_account().into()));
    }
    let mut conn = state.db().pool().acquire().await?;
    accounts::get(&mut conn, id)
        .await?
        .ok_or_else(WebError::not_found)
}
