//! The staff review desk: a server-rendered web UI where MHLW staff work
//! through a day's batch — review, decide per item, 受付完了 (which sends the
//! 内示 mail), move urgent records, export the 配送先リスト — and admins
//! handle quarantined senders and failed replies.
//!
//! Pages are minijinja templates embedded from `templates/web/` (autoescape
//! on), usable without JavaScript. Every route but the sign-in page sits
//! behind [`guard::require_staff`] (session cookie + CSRF token on every
//! POST); admin routes also behind [`guard::require_admin`].
//!
//! Entry points: [`router`] for an [`AppState`], [`serve`] to run it on the
//! configured `[web] listen` address until shutdown, [`serve_on`] for a
//! listener the caller opened (tests use port 0).

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod bulk;
pub mod conversation;
pub mod export;
pub mod gmis_addresses;
pub mod gmis_page;
pub mod guard;
pub mod health;
pub mod naiji;
pub mod overview;
pub mod pages;
pub mod quarantine;
pub mod queue_page;
pub mod request_page;
pub mod signin;
mod templates;
pub mod unprocessable;

use crate::config::Settings;
use crate::queue::{Db, QueueError};
use anyhow::Context;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;

/// What every handler shares: the database, the settings and the compiled
/// templates. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    settings: Settings,
    templates: minijinja::Environment<'static>,
    /// Permits for password checks running at once (`[web.signin]
    /// max_concurrent_checks`).
    signin_checks: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// Builds the state; fails only when a template does not compile.
    pub fn new(settings: Settings, db: Db) -> anyhow::Result<AppState> {
        let templates = templates::environment().context("cannot compile the web templates")?;
        let checks = settings.config.web.signin.max_concurrent_checks.max(1);
        let signin_checks = Arc::new(tokio::sync::Semaphore::new(
            usize::try_from(checks).unwrap_or(1),
        ));
        Ok(AppState {
            inner: Arc::new(Inner {
                db,
                settings,
                templates,
                signin_checks,
            }),
        })
    }

    /// The queue database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// True when cookies must carry `Secure`: whenever the UI does not
    /// listen on loopback, or `[web] secure_cookies` says so
    /// ([`auth::cookies_must_be_secure`]).
    pub fn secure_cookies(&self) -> bool {
        let web = &self.inner.settings.config.web;
        auth::cookies_must_be_secure(&web.listen, web.secure_cookies)
    }

    /// A permit to run one password check now, or `None` when
    /// `[web.signin] max_concurrent_checks` are already running.
    pub fn try_signin_check(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.inner.signin_checks.clone().try_acquire_owned().ok()
    }

    /// Renders `templates/web/<name>` with `ctx`.
    pub fn render<S: Serialize>(&self, name: &str, ctx: S) -> Result<Html<String>, WebError> {
        let template = self
            .inner
            .templates
            .get_template(name)
            .with_context(|| format!("no template {name}"))?;
        let html = template
            .render(ctx)
            .with_context(|| format!("cannot render {name}"))?;
        Ok(Html(html))
    }
}

/// Who may use a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone (the sign-in page).
    Public,
    /// Signed-in staff.
    Staff,
    /// Signed-in admins.
    Admin,
}

/// One route of the router, as [`route_table`] lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The path pattern, e.g. `/requests/{id}`.
    pub path: &'static str,
    /// Who may use it.
    pub access: Access,
}

/// Collects routes into three routers (public, staff, admin) and remembers
/// each one, so the route table is the router's own list, not a copy.
struct Routes {
    public: Router<AppState>,
    staff: Router<AppState>,
    admin: Router<AppState>,
    table: Vec<RouteInfo>,
}

impl Routes {
    fn add(
        mut self,
        access: Access,
        method: &'static str,
        path: &'static str,
        route: axum::routing::MethodRouter<AppState>,
    ) -> Self {
        self.table.push(RouteInfo {
            method,
            path,
            access,
        });
        match access {
            Access::Public => self.public = self.public.route(path, route),
            Access::Staff => self.staff = self.staff.route(path, route),
            Access::Admin => self.admin = self.admin.route(path, route),
        }
        self
    }
}

/// Every route with the access it needs.
///
/// Long on purpose: it is the one table of the UI's addresses, read top to
/// bottom like a site map; splitting it would scatter that table.
fn routes() -> Routes {
    use Access::*;
    let r = Routes {
        public: Router::new(),
        staff: Router::new(),
        admin: Router::new(),
        table: Vec::new(),
    };
    r.add(Public, "GET", "/login", get(pages::login_form))
        .add(Public, "POST", "/login", post(pages::login))
        .add(Staff, "POST", "/logout", post(pages::logout))
        .add(Staff, "GET", "/", get(pages::home))
        .add(Staff, "GET", "/queue", get(queue_page::queue))
        .add(Staff, "GET", "/overview", get(overview::show))
        .add(Staff, "POST", "/queue/approve/preview", post(bulk::preview))
        .add(Staff, "POST", "/queue/approve", post(bulk::approve))
        .add(Staff, "GET", "/requests/{id}", get(request_page::show))
        .add(
            Staff,
            "POST",
            "/requests/{id}/items/{item}/decision",
            post(request_page::decide),
        )
        .add(
            Staff,
            "POST",
            "/requests/{id}/complete",
            post(request_page::complete),
        )
        .add(
            Staff,
            "POST",
            "/requests/{id}/address",
            post(request_page::set_address),
        )
        .add(
            Staff,
            "POST",
            "/requests/{id}/batch",
            post(request_page::move_batch),
        )
        .add(
            Staff,
            "GET",
            "/requests/{id}/files/mail",
            get(request_page::download_mail),
        )
        .add(
            Staff,
            "GET",
            "/requests/{id}/files/sheet",
            get(request_page::download_sheet),
        )
        .add(
            Staff,
            "GET",
            "/exports/delivery.xlsx",
            get(export::delivery_xlsx),
        )
        .add(
            Staff,
            "GET",
            "/exports/delivery.csv",
            get(export::delivery_csv),
        )
        .add(
            Staff,
            "GET",
            "/exports/summary.xlsx",
            get(export::summary_xlsx),
        )
        .add(
            Staff,
            "GET",
            "/exports/summary.csv",
            get(export::summary_csv),
        )
        .add(Staff, "GET", "/gmis", get(gmis_page::form))
        .add(
            Staff,
            "POST",
            "/gmis/preview",
            post(gmis_page::preview).layer(axum::extract::DefaultBodyLimit::max(
                guard::MAX_UPLOAD_BYTES,
            )),
        )
        .add(Staff, "POST", "/gmis/import", post(gmis_page::import))
        .add(Admin, "GET", "/admin/addresses", get(gmis_addresses::form))
        .add(
            Admin,
            "POST",
            "/admin/addresses/preview",
            post(gmis_addresses::preview).layer(axum::extract::DefaultBodyLimit::max(
                guard::MAX_UPLOAD_BYTES,
            )),
        )
        .add(
            Admin,
            "POST",
            "/admin/addresses/apply",
            post(gmis_addresses::apply),
        )
        .add(Staff, "GET", "/account", get(accounts::own))
        .add(
            Staff,
            "POST",
            "/account/password",
            post(accounts::change_password),
        )
        .add(Admin, "GET", "/admin/accounts", get(accounts::list))
        .add(Admin, "POST", "/admin/accounts", post(accounts::add))
        .add(
            Admin,
            "POST",
            "/admin/accounts/{id}/disable",
            post(accounts::disable),
        )
        .add(
            Admin,
            "POST",
            "/admin/accounts/{id}/enable",
            post(accounts::enable),
        )
        .add(
            Admin,
            "POST",
            "/admin/accounts/{id}/role",
            post(accounts::set_role),
        )
        .add(
            Admin,
            "POST",
            "/admin/accounts/{id}/password",
            post(accounts::issue_password),
        )
        .add(Staff, "GET", "/outbox", get(admin::outbox))
        .add(Staff, "POST", "/outbox/{id}/resend", post(admin::resend))
        .add(Staff, "GET", "/unprocessable", get(unprocessable::list))
        .add(
            Staff,
            "GET",
            "/unprocessable/{sha}/raw",
            get(unprocessable::raw),
        )
        .add(
            Admin,
            "POST",
            "/admin/unprocessable/{sha}/retry",
            post(unprocessable::retry),
        )
        .add(Staff, "GET", "/correspondence", get(conversation::list))
        .add(
            Staff,
            "POST",
            "/correspondence/{id}/read",
            post(conversation::mark_read),
        )
        .add(Staff, "GET", "/unanswered", get(conversation::unanswered))
        .add(Staff, "GET", "/mail/{id}/files/raw", get(conversation::raw))
        .add(Admin, "GET", "/admin/quarantine", get(admin::quarantine))
        .add(
            Admin,
            "POST",
            "/admin/quarantine/{id}/release",
            post(admin::release),
        )
        .add(
            Admin,
            "POST",
            "/admin/quarantine/{id}/authorise",
            post(admin::authorise),
        )
}

/// Every route of [`router`] with who may use it (the security tests walk
/// this list).
pub fn route_table() -> Vec<RouteInfo> {
    routes().table
}

/// The whole web UI for `state`.
pub fn router(state: AppState) -> Router {
    let Routes {
        public,
        staff,
        admin,
        ..
    } = routes();
    let admin = admin.route_layer(axum::middleware::from_fn(guard::require_admin));
    let staff = staff
        .merge(admin)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::require_staff,
        ));
    public
        .merge(staff)
        // Monitoring (issue 14): outside the staff session, own access rule.
        .merge(health::routes(state.clone()))
        .route_layer(axum::middleware::from_fn(health::count_requests))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn(guard::security_headers))
        .with_state(state)
}

/// Serves the UI on `[web] listen` until `shutdown` resolves.
pub async fn serve(
    settings: Settings,
    db: Db,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listen = settings.config.web.listen.clone();
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen} ([web] listen)"))?;
    tracing::info!("web UI on http://{}", listener.local_addr()?);
    serve_on(listener, AppState::new(settings, db)?, shutdown).await
}

/// Serves the UI on a listener the caller bound (tests bind port 0).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // The peer address reaches handlers as ConnectInfo (sign-in limits).
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("the web server stopped with an error")
}

/// Why a request failed: the official's mistake (shown in Japanese with a
/// way back) or something that broke (logged, generic page).
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The input is wrong; the message says how (Japanese).
    #[error("{0}")]
    BadInput(String),
    /// No such record, file or page.
    #[error("{0}")]
    NotFound(String),
    /// Signed in, but not allowed (reviewer on an admin action).
    #[error("{0}")]
    Forbidden(String),
    /// The action conflicts with the record's state (e.g. 受付完了).
    #[error("{0}")]
    Conflict(String),
    /// Something broke; not the official's fault.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl WebError {
    /// The usual "not found" page: no such record, or its file is gone.
    pub fn not_found() -> Self {
        WebError::NotFound(crate::messages::web::not_found().into())
    }
}

impl From<QueueError> for WebError {
    fn from(err: QueueError) -> Self {
        match err {
            QueueError::NotFound(_) => WebError::NotFound(err.to_string()),
            QueueError::Internal(e) => WebError::Internal(e),
            QueueError::Completed { .. }
            | QueueError::NotInReview { .. }
            | QueueError::Superseded { .. } => WebError::Conflict(err.to_string()),
            _ => WebError::BadInput(err.to_string()),
        }
    }
}

impl From<sqlx::Error> for WebError {
    fn from(err: sqlx::Error) -> Self {
        WebError::Internal(err.into())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            WebError::BadInput(m) => (StatusCode::UNPROCESSABLE_ENTITY, m.clone()),
            WebError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            WebError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            WebError::Conflict(m) => (StatusCode::CONFLICT, m.clone()),
            WebError::Internal(e) => {
                tracing::error!("web: {e:#}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    crate::messages::web::internal_error().to_string(),
                )
            }
        };
        error_page(status, &message)
    }
}

/// A minimal error page that needs no template engine (so it works even
/// when rendering is what failed). The message is escaped.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>{code} エラー</title>\
         <style>body{{font-family:sans-serif;max-width:40em;margin:3em auto;line-height:1.7}}\
         .box{{border:1px solid #c33;background:#fdecec;padding:1em 1.5em;border-radius:6px}}</style></head>\
         <body><div class=\"box\"><h1>{code}</h1><p>{msg}</p></div>\
         <p><a href=\"/queue\">受付一覧へ</a></p></body></html>",
        code = status.as_u16(),
        msg = escape_html(message)
    );
    (status, Html(body)).into_response()
}

/// Escapes text for HTML.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_table_lists_every_route_once_and_login_is_the_only_public_one() {
        let table = route_table();
        let public: Vec<_> = table
            .iter()
            .filter(|r| r.access == Access::Public)
            .map(|r| r.path)
            .collect();
        assert_eq!(public, vec!["/login", "/login"]);
        let mut seen: Vec<_> = table.iter().map(|r| (r.method, r.path)).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), table.len());
        assert!(
            table
                .iter()
                .any(|r| r.path == "/admin/quarantine" && r.access == Access::Admin)
        );
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<script>a&'\"</script>"),
            "&lt;script&gt;a&amp;&#39;&quot;&lt;/script&gt;"
        );
    }
}
