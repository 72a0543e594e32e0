//! The middleware every protected route passes through: who is signed in
//! (session cookie), the CSRF token of every POST, the admin check, and the
//! security headers of every response.

use super::auth::{self, SESSION_COOKIE, Staff};
use super::{AppState, error_page};
use crate::messages::web as msg;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

/// The largest form body accepted (decisions and reasons are short).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The largest upload accepted (a G-MIS export of a busy week is a few
/// megabytes; this leaves ample room and still bounds memory).
pub const MAX_UPLOAD_BYTES: usize = 16 * 1024 * 1024;

/// The name of the hidden field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// Lets a request through only with a live session: puts the [`Staff`] into
/// the request's extensions and, for POST, checks the form's CSRF token.
/// Anonymous page views are sent to the sign-in page; anonymous downloads and
/// form posts get 401.
pub async fn require_staff(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let token = session_token(&req);
    let staff = match session_of(&state, token).await {
        Ok(staff) => staff,
        Err(resp) => return resp,
    };
    let Some(staff) = staff else {
        return anonymous(&req);
    };
    let mut req = if req.method() == Method::POST {
        match check_csrf(req, &staff).await {
            Ok(req) => req,
            Err(resp) => return resp,
        }
    } else {
        req
    };
    if staff.must_change_password && !allowed_before_password_change(req.uri().path()) {
        return if req.method() == Method::GET {
            Redirect::to("/account?notice=must_change").into_response()
        } else {
            error_page(StatusCode::FORBIDDEN, msg::must_change_password())
        };
    }
    req.extensions_mut().insert(staff);
    next.run(req).await
}

/// The pages a user signed in with a one-time password may use: the
/// password change and signing out.
fn allowed_before_password_change(path: &str) -> bool {
    matches!(path, "/account" | "/account/password" | "/logout")
}

/// Lets only admins through (runs inside [`require_staff`]).
pub async fn require_admin(req: Request, next: Next) -> Response {
    match req.extensions().get::<Staff>() {
        Some(staff) if staff.is_admin() => next.run(req).await,
        _ => error_page(StatusCode::FORBIDDEN, msg::admin_only()),
    }
}

/// Headers on every response: no framing, no sniffing, no caching of pages
/// with personal data, and a content policy that allows no scripts at all.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}

/// The session's staff member, `None` when there is no valid session.
async fn session_of(state: &AppState, token: Option<String>) -> Result<Option<Staff>, Response> {
    let Some(token) = token else { return Ok(None) };
    let mut conn = state.db().pool().acquire().await.map_err(|e| {
        tracing::error!("web: cannot get a database connection: {e}");
        error_page(StatusCode::SERVICE_UNAVAILABLE, msg::internal_error())
    })?;
    auth::session_staff(&mut conn, &token).await.map_err(|e| {
        tracing::error!("web: {e:#}");
        error_page(StatusCode::INTERNAL_SERVER_ERROR, msg::internal_error())
    })
}

/// The session token from the request's cookies.
pub fn session_token(req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| auth::cookie_value(h, SESSION_COOKIE).map(str::to_string))
        .filter(|t| !t.is_empty())
}

/// True for routes that return files rather than pages.
pub fn is_download(path: &str) -> bool {
    path.starts_with("/exports/") || path.contains("/files/")
}

fn anonymous(req: &Request) -> Response {
    let path = req.uri().path();
    if req.method() == Method::GET && !is_download(path) {
        let next = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/queue");
        let target = format!("/login?next={}", urlencode(next));
        return Redirect::to(&target).into_response();
    }
    error_page(StatusCode::UNAUTHORIZED, msg::login_required())
}

/// Reads the form body, checks its `csrf` field against the session's
/// token, and hands the request on with the same body.
/// File uploads (`multipart/form-data`) carry the token as a form field
/// too, read with the same multipart parser the handler uses.
async fn check_csrf(req: Request, staff: &Staff) -> Result<Request, Response> {
    let (parts, body) = req.into_parts();
    let boundary = multipart_boundary(&parts.headers);
    let limit = if boundary.is_some() {
        MAX_UPLOAD_BYTES
    } else {
        MAX_FORM_BYTES
    };
    let bytes: Bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| error_page(StatusCode::PAYLOAD_TOO_LARGE, msg::upload_too_large()))?;
    let sent = match boundary {
        Some(b) => multipart_fields(bytes.clone(), &b)
            .await
            .ok()
            .and_then(|fields| fields.into_iter().find(|f| f.name == CSRF_FIELD))
            .map(|f| String::from_utf8_lossy(&f.data).into_owned()),
        None => form_field(&bytes, CSRF_FIELD),
    };
    match sent {
        Some(token) if auth::same_secret(&token, &staff.csrf) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(error_page(StatusCode::FORBIDDEN, msg::csrf_refused())),
    }
}

/// The boundary of a `multipart/form-data` request, `None` for any other
/// body.
pub fn multipart_boundary(headers: &axum::http::HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    if !ct
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return None;
    }
    multer::parse_boundary(ct).ok()
}

/// One field of a multipart form.
#[derive(Clone, Debug)]
pub struct Part {
    /// The field's name.
    pub name: String,
    /// The uploaded file's name, for file fields.
    pub file_name: Option<String>,
    /// The field's bytes.
    pub data: Bytes,
}

/// Every field of a multipart body already in memory (bounded by
/// [`MAX_UPLOAD_BYTES`] before it gets here); malformed bodies are an
/// error, never a panic.
pub async fn multipart_fields(body: Bytes, boundary: &str) -> Result<Vec<Part>, multer::Error> {
    let stream = futures::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let constraints = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().whole_stream(MAX_UPLOAD_BYTES as u64));
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut parts = Vec::new();
    while let Some(field) = multipart.next_field().await? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let data = field.bytes().await?;
        parts.push(Part {
            name,
            file_name,
            data,
        });
    }
    Ok(parts)
}

/// The first value of `name` in an `application/x-www-form-urlencoded` body.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    body.split(|b| *b == b'&').find_map(|pair| {
        let mut kv = pair.splitn(2, |b| *b == b'=');
        let key = percent_decode(kv.next()?);
        (key == name).then(|| percent_decode(kv.next().unwrap_or_default()))
    })
}

/// Every value of `name` in an `application/x-www-form-urlencoded` body,
/// in order (check boxes send one per ticked box).
pub fn form_values(body: &[u8], name: &str) -> Vec<String> {
    body.split(|b| *b == b'&')
        .filter_map(|pair| {
            let mut kv = pair.splitn(2, |b| *b == b'=');
            let key = percent_decode(kv.next()?);
            (key == name).then(|| percent_decode(kv.next().unwrap_or_default()))
        })
        .collect()
}

/// Decodes `+` and `%XX` of a form value; invalid escapes stay as written.
fn percent_decode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a path for the `next` parameter.
pub fn urlencode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_decode() {
        let body = b"a=1&csrf=ab%2Bc+d&x=%E5%BF%85";
        assert_eq!(form_field(body, "csrf").as_deref(), Some("ab+c d"));
        assert_eq!(form_field(body, "x").as_deref(), Some("必"));
        assert_eq!(form_field(body, "none"), None);
        assert_eq!(form_field(b"csrf", "csrf").as_deref(), Some(""));
        assert_eq!(form_field(b"v=%zz%4", "v").as_deref(), Some("%zz%4"));
    }

    #[test]
    fn next_parameter_is_encoded() {
        assert_eq!(
            urlencode("/queue?date=2026-11-20&q=a b"),
            "/queue%3Fdate%3D2026-11-20%26q%3Da%20b"
        );
    }
}
