//! Security of the review desk over real HTTP: no route without signing in,
//! CSRF on every form, admin actions for admins only, user input escaped,
//! session cookies that cannot be read by scripts and end at log-out.

mod common;

use chrono::{NaiveDate, Utc};
use common::browser::{self, ADMIN, PASSWORD, REVIEWER, TestApp};
use sos_intake::web::{Access, route_table};

fn batch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

/// A concrete path for a route pattern.
fn concrete(path: &str, id: i64) -> String {
    path.replace("{id}", &id.to_string())
        .replace("{item}", "non_sterile_gloves")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_an_anonymous_request() {
    let app = TestApp::sqlite().await;
    let id = browser::file(
        &app,
        &browser::sample_filing("匿名テスト病院", "1312345679", batch(), Utc::now()),
    )
    .await;
    let mut http = app.http();
    let routes = route_table();
    assert!(
        routes.len() >= 15,
        "the route table lists the router's routes"
    );
    for route in routes.iter().filter(|r| r.access != Access::Public) {
        let path = concrete(route.path, id);
        let resp = match route.method {
            "GET" => http.get(&path).await,
            _ => {
                http.post_form(&path, &[("csrf", "x"), ("decision", "approve")])
                    .await
            }
        };
        let body = resp.text();
        assert!(
            !body.contains("匿名テスト病院"),
            "{} {path} leaked data",
            route.method
        );
        let is_download = path.starts_with("/exports/") || path.contains("/files/");
        if route.method == "GET" && !is_download {
            assert_eq!(
                resp.status, 303,
                "GET {path} must redirect to the sign-in page"
            );
            assert!(
                resp.header("location")
                    .unwrap_or_default()
                    .starts_with("/login?next="),
                "GET {path}"
            );
        } else {
            assert_eq!(resp.status, 401, "{} {path} must be refused", route.method);
        }
    }
    // A forged or expired session cookie is no better than none.
    http.cookies.push(("sos_session".into(), "0".repeat(64)));
    assert_eq!(http.get("/queue").await.status, 303);
    // The record was not touched by any of it.
    let mut conn = app.test_db.db.pool().acquire().await.unwrap();
    let record = sos_intake::queue::get(&mut conn, id).await.unwrap();
    assert!(record.lines.iter().all(|l| l.mhlw.approved.is_none()));
    assert_eq!(record.status.as_str(), "都道府県・国確認中");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_its_csrf_token_is_refused() {
    let app = TestApp::sqlite().await;
    let id = browser::file(
        &app,
        &browser::sample_filing("CSRFテスト病院", "1312345679", batch(), Utc::now()),
    )
    .await;
    let (mut http, csrf) = app.signed_in(REVIEWER).await;
    let path = format!("/requests/{id}/items/non_sterile_gloves/decision");
    let fields = [
        ("decision", "approve"),
        ("quantity", "4000"),
        ("ship_date", "2026-11-25"),
        ("reason", ""),
    ];
    let missing = http.post_form(&path, &fields).await;
    assert_eq!(missing.status, 403);
    let mut wrong = fields.to_vec();
    wrong.push(("csrf", "0000"));
    assert_eq!(http.post_form(&path, &wrong).await.status, 403);
    // Another session's token does not work either.
    let (_, other_csrf) = app.signed_in(ADMIN).await;
    let mut foreign = fields.to_vec();
    foreign.push(("csrf", &other_csrf));
    assert_eq!(http.post_form(&path, &foreign).await.status, 403);
    let completed = http
        .post_form(&format!("/requests/{id}/complete"), &[])
        .await;
    assert_eq!(completed.status, 403);
    let logout = http.post_form("/logout", &[]).await;
    assert_eq!(logout.status, 403, "log-out is a form too");
    {
        let mut conn = app.test_db.db.pool().acquire().await.unwrap();
        let record = sos_intake::queue::get(&mut conn, id).await.unwrap();
        assert!(
            record.lines.iter().all(|l| l.mhlw.approved.is_none()),
            "nothing was decided"
        );
    }
    let mut ok = fields.to_vec();
    ok.push(("csrf", &csrf));
    assert_eq!(http.post_form(&path, &ok).await.status, 303);
    let mut conn = app.test_db.db.pool().acquire().await.unwrap();
    let record = sos_intake::queue::get(&mut conn, id).await.unwrap();
    let gloves = record.lines.iter().find(|l| l.requested).unwrap();
    assert_eq!(
        (gloves.mhlw.approved, gloves.mhlw.quantity),
        (Some(true), Some(4000))
    );
    // The sign-in form has its own token: a login post without it fails.
    let mut anon = app.http();
    let resp = anon
        .post_form("/login", &[("name", REVIEWER), ("password", PASSWORD)])
        .await;
    assert_eq!(resp.status, 403);
    assert!(anon.cookies.iter().all(|(k, _)| k != "sos_session"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_cannot_use_admin_actions() {
    let app = TestApp::sqlite().await;
    let (mut reviewer, csrf) = app.signed_in(REVIEWER).await;
    let admin_routes: Vec<_> = route_table()
        .into_iter()
        .filter(|r| r.access == Access::Admin)
        .collect();
    assert!(admin_routes.len() >= 3);
    for route in &admin_routes {
        let path = concrete(route.path, 1);
        let resp = match route.method {
            "GET" => reviewer.get(&path).await,
            _ => {
                reviewer
                    .post_form(&path, &[("csrf", &csrf), ("prefecture", "東京都")])
                    .await
            }
        };
        assert_eq!(resp.status, 403, "reviewer on {} {path}", route.method);
    }
    let page = reviewer.get("/queue").await.text();
    assert!(
        !page.contains("/admin/quarantine"),
        "reviewers are not shown the admin menu"
    );
    let (mut admin, _) = app.signed_in(ADMIN).await;
    let resp = admin.get("/admin/quarantine").await;
    assert_eq!(resp.status, 200);
    assert!(resp.text().contains("隔離メール"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_input_is_escaped_on_every_page() {
    let app = TestApp::sqlite().await;
    let evil = "<script>alert('x')</script>病院";
    let id = browser::file(
        &app,
        &browser::sample_filing(evil, "13<marquee>12345679", batch(), Utc::now()),
    )
    .await;
    let (mut http, _) = app.signed_in(REVIEWER).await;
    for path in [
        "/queue?date=2026-11-20".to_string(),
        format!("/requests/{id}"),
        "/queue?date=all&q=%3Cscript%3E".into(),
    ] {
        let resp = http.get(&path).await;
        assert_eq!(resp.status, 200, "{path}");
        let html = resp.text();
        assert!(
            html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt;病院"),
            "{path}: the name shows as text"
        );
        assert!(!html.contains("<script>"), "{path}: no live script tag");
        assert!(
            !html.contains("<marquee>") && html.contains("13&lt;marquee&gt;12345679"),
            "{path}: no live markup from the code"
        );
    }
    let csp = http
        .get("/queue")
        .await
        .header("content-security-policy")
        .unwrap_or_default()
        .to_string();
    assert!(
        csp.contains("default-src 'none'"),
        "a CSP forbids scripts as a second line of defence"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookie_is_http_only_strict_and_ends_at_log_out() {
    let app = TestApp::sqlite().await;
    let mut http = app.http();
    let form = http.get("/login").await;
    let token = browser::hidden_value(&form.text(), "csrf").unwrap();
    let bad = http
        .post_form(
            "/login",
            &[
                ("csrf", &token),
                ("name", REVIEWER),
                ("password", "wrong-password"),
            ],
        )
        .await;
    assert_eq!(bad.status, 401);
    assert!(
        bad.text()
            .contains("ユーザー名またはパスワードが正しくありません")
    );
    assert!(http.cookies.iter().all(|(k, _)| k != "sos_session"));

    let form = http.get("/login").await;
    let token = browser::hidden_value(&form.text(), "csrf").unwrap();
    let ok = http
        .post_form(
            "/login",
            &[
                ("csrf", &token),
                ("name", REVIEWER),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303);
    assert_eq!(
        ok.header("location"),
        Some("/queue"),
        "no open redirect after sign-in"
    );
    let cookie = ok
        .headers_named("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("sos_session="))
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/"),
        "{cookie}"
    );
    let token_value = cookie
        .trim_start_matches("sos_session=")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(token_value.len(), 64, "256-bit token, hex");
    {
        // Only the token's hash is stored.
        let mut conn = app.test_db.db.pool().acquire().await.unwrap();
        let stored: Vec<(String,)> = sqlx::query_as("SELECT token_sha256 FROM web_sessions")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        assert!(stored.iter().all(|(t,)| *t != token_value));
        assert!(
            stored
                .iter()
                .any(|(t,)| *t == sos_intake::web::auth::token_digest(&token_value))
        );
    }
    let page = http.get("/queue").await;
    assert_eq!(page.status, 200);
    let csrf = browser::hidden_value(&page.text(), "csrf").unwrap();
    let saved = http.cookies.clone();
    let out = http.post_form("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    // The old cookie no longer opens anything.
    let mut replay = app.http();
    replay.cookies = saved;
    assert_eq!(replay.get("/queue").await.status, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_refused() {
    let app = TestApp::sqlite().await;
    let (mut http, _) = app.signed_in(REVIEWER).await;
    assert_eq!(http.get("/queue").await.status, 200);
    sqlx::query("UPDATE web_sessions SET expires_at = '2000-01-01T00:00:00.000000Z'")
        .execute(app.test_db.db.pool())
        .await
        .unwrap();
    let resp = http.get("/queue").await;
    assert_eq!(resp.status, 303);
    assert!(
        resp.header("location")
            .unwrap_or_default()
            .starts_with("/login")
    );
    assert_eq!(
        http.get("/exports/delivery.csv?date=2026-11-20")
            .await
            .status,
        401
    );
}
