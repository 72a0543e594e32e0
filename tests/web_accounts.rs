//! Accounts in the browser (issue 13.2) over real HTTP on SQLite and
//! PostgreSQL: an admin adds an account with a one-time password, the user
//! must choose their own (rules enforced), admins disable, enable and
//! change roles, nobody locks themselves out, and sign-ins, failures and
//! account changes are in the audit list.

mod common;

use common::browser::{ADMIN, PASSWORD, REVIEWER, TestApp, hidden_value};

/// The one-time password shown once on the page.
fn issued_password(page: &str) -> String {
    let start = page
        .find("id=\"issued-password\"")
        .expect("issued password");
    let rest = &page[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest.find("</code>").unwrap();
    rest[open..close].to_string()
}

/// The id of the account row named `name`.
fn account_id(page: &str, name: &str) -> i64 {
    let at = page
        .find(&format!("class=\"name\">{name}"))
        .expect("account row");
    let row = &page[..at];
    let start = row.rfind("id=\"account-").unwrap() + "id=\"account-".len();
    let end = start + row[start..].find('"').unwrap();
    row[start..end].parse().unwrap()
}

/// Signs in with a one-time password (the queue is not reachable yet) and
/// returns the session's CSRF token from the password page.
async fn sign_in_with_one_time(
    http: &mut common::browser::Http,
    name: &str,
    password: &str,
) -> String {
    let form = http.get("/login").await.text();
    let token = hidden_value(&form, "csrf").unwrap();
    let resp = http
        .post_form(
            "/login",
            &[
                ("csrf", &token),
                ("name", name),
                ("password", password),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(resp.status, 303, "{}", resp.text());
    hidden_value(&http.get("/account").await.text(), "csrf").expect("csrf on the password page")
}

async fn accounts_are_managed_in_the_browser(app: TestApp) {
    let (mut admin, csrf) = app.signed_in(ADMIN).await;

    // Add: a one-time password, shown once.
    let page = admin
        .post_form(
            "/admin/accounts",
            &[("csrf", &csrf), ("name", "新人 次郎"), ("role", "reviewer")],
        )
        .await
        .text();
    let one_time = issued_password(&page);
    assert_eq!(one_time.chars().count(), 16);
    let id = account_id(&page, "新人 次郎");
    assert!(
        !admin
            .get("/admin/accounts")
            .await
            .text()
            .contains(&one_time),
        "shown once"
    );
    let again = admin
        .post_form(
            "/admin/accounts",
            &[("csrf", &csrf), ("name", "新人 次郎"), ("role", "admin")],
        )
        .await;
    assert_eq!(again.status, 422);
    assert!(again.text().contains("既に登録されています"));

    // The new user must choose a password before anything else.
    let mut user = app.http();
    let user_csrf = sign_in_with_one_time(&mut user, "新人 次郎", &one_time).await;
    let resp = user.get("/queue").await;
    assert_eq!(resp.status, 303);
    assert_eq!(resp.header("location"), Some("/account?notice=must_change"));
    let page = user.get("/account?notice=must_change").await.text();
    assert!(page.contains("一時パスワードでログインしています") && page.contains("12文字以上"));
    for (current, new, again, says) in [
        (
            "wrong-password",
            "kanri-2026-yuki",
            "kanri-2026-yuki",
            "現在のパスワードが正しくありません",
        ),
        (one_time.as_str(), "short", "short", "12文字以上"),
        (
            one_time.as_str(),
            "111111111111111",
            "111111111111111",
            "数字だけ",
        ),
        (
            one_time.as_str(),
            "新人 次郎-password",
            "新人 次郎-password",
            "ユーザー名を含めない",
        ),
        (
            one_time.as_str(),
            "kanri-2026-yuki",
            "kanri-2026-yukj",
            "一致しません",
        ),
    ] {
        let resp = user
            .post_form(
                "/account/password",
                &[
                    ("csrf", &user_csrf),
                    ("current", current),
                    ("password", new),
                    ("again", again),
                ],
            )
            .await;
        assert_eq!(resp.status, 422, "{says}");
        assert!(resp.text().contains(says), "{says}");
    }
    let resp = user
        .post_form(
            "/account/password",
            &[
                ("csrf", &user_csrf),
                ("current", &one_time),
                ("password", "kanri-2026-yuki"),
                ("again", "kanri-2026-yuki"),
            ],
        )
        .await;
    assert_eq!(resp.status, 303);
    assert_eq!(user.get("/queue").await.status, 200, "free to work now");
    // The one-time password no longer signs in; the new one does.
    let mut other = app.http();
    let form = other.get("/login").await.text();
    let token = hidden_value(&form, "csrf").unwrap();
    let bad = other
        .post_form(
            "/login",
            &[
                ("csrf", &token),
                ("name", "新人 次郎"),
                ("password", &one_time),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, 401);

    // Disable: the session ends and signing in fails; enable again.
    let resp = admin
        .post_form(&format!("/admin/accounts/{id}/disable"), &[("csrf", &csrf)])
        .await;
    assert_eq!(resp.status, 303);
    assert_eq!(user.get("/queue").await.status, 303, "signed out at once");
    let mut again_user = app.http();
    let form = again_user.get("/login").await.text();
    let token = hidden_value(&form, "csrf").unwrap();
    let refused = again_user
        .post_form(
            "/login",
            &[
                ("csrf", &token),
                ("name", "新人 次郎"),
                ("password", "kanri-2026-yuki"),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, 401);
    assert!(
        refused
            .text()
            .contains("ユーザー名またはパスワードが正しくありません")
    );
    let resp = admin
        .post_form(&format!("/admin/accounts/{id}/enable"), &[("csrf", &csrf)])
        .await;
    assert_eq!(resp.status, 303);
    let mut back = app.http();
    back.login("新人 次郎", "kanri-2026-yuki").await;

    // Role: reviewer → admin; the admin pages open after signing in again.
    assert_eq!(back.get("/admin/accounts").await.status, 403);
    let resp = admin
        .post_form(
            &format!("/admin/accounts/{id}/role"),
            &[("csrf", &csrf), ("role", "admin")],
        )
        .await;
    assert_eq!(resp.status, 303);
    let mut promoted = app.http();
    promoted.login("新人 次郎", "kanri-2026-yuki").await;
    assert_eq!(promoted.get("/admin/accounts").await.status, 200);

    // A new one-time password for a forgotten one.
    let page = admin
        .post_form(
            &format!("/admin/accounts/{id}/password"),
            &[("csrf", &csrf)],
        )
        .await
        .text();
    assert_eq!(issued_password(&page).chars().count(), 16);
    assert_eq!(promoted.get("/queue").await.status, 303, "sessions ended");

    // Nobody disables or demotes themselves.
    let page = admin.get("/admin/accounts").await.text();
    let me = account_id(&page, ADMIN);
    for action in ["disable", "role"] {
        let resp = admin
            .post_form(
                &format!("/admin/accounts/{me}/{action}"),
                &[("csrf", &csrf), ("role", "reviewer")],
            )
            .await;
        assert_eq!(resp.status, 409, "{action} on oneself");
    }

    // The audit list: sign-ins, failures and every change, as sentences.
    let page = admin.get("/admin/accounts").await.text();
    let audit = &page[page.find("id=\"account-audit\"").unwrap()..];
    for words in [
        "アカウント「新人 次郎」（審査担当）を追加し、一時パスワードを発行しました。",
        "ログイン失敗",
        "からログインしました。",
        "アカウント「新人 次郎」を無効にしました。",
        "アカウント「新人 次郎」を有効にしました。",
        "アカウント「新人 次郎」の権限を審査担当から管理者に変更しました。",
        "アカウント「新人 次郎」に一時パスワードを発行しました。",
        "自分のパスワードを変更しました。",
    ] {
        assert!(audit.contains(words), "{words}");
    }
}

async fn account_routes_need_csrf_and_the_admin_role(app: TestApp) {
    let (mut reviewer, csrf) = app.signed_in(REVIEWER).await;
    let resp = reviewer
        .post_form(
            "/admin/accounts",
            &[("csrf", &csrf), ("name", "侵入"), ("role", "admin")],
        )
        .await;
    assert_eq!(resp.status, 403);
    assert_eq!(reviewer.get("/admin/accounts").await.status, 403);
    assert!(
        !reviewer
            .get("/queue")
            .await
            .text()
            .contains("/admin/accounts")
    );
    let resp = reviewer
        .post_form(
            "/account/password",
            &[
                ("current", PASSWORD),
                ("password", "kanri-2026-yuki"),
                ("again", "kanri-2026-yuki"),
            ],
        )
        .await;
    assert_eq!(resp.status, 403, "password change without CSRF");
    let (mut admin, _) = app.signed_in(ADMIN).await;
    let resp = admin
        .post_form("/admin/accounts", &[("name", "侵入"), ("role", "admin")])
        .await;
    assert_eq!(resp.status, 403, "add without CSRF");
    assert!(!admin.get("/admin/accounts").await.text().contains("侵入"));
    // The reviewer's own password still works: nothing changed.
    let mut again = app.http();
    again.login(REVIEWER, PASSWORD).await;
}

macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(TestApp::sqlite().await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(TestApp::postgres().await).await;
            }
        }
    };
}

on_both!(accounts_are_managed_in_the_browser);
on_both!(account_routes_need_csrf_and_the_admin_role);
