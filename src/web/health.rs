//! The monitoring endpoints, outside the staff session: `GET /healthz`
//! (the process answers), `GET /readyz` (see [`crate::ops::readiness`];
//! 503 when not ready) and `GET /metrics` (Prometheus text format).
//!
//! They answer loopback clients; any other client must send
//! `Authorization: Bearer <token>` with the token of `[health] token_file`
//! or `token_env`. Without a configured token, other clients get 403:
//! readiness details and counts are not for the whole network.
//!
//! [`count_requests`] counts every routed web request for `/metrics`.

use super::AppState;
use crate::observe::monitor;
use crate::ops::readiness;
use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use std::net::SocketAddr;

/// The three monitoring routes with their access rule.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn_with_state(state, allow))
}

/// Lets loopback clients and holders of the bearer token through.
async fn allow(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let token = match state.settings().config.health.token() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("[health] token: {e:#}");
            None
        }
    };
    if allowed(peer, req.headers(), token.as_deref()) {
        next.run(req).await
    } else {
        (
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({"error": "loopback clients or a bearer token only"})),
        )
            .into_response()
    }
}

/// True for a loopback peer, or a request carrying the configured token.
pub fn allowed(peer: Option<SocketAddr>, headers: &HeaderMap, token: Option<&str>) -> bool {
    if peer.is_some_and(|p| p.ip().to_canonical().is_loopback()) {
        return true;
    }
    let (Some(token), Some(given)) = (token, bearer(headers)) else {
        return false;
    };
    constant_time_eq(token.as_bytes(), given.as_bytes())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    parse_bearer(headers.get(header::AUTHORIZATION)?.to_str().ok()?)
}

/// The token of an `Authorization: Bearer <token>` value (scheme in any
/// case, surrounding blanks trimmed); None for any other scheme.
pub fn parse_bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Compares without stopping at the first difference, so timing does not
/// tell how much of a guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let report = readiness::check(state.db(), state.settings()).await;
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report)).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let db = state.db();
    let pool = db.pool();
    monitor::global().set_pool(pool.size(), pool.num_idle());
    // Refreshes the last-success time of connected mailboxes.
    monitor::global().sources();
    match crate::queue::health::sizes(db).await {
        Ok(sizes) => monitor::global().set_queue_sizes(sizes.gauges()),
        Err(e) => tracing::warn!("/metrics: {e:#}"),
    }
    match monitor::global().encode() {
        Ok(text) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Err(e) => {
            tracing::error!("/metrics: {e:#}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Counts each routed request by its route pattern (never the raw path, so
/// record ids do not make new series), method and status.
pub async fn count_requests(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let response = next.run(req).await;
    monitor::global().http_request(&route, &method, response.status().as_u16());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, a.parse().unwrap());
        }
        h
    }

    #[test]
    fn loopback_or_token() {
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        let remote: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        assert!(allowed(Some(local), &headers(None), None));
        assert!(allowed(Some(mapped), &headers(None), None));
        assert!(!allowed(Some(remote), &headers(None), None));
        assert!(!allowed(None, &headers(None), None));
        assert!(!allowed(
            Some(remote),
            &headers(Some("Bearer s3cret")),
            None
        ));
        assert!(allowed(
            Some(remote),
            &headers(Some("Bearer s3cret")),
            Some("s3cret")
        ));
        assert!(allowed(
            Some(remote),
            &headers(Some("bearer s3cret")),
            Some("s3cret")
        ));
        assert!(!allowed(
            Some(remote),
            &headers(Some("Bearer s3cre")),
            Some("s3cret")
        ));
        assert!(!allowed(
            Some(remote),
            &headers(Some("Basic s3cret")),
            Some("s3cret")
        ));
    }
}
