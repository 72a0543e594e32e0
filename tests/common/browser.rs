//! The web UI under test: the whole app on a free loopback port against a
//! fresh database ([`TestApp`]), a small HTTP client for security tests
//! ([`Http`]), and headless Chromium driven over WebDriver ([`Browser`]).
//!
//! The HTTP and WebDriver clients are a few dozen lines over a TCP socket so
//! the tests need no extra crates; both only ever talk to 127.0.0.1.

use super::db::TestDb;
use chrono::{DateTime, NaiveDate, Utc};
use sos_intake::config::{Config, Settings};
use sos_intake::prefecture::Prefecture;
use sos_intake::queue::{self, SheetFiling};
use sos_intake::request::{Institution, Item, ItemLine, Method, Need, Outlook, PrefectureDecision};
use sos_intake::validation::{Finding, Severity};
use sos_intake::web::{self, AppState, auth};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The password of the accounts [`TestApp`] creates.
pub const PASSWORD: &str = "correct-horse-battery";
/// A reviewer account.
pub const REVIEWER: &str = "審査 花子";
/// An admin account.
pub const ADMIN: &str = "管理 太郎";
/// The address the test configuration lists for 東京都.
pub const TOKYO_ADDRESS: &str = "sos@fukushi.metro.tokyo.lg.jp";

/// The app, served on 127.0.0.1:<free port> until dropped.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The address.
    pub addr: SocketAddr,
    /// The database the app uses.
    pub test_db: TestDb,
    /// The settings the app runs with.
    pub settings: Settings,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    /// Serves the app against a fresh SQLite database.
    pub async fn sqlite() -> TestApp {
        TestApp::spawn(TestDb::sqlite().await).await
    }

    /// Serves the app against a fresh PostgreSQL database.
    pub async fn postgres() -> TestApp {
        TestApp::spawn(TestDb::postgres().await).await
    }

    /// Serves the app against `test_db`, with a reviewer and an admin.
    pub async fn spawn(test_db: TestDb) -> TestApp {
        TestApp::spawn_with(test_db, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with the configuration changed by `adjust`
    /// first (e.g. `[web.signin]` limits).
    pub async fn spawn_with(test_db: TestDb, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = Config::default();
        config
            .prefectures
            .insert("東京都".into(), vec![TOKYO_ADDRESS.into()]);
        adjust(&mut config);
        let settings = Settings {
            config,
            data_dir: test_db.dir.path().to_path_buf(),
            database_url: test_db.url.clone(),
        };
        {
            let mut conn = test_db.db.pool().acquire().await.expect("connection");
            auth::upsert_user(&mut conn, REVIEWER, auth::Role::Reviewer, PASSWORD)
                .await
                .expect("reviewer");
            auth::upsert_user(&mut conn, ADMIN, auth::Role::Admin, PASSWORD)
                .await
                .expect("admin");
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let state = AppState::new(settings.clone(), test_db.db.clone()).expect("app state");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            web::serve_on(listener, state, async {
                rx.await.ok();
            })
            .await
            .expect("web server");
        });
        TestApp {
            base: format!("http://{addr}"),
            addr,
            test_db,
            settings,
            shutdown: Some(tx),
        }
    }

    /// An HTTP client for this app.
    pub fn http(&self) -> Http {
        Http {
            addr: self.addr,
            cookies: Vec::new(),
        }
    }

    /// An HTTP client signed in as `name`, with the session's CSRF token.
    pub async fn signed_in(&self, name: &str) -> (Http, String) {
        let mut http = self.http();
        let csrf = http.login(name, PASSWORD).await;
        (http, csrf)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
    }
}

/// A sheet request as a prefecture would send it: 非滅菌手袋 requested,
/// 要, 国による直送, with one warning next to the total.
pub fn sample_filing(
    name: &str,
    code: &str,
    batch_date: NaiveDate,
    received_at: DateTime<Utc>,
) -> SheetFiling {
    let tokyo = Prefecture::parse("東京都").expect("東京都");
    let mut lines: Vec<ItemLine> = Item::ALL.iter().map(|i| ItemLine::empty(*i)).collect();
    if let Some(gloves) = lines.iter_mut().find(|l| l.item == Item::NonSterileGloves) {
        gloves.requested = true;
        gloves.stock = Some(1000);
        gloves.outlook = Some(Outlook::WithinOneWeek);
        gloves.weekly_use = Some(3000);
        gloves.weekly_purchase = Some(1000);
        gloves.reason = "欠品のため入荷未定".into();
        gloves.prefecture = PrefectureDecision {
            need: Some(Need::Needed),
            method: Some(Method::NationalDirect),
            prefecture_quantity: Some(0),
            national_quantity: Some(5000),
            total_quantity: Some(5000),
            opinion: "初回。卸の欠品で調達不可。".into(),
        };
    }
    SheetFiling {
        received_at,
        batch_date,
        batch_reason: None,
        prefecture: tokyo,
        institution: Institution {
            name: name.into(),
            code: code.into(),
            postcode: "160-0023".into(),
            prefecture: Some(tokyo),
            address: "東京都新宿区西新宿2-8-1".into(),
            phone: "03-1234-5678".into(),
            contact: "衛生 一郎".into(),
        },
        lines,
        findings: vec![Finding {
            severity: Severity::Warning,
            code: "prefecture.total.guideline".into(),
            cell: Some("K30".into()),
            field: "非滅菌手袋 総配布枚数".into(),
            value: "5000".into(),
            message: "総配布枚数が目安（4000枚）と異なります".into(),
            fact: None,
        }],
        source_message_sha256: None,
        attachment_sha256: None,
        attachment_name: String::new(),
        sheet_name: String::new(),
        actor: "test".into(),
        sender_trust: sos_intake::mailbox::senders::SenderTrust::Authenticated,
    }
}

/// Files `filing` and returns the record id.
pub async fn file(app: &TestApp, filing: &SheetFiling) -> i64 {
    let mut tx = app.test_db.db.begin().await.expect("begin");
    let outcome = queue::file_sheet(&mut tx, filing)
        .await
        .expect("file sheet");
    tx.commit().await.expect("commit");
    outcome.record_id
}

/// One HTTP response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every header `name`.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A minimal HTTP/1.1 client with a cookie jar, for loopback only.
#[derive(Clone)]
pub struct Http {
    addr: SocketAddr,
    /// Cookies (name, value) sent with every request.
    pub cookies: Vec<(String, String)>,
}

impl Http {
    /// GET `path`.
    pub async fn get(&mut self, path: &str) -> Response {
        self.send("GET", path, None).await
    }

    /// POST `fields` as a form to `path`.
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send("POST", path, Some(body.into_bytes())).await
    }

    /// POST a `multipart/form-data` form: text `fields`, then one file
    /// field `file` = (field name, file name, bytes), as a browser sends it.
    pub async fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &str, &[u8])>,
    ) -> Response {
        const BOUNDARY: &str = "----sosTestBoundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .into_bytes(),
            );
        }
        if let Some((name, file_name, bytes)) = file {
            body.extend(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n"
                )
                .into_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend(b"\r\n");
        }
        body.extend(format!("--{BOUNDARY}--\r\n").into_bytes());
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        self.send_typed("POST", path, Some(body), &content_type)
            .await
    }

    /// Sends one request and keeps any cookies the response sets.
    pub async fn send(&mut self, method: &str, path: &str, body: Option<Vec<u8>>) -> Response {
        self.send_typed(method, path, body, "application/x-www-form-urlencoded")
            .await
    }

    /// Like [`Http::send`], with the body's content type.
    pub async fn send_typed(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: &str,
    ) -> Response {
        let addr = self.addr;
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        if !cookie.is_empty() {
            head.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        if let Some(b) = &body {
            head.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend(body.unwrap_or_default());
        let resp = tokio::task::spawn_blocking(move || raw_exchange(addr, &bytes))
            .await
            .expect("http task");
        for v in resp.headers_named("set-cookie") {
            let Some((pair, _)) = v.split_once(';').or(Some((v, ""))) else {
                continue;
            };
            if let Some((k, val)) = pair.split_once('=') {
                self.cookies.retain(|(name, _)| name != k);
                if !val.is_empty() && !v.contains("Max-Age=0") {
                    self.cookies.push((k.to_string(), val.to_string()));
                }
            }
        }
        resp
    }

    /// Signs in through the form and returns the session's CSRF token.
    pub async fn login(&mut self, name: &str, password: &str) -> String {
        let form = self.get("/login").await;
        let token = hidden_value(&form.text(), "csrf").expect("login form has a csrf field");
        let resp = self
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
        assert_eq!(resp.status, 303, "login as {name} failed: {}", resp.text());
        let page = self.get("/queue").await;
        assert_eq!(page.status, 200);
        hidden_value(&page.text(), "csrf").expect("pages carry the session's csrf token")
    }
}

/// Exchanges one request over a fresh connection (blocking; loopback).
/// Stops reading at Content-Length (some servers keep the connection open
/// despite `Connection: close`).
pub fn raw_exchange(addr: SocketAddr, request: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(120))).ok();
    stream.write_all(request).expect("write request");
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if let Some(n) = length
                && raw.len() >= split + 4 + n
            {
                raw.truncate(split + 4 + n);
                break;
            }
            if head.contains("transfer-encoding: chunked") && raw.ends_with(b"0\r\n\r\n") {
                break;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read response: {e}"),
        }
    }
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

/// Percent-encodes a form value.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of the first hidden input `name` in a page.
pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html.find(&needle)? + needle.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

/// Where screenshots go: `target/test-output/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-output/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Headless Chromium behind its own chromedriver, closed when dropped.
pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    /// Where downloads land.
    pub downloads: tempfile::TempDir,
    _profile: tempfile::TempDir,
}

/// The WebDriver key value of Tab.
pub const KEY_TAB: &str = "\u{E004}";
/// The WebDriver key value of Enter.
pub const KEY_ENTER: &str = "\u{E007}";
/// The WebDriver key value of →.
pub const KEY_RIGHT: &str = "\u{E014}";
/// The WebDriver key value of ↑.
pub const KEY_UP: &str = "\u{E013}";
/// The WebDriver key value of Alt.
pub const KEY_ALT: &str = "\u{E00A}";

/// The WebDriver element key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// Starts chromedriver on a free port and opens a headless session.
    pub fn start() -> Browser {
        let port = free_port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (/usr/bin/chromedriver) must be installed");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let downloads = tempfile::tempdir().expect("download dir");
        let caps = serde_json::json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run",
                        "--disable-dev-shm-usage", "--window-size=1366,900", "--lang=ja",
                        format!("--user-data-dir={}", profile.path().display()),
                    ],
                    "prefs": {
                        "download.default_directory": downloads.path().display().to_string(),
                        "download.prompt_for_download": false,
                    },
                },
            }},
        });
        let mut b = Browser {
            driver,
            addr,
            session: String::new(),
            downloads,
            _profile: profile,
        };
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["sessionId"]
            .as_str()
            .expect("WebDriver session id")
            .to_string();
        b.call(
            "POST",
            &format!("/session/{}/goog/cdp/execute", b.session),
            Some(serde_json::json!({
                "cmd": "Browser.setDownloadBehavior",
                "params": { "behavior": "allow", "downloadPath": b.downloads.path().display().to_string() },
            })),
        );
        b
    }

    fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let body = body.map(|b| b.to_string().into_bytes());
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(b) = &body {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend(body.unwrap_or_default());
        let resp = raw_exchange(self.addr, &bytes);
        let v: serde_json::Value =
            serde_json::from_slice(&resp.body).unwrap_or(serde_json::Value::Null);
        assert!(
            resp.status < 400,
            "WebDriver {method} {path}: {} {}",
            resp.status,
            resp.text()
        );
        v["value"].clone()
    }

    fn s(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Opens `url`.
    pub fn goto(&mut self, url: &str) {
        let p = self.s("/url");
        self.call("POST", &p, Some(serde_json::json!({ "url": url })));
    }

    /// The current URL.
    pub fn url(&mut self) -> String {
        let p = self.s("/url");
        self.call("GET", &p, None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The page's HTML.
    pub fn source(&mut self) -> String {
        let p = self.s("/source");
        self.call("GET", &p, None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The page's HTML once `ready` holds for it, or after ten seconds (then
    /// the caller's assertion says what is missing). A click that submits a
    /// form returns before the next page has loaded, so read after it with
    /// this, not with [`Browser::source`].
    pub fn source_when(&mut self, ready: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let page = self.source();
            if ready(&page) || std::time::Instant::now() > deadline {
                return page;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The first element matching a CSS selector.
    pub fn find(&mut self, css: &str) -> String {
        let p = self.s("/element");
        let v = self.call(
            "POST",
            &p,
            Some(serde_json::json!({ "using": "css selector", "value": css })),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    /// How many elements match a CSS selector.
    pub fn count(&mut self, css: &str) -> usize {
        let p = self.s("/elements");
        let v = self.call(
            "POST",
            &p,
            Some(serde_json::json!({ "using": "css selector", "value": css })),
        );
        v.as_array().map(|a| a.len()).unwrap_or(0)
    }

    /// Clicks the element matching `css`.
    pub fn click(&mut self, css: &str) {
        let e = self.find(css);
        let p = self.s(&format!("/element/{e}/click"));
        self.call("POST", &p, Some(serde_json::json!({})));
    }

    /// Replaces the text of the input matching `css`.
    pub fn fill(&mut self, css: &str, text: &str) {
        let e = self.find(css);
        let p = self.s(&format!("/element/{e}/clear"));
        self.call("POST", &p, Some(serde_json::json!({})));
        let p = self.s(&format!("/element/{e}/value"));
        self.call("POST", &p, Some(serde_json::json!({ "text": text })));
    }

    /// Chooses `path` in the file input matching `css` (WebDriver types
    /// the path into it, as the file dialog would).
    pub fn upload(&mut self, css: &str, path: &std::path::Path) {
        let e = self.find(css);
        let p = self.s(&format!("/element/{e}/value"));
        self.call(
            "POST",
            &p,
            Some(serde_json::json!({ "text": path.display().to_string() })),
        );
    }

    /// Sets an input's value directly (date inputs take locale-specific
    /// typing; the value is what the form sends).
    pub fn set_value(&mut self, css: &str, value: &str) {
        let e = self.find(css);
        let p = self.s("/execute/sync");
        self.call(
            "POST",
            &p,
            Some(serde_json::json!({
                "script": "arguments[0].value = arguments[1];",
                "args": [{ ELEMENT: e }, value],
            })),
        );
    }

    /// The visible text of the element matching `css`.
    pub fn text(&mut self, css: &str) -> String {
        let e = self.find(css);
        let p = self.s(&format!("/element/{e}/text"));
        self.call("GET", &p, None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Presses keys as a keyboard would (WebDriver key actions, so the
    /// page's own default handling runs: focus moves, Enter submits,
    /// accesskeys fire). Each entry is a key value such as [`KEY_TAB`] or
    /// `"n"`; `modifier` (e.g. [`KEY_ALT`]) is held around each one.
    pub fn press(&mut self, keys: &[&str], modifier: Option<&str>) {
        let mut actions = Vec::new();
        for k in keys {
            if let Some(m) = modifier {
                actions.push(serde_json::json!({ "type": "keyDown", "value": m }));
            }
            actions.push(serde_json::json!({ "type": "keyDown", "value": k }));
            actions.push(serde_json::json!({ "type": "keyUp", "value": k }));
            if let Some(m) = modifier {
                actions.push(serde_json::json!({ "type": "keyUp", "value": m }));
            }
        }
        let p = self.s("/actions");
        self.call(
            "POST",
            &p,
            Some(serde_json::json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] })),
        );
    }

    /// The current value of the input matching `css` (what its form
    /// would send).
    pub fn value(&mut self, css: &str) -> String {
        let e = self.find(css);
        let p = self.s(&format!("/element/{e}/property/value"));
        self.call("GET", &p, None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The focused element's opening tag (`<a href=… id=…>`), to assert
    /// where the keyboard is.
    pub fn focused(&mut self) -> String {
        let p = self.s("/execute/sync");
        self.call(
            "POST",
            &p,
            Some(serde_json::json!({
                "script": "const e = document.activeElement; return e ? e.outerHTML.split('>')[0] + '>' : '';",
                "args": [],
            })),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Saves a PNG screenshot as `target/test-output/screenshots/<name>.png`.
    pub fn screenshot(&mut self, name: &str) -> PathBuf {
        use base64::Engine;
        let p = self.s("/screenshot");
        let v = self.call("GET", &p, None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("screenshot is base64");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Waits for a file to appear in the download directory.
    pub fn wait_for_download(&self, suffix: &str) -> Option<PathBuf> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(entries) = std::fs::read_dir(self.downloads.path()) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name.ends_with(suffix) {
                        return Some(e.path());
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        None
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let p = format!("/session/{}", self.session);
            let req = format!(
                "DELETE {p} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                self.addr
            );
            if let Ok(mut s) = TcpStream::connect(self.addr) {
                s.set_read_timeout(Some(Duration::from_secs(10))).ok();
                let _ = s.write_all(req.as_bytes());
                let mut sink = Vec::new();
                let _ = s.read_to_end(&mut sink);
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
