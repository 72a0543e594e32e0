//! Sign-in that withstands guessing (issue 11, point 7), over real HTTP on
//! a free loopback port: wrong passwords make the next attempt wait longer
//! and longer and then lock the account (also the right password is
//! refused while locked, in Japanese, and works again after the lock); one
//! client address guessing many names is limited too; every hostile `next`
//! ends on a page of this site; the session cookie is `Secure` off
//! loopback only; password checks beyond the cap are refused at once and
//! never stall other pages.

mod common;

use common::browser::{ADMIN, PASSWORD, REVIEWER, Response, TestApp, encode, hidden_value};
use common::db::TestDb;
use sos_intake::config::Config;
use sqlx::Row;
use std::time::{Duration, Instant};

/// One sign-in attempt through the form: a fresh form (CSRF pair), then
/// the POST.
async fn attempt(app: &TestApp, name: &str, password: &str, next: &str) -> Response {
    let mut http = app.http();
    let form = http.get("/login").await;
    let csrf = hidden_value(&form.text(), "csrf").expect("the form has a csrf field");
    http.post_form(
        "/login",
        &[
            ("csrf", &csrf),
            ("name", name),
            ("password", password),
            ("next", next),
        ],
    )
    .await
}

fn retry_after(resp: &Response) -> u64 {
    resp.header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a refusal carries Retry-After: {:?}", resp.headers))
}

/// The wait stored after the last failure of `subject`, as the database
/// holds it (Retry-After alone, rounded to whole seconds on a loaded
/// machine, would not show the growth reliably).
async fn stored_wait(app: &TestApp, subject: &str) -> Duration {
    let row = sqlx::query(
        "SELECT last_failure_at, blocked_until FROM web_signin_failures WHERE subject = $1",
    )
    .bind(subject)
    .fetch_one(app.test_db.db.pool())
    .await
    .unwrap();
    let at = sos_intake::queue::db::parse_time(&row.get::<String, _>(0)).unwrap();
    let until = sos_intake::queue::db::parse_time(&row.get::<String, _>(1)).unwrap();
    (until - at).to_std().unwrap()
}

/// Limits that make the account side quick to test: two free failures,
/// then waits of 2 s and 4 s, a 3-second lock at the fifth.
fn quick_account_limits(config: &mut Config) {
    let s = &mut config.web.signin;
    s.free_failures = 2;
    s.first_delay_ms = 2000;
    s.max_delay_ms = 8000;
    s.lock_after = 5;
    s.lock_secs = 3;
    s.address_free_failures = 1000;
    s.address_lock_after = 0;
}

async fn wrong_passwords_wait_longer_then_lock_then_unlock(test_db: TestDb) {
    let app = TestApp::spawn_with(test_db, quick_account_limits).await;
    for _ in 0..2 {
        let r = attempt(&app, REVIEWER, "wrong", "").await;
        assert_eq!(r.status, 401);
        assert!(
            r.text()
                .contains("ユーザー名またはパスワードが正しくありません。")
        );
    }
    assert_eq!(attempt(&app, REVIEWER, "wrong", "").await.status, 401);
    // The third failure makes the next attempt wait 2 s, even with the
    // right password, which is not even looked at.
    let account = format!("account:{REVIEWER}");
    assert_eq!(stored_wait(&app, &account).await, Duration::from_secs(2));
    let waiting = attempt(&app, REVIEWER, PASSWORD, "").await;
    assert_eq!(waiting.status, 429, "{}", waiting.text());
    assert!(waiting.text().contains("秒後にもう一度お試しください。"));
    assert!((1..=2).contains(&retry_after(&waiting)));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(attempt(&app, REVIEWER, "wrong", "").await.status, 401);
    // The wait doubled.
    assert_eq!(
        stored_wait(&app, &account).await,
        Duration::from_secs(4),
        "the wait grows"
    );
    let waiting = attempt(&app, REVIEWER, "wrong", "").await;
    assert_eq!(waiting.status, 429);
    assert!((1..=4).contains(&retry_after(&waiting)));
    tokio::time::sleep(Duration::from_millis(4100)).await;
    // The fifth failure locks the account.
    assert_eq!(attempt(&app, REVIEWER, "wrong", "").await.status, 401);
    let locked = attempt(&app, REVIEWER, PASSWORD, "").await;
    assert_eq!(locked.status, 429);
    assert!(
        locked.text().contains(
            "ログインの試行が続けて失敗したため、このアカウントは一時的にロックされています。1 分後にもう一度お試しください。"
        ),
        "{}",
        locked.text()
    );
    assert!(
        locked
            .header("set-cookie")
            .is_none_or(|c| !c.contains("sos_session"))
    );
    // The lock is in the database, so every gateway sharing it sees it.
    {
        let row =
            sqlx::query("SELECT failures, locked FROM web_signin_failures WHERE subject = $1")
                .bind(format!("account:{REVIEWER}"))
                .fetch_one(app.test_db.db.pool())
                .await
                .unwrap();
        assert_eq!(row.get::<i64, _>(0), 5);
        assert_eq!(row.get::<i64, _>(1), 1);
    }
    // Another account from the same address is not affected.
    assert_eq!(attempt(&app, ADMIN, PASSWORD, "").await.status, 303);
    // After the lock, the right password works and the count starts over.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(attempt(&app, REVIEWER, PASSWORD, "").await.status, 303);
    for _ in 0..2 {
        assert_eq!(attempt(&app, REVIEWER, "wrong", "").await.status, 401);
    }

    // A name that does not exist is answered word for word the same way,
    // so the limits do not tell which names exist.
    for _ in 0..3 {
        assert_eq!(attempt(&app, "存在 しない", "wrong", "").await.status, 401);
    }
    assert_eq!(
        stored_wait(&app, "account:存在 しない").await,
        Duration::from_secs(2)
    );
    let ghost = attempt(&app, "存在 しない", "wrong", "").await;
    assert_eq!(ghost.status, 429, "{}", ghost.text());
    assert!(ghost.text().contains("秒後にもう一度お試しください。"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wrong_passwords_wait_longer_then_lock_then_unlock() {
    wrong_passwords_wait_longer_then_lock_then_unlock(TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_wrong_passwords_wait_longer_then_lock_then_unlock() {
    wrong_passwords_wait_longer_then_lock_then_unlock(TestDb::postgres().await).await;
}

async fn one_address_guessing_many_names_is_locked_out(test_db: TestDb) {
    let app = TestApp::spawn_with(test_db, |c| {
        let s = &mut c.web.signin;
        s.free_failures = 1000;
        s.lock_after = 0;
        s.address_free_failures = 3;
        s.address_lock_after = 6;
        s.first_delay_ms = 2000;
        s.max_delay_ms = 2000;
        s.lock_secs = 600;
    })
    .await;
    for i in 0..6 {
        let r = attempt(&app, &format!("guess-{i}"), "wrong", "").await;
        assert_eq!(r.status, 401, "guess {i}: {}", r.text());
        if (3..5).contains(&i) {
            // The fourth and fifth failures make the next attempt, under
            // any name, wait 2 s.
            let early = attempt(&app, &format!("other-{i}"), "wrong", "").await;
            assert_eq!(early.status, 429, "guess {i}: {}", early.text());
            assert!(early.text().contains("秒後にもう一度お試しください。"));
            tokio::time::sleep(Duration::from_millis(2100)).await;
        }
    }
    // Six failures from this address: every name is refused, the right
    // password included, with the address message.
    let r = attempt(&app, REVIEWER, PASSWORD, "").await;
    assert_eq!(r.status, 429);
    assert!(
        r.text().contains(
            "この接続元からのログインの失敗が続いたため、一時的にログインを受け付けていません。10 分後にもう一度お試しください。"
        ),
        "{}",
        r.text()
    );
    assert_eq!(retry_after(&r), 600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_one_address_guessing_many_names_is_locked_out() {
    one_address_guessing_many_names_is_locked_out(TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_one_address_guessing_many_names_is_locked_out() {
    one_address_guessing_many_names_is_locked_out(TestDb::postgres().await).await;
}

/// Undoes minijinja's HTML escaping of an attribute value.
fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_next_ends_on_a_page_of_this_site() {
    let app = TestApp::sqlite().await;
    let hostile = [
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/%09/evil.example",
        "/\t/evil.example",
        "/%2F%2Fevil.example",
        "/%2f/evil.example",
        "/%252F%252Fevil.example",
        "/%5Cevil.example",
        "https://evil.example",
        "http:evil.example",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        " /x",
        "/x\r\nSet-Cookie: sos_session=stolen",
        "/x%0d%0aSet-Cookie:%20sos_session=stolen",
        "/x\u{0}",
        "/\u{3000}evil.example",
        "evil.example",
        "/login?next=//evil.example",
        "",
    ];
    for next in hostile {
        // The form does not carry it on …
        let mut http = app.http();
        let form = http.get(&format!("/login?next={}", encode(next))).await;
        assert_eq!(form.status, 200, "{next:?}");
        let carried = unescape(&hidden_value(&form.text(), "next").expect("next field"));
        assert_eq!(carried, "/queue", "GET /login?next={next:?}");
        // … and a forged form posting it straight is no better.
        let r = attempt(&app, REVIEWER, PASSWORD, next).await;
        assert_eq!(r.status, 303, "{next:?}: {}", r.text());
        assert_eq!(r.header("location"), Some("/queue"), "next={next:?}");
        assert!(
            r.headers_named("set-cookie")
                .iter()
                .all(|c| !c.contains("stolen")),
            "{next:?}"
        );
    }
    for (next, location) in [
        ("/requests?date=2026-12-01", "/requests?date=2026-12-01"),
        ("/requests/42", "/requests/42"),
        ("/queue?q=病院", "/queue?q=%E7%97%85%E9%99%A2"),
    ] {
        let r = attempt(&app, REVIEWER, PASSWORD, next).await;
        assert_eq!(r.status, 303);
        assert_eq!(r.header("location"), Some(location), "{next:?}");
    }
    // The redirect of an anonymous visit keeps its query through sign-in.
    let mut http = app.http();
    let bounce = http.get("/queue?date=2026-12-01").await;
    let login_url = bounce.header("location").expect("to the sign-in page");
    let form = http.get(login_url).await;
    let carried = unescape(&hidden_value(&form.text(), "next").expect("next field"));
    assert_eq!(carried, "/queue?date=2026-12-01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_secure_off_loopback_only() {
    use sos_intake::web::auth::cookies_must_be_secure;
    assert!(!cookies_must_be_secure("127.0.0.1:8080", false));
    assert!(!cookies_must_be_secure("[::1]:8080", false));
    assert!(cookies_must_be_secure("0.0.0.0:8080", false));
    assert!(cookies_must_be_secure("192.0.2.10:8080", false));
    assert!(cookies_must_be_secure("127.0.0.1:8080", true));

    let session_cookie = |r: &Response| -> String {
        r.headers_named("set-cookie")
            .into_iter()
            .find(|c| c.starts_with("sos_session=") && !c.contains("Max-Age=0"))
            .expect("a session cookie")
            .to_string()
    };
    let loopback = TestApp::sqlite().await;
    let r = attempt(&loopback, REVIEWER, PASSWORD, "").await;
    assert_eq!(r.status, 303);
    let cookie = session_cookie(&r);
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));

    // Configured to listen on every interface: Secure, on every cookie.
    let open = TestApp::spawn_with(TestDb::sqlite().await, |c| {
        c.web.listen = "0.0.0.0:8080".into();
    })
    .await;
    let form = open.http().get("/login").await;
    assert!(
        form.headers_named("set-cookie")
            .iter()
            .all(|c| c.contains("; Secure")),
        "{:?}",
        form.headers
    );
    let r = attempt(&open, REVIEWER, PASSWORD, "").await;
    assert_eq!(r.status, 303);
    assert!(session_cookie(&r).contains("; Secure"));
}

/// A password hash that takes long to check (argon2id, 32 MiB, 24 passes).
fn slow_hash(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(32 * 1024, 24, 1, None).unwrap();
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_beyond_the_cap_are_refused_and_pages_keep_answering() {
    let app = TestApp::spawn_with(TestDb::sqlite().await, |c| {
        c.web.signin.max_concurrent_checks = 2;
        c.web.signin.free_failures = 1000;
        c.web.signin.address_free_failures = 1000;
    })
    .await;
    let hash = tokio::task::spawn_blocking(|| slow_hash(PASSWORD))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO web_users (name, role, password_hash, created_at, updated_at) \
         VALUES ('遅い 確認', 'reviewer', $1, '2026-12-01T00:00:00Z', '2026-12-01T00:00:00Z')",
    )
    .bind(&hash)
    .execute(app.test_db.db.pool())
    .await
    .unwrap();

    // Two slow checks take both permits (more than the runtime's two
    // worker threads could spare if they ran on them).
    let started = Instant::now();
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let mut http = app.http();
            tokio::spawn(async move {
                let form = http.get("/login").await;
                let csrf = hidden_value(&form.text(), "csrf").unwrap();
                let r = http
                    .post_form(
                        "/login",
                        &[
                            ("csrf", &csrf),
                            ("name", "遅い 確認"),
                            ("password", "wrong"),
                            ("next", ""),
                        ],
                    )
                    .await;
                (r.status, started.elapsed())
            })
        })
        .collect();
    // Wait until both checks are running, then: another sign-in is refused
    // at once, and other pages answer while the checks go on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let busy = attempt(&app, REVIEWER, PASSWORD, "").await;
    let busy_at = started.elapsed();
    assert_eq!(busy.status, 503, "{}", busy.text());
    assert!(busy.text().contains("混み合っています"));
    let page = app.http().get("/login").await;
    let page_at = started.elapsed();
    assert_eq!(page.status, 200);
    let mut first_done = Duration::MAX;
    for task in slow {
        let (status, done) = task.await.unwrap();
        assert_eq!(status, 401);
        first_done = first_done.min(done);
    }
    assert!(
        busy_at < first_done && page_at < first_done,
        "answered at {busy_at:?} and {page_at:?}, while the checks ran until {first_done:?}"
    );
    // With the permits back, sign-in works again.
    assert_eq!(attempt(&app, REVIEWER, PASSWORD, "").await.status, 303);
}
