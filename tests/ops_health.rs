//! Issue 14: `/healthz`, `/readyz`, `/metrics` and `sos-intake status` of a
//! real `sos-intake serve` process, against a real Dovecot (the mail lab),
//! SQLite and PostgreSQL.
//!
//! - Readiness turns false when Dovecot is stopped and true again after it
//!   is back; `/metrics` parses with a Prometheus text parser and its
//!   counters move as a mail is processed and its reply goes out through
//!   Postfix.
//! - Readiness turns false when the outbox is stuck (`serve --no-send`),
//!   and `status` (human and `--json`) says so.
//! - Readiness turns false when the PostgreSQL database goes away.

mod common;
#[path = "imap_lab/mod.rs"]
mod lab;

use common::browser::{Response, free_port, raw_exchange};
use common::db::{TestDb, postgres_admin_url};
use common::maillab::{MailLab, signal_and_reap};
use lab::{append, sheet_mail};
use sos_intake::config::Tls;
use sqlx::{Connection, Executor};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The Tokyo sender of `sheet_mail`.
const TOKYO: &str = "sos@fukushi.metro.tokyo.lg.jp";

/// A running `sos-intake serve`, stopped when dropped.
struct Gateway {
    child: Option<Child>,
    log: PathBuf,
    web: SocketAddr,
    config: PathBuf,
    database_url: String,
}

impl Gateway {
    /// Writes a configuration (`extra` appended) into `dir` and starts
    /// `serve` with `args` on `database_url`.
    fn start(dir: &Path, database_url: &str, extra: &str, args: &[&str]) -> Gateway {
        let port = free_port();
        let web: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let text = format!(
            "data_dir = \"{data}\"\nsos_address = \"sos-busshi@mhlw.go.jp\"\n\
             [prefectures]\n\"東京都\" = [\"{TOKYO}\"]\n\
             [mail]\nreply_rate_limit_per_hour = 100000\npoll_interval_ms = 100\n\
             [web]\nlisten = \"{web}\"\n{extra}",
            data = dir.join("data").display(),
        );
        let config = dir.join("sos-intake.toml");
        std::fs::write(&config, text).unwrap();
        let log = dir.join("serve.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = sos_intake(&config, database_url)
            .arg("serve")
            .args(args)
            .env("RUST_LOG", "info,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start sos-intake serve");
        Gateway {
            child: Some(child),
            log,
            web,
            config,
            database_url: database_url.to_string(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn get(&self, path: &str) -> Response {
        let addr = self.web;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        tokio::task::spawn_blocking(move || raw_exchange(addr, request.as_bytes()))
            .await
            .unwrap()
    }

    /// Waits until the web port answers `/healthz`.
    async fn wait_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(self.web).is_err() {
            assert!(
                Instant::now() < deadline,
                "serve did not listen:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let health = self.get("/healthz").await;
        assert_eq!(health.status, 200, "{}", health.text());
        let body: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
        assert_eq!(body["status"], "ok");
    }

    /// Waits until `/readyz` answers `ready` and returns the body.
    async fn wait_ready(&self, ready: bool, limit: Duration) -> serde_json::Value {
        let deadline = Instant::now() + limit;
        loop {
            let r = self.get("/readyz").await;
            let body: serde_json::Value = serde_json::from_slice(&r.body)
                .unwrap_or_else(|e| panic!("/readyz is not JSON ({e}): {}", r.text()));
            assert_eq!(
                r.status == 200,
                body["ready"] == true,
                "status matches body"
            );
            if body["ready"] == ready {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "/readyz never became ready={ready}: {body:#}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `sos-intake status` with `args`, against this gateway's config.
    fn status(&self, args: &[&str]) -> Output {
        sos_intake(&self.config, &self.database_url)
            .arg("status")
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            signal_and_reap(child, "TERM", Duration::from_secs(20));
        }
    }
}

fn sos_intake(config: &Path, database_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sos-intake"));
    cmd.arg("--config")
        .arg(config)
        .env("SOS_INTAKE_DATABASE_URL", database_url);
    cmd
}

/// The failing checks of a `/readyz` body, by name.
fn failing(body: &serde_json::Value) -> Vec<String> {
    body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

/// `/metrics` parsed with a Prometheus text parser: value of each sample
/// of `name` whose labels include `labels`, summed.
async fn metric(gw: &Gateway, name: &str, labels: &[(&str, &str)]) -> f64 {
    let r = gw.get("/metrics").await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/plain"),
        "{:?}",
        r.headers
    );
    let lines = r
        .text()
        .lines()
        .map(|l| Ok(l.to_string()))
        .collect::<Vec<_>>();
    let scrape = prometheus_parse::Scrape::parse(lines.into_iter()).expect("valid Prometheus text");
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(ref h) => {
                h.iter().map(|b| b.count).fold(0.0, f64::max)
            }
            _ => 0.0,
        })
        .sum()
}

/// The `[imap]` section for the lab.
fn imap_section(lab: &MailLab) -> String {
    let imap = lab.imap_config(Tls::Implicit);
    let path = |p: &Option<PathBuf>| {
        p.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    format!(
        "[imap]\nhost = \"{}\"\nport = {}\ntls = \"implicit\"\nuser = \"{}\"\npassword_file = \"{}\"\nca_file = \"{}\"\n",
        imap.host,
        imap.port.unwrap_or(993),
        imap.user,
        path(&imap.password_file),
        path(&imap.ca_file),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_dovecot_and_metrics_count_mail() {
    // Dovecot for the mailbox, Postfix as the relay replies go through.
    let mut lab = MailLab::start();
    let t = TestDb::sqlite().await;
    let extra = format!(
        "[health]\nmailbox_max_silence_secs = 1\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\ntimeout_secs = 10\n{}",
        lab.ports.smtp,
        imap_section(&lab)
    );
    let gw = Gateway::start(t.dir.path(), &t.url, &extra, &[]);
    gw.wait_up().await;
    let body = gw.wait_ready(true, Duration::from_secs(60)).await;
    let mailboxes = body["mailboxes"].as_object().unwrap();
    assert_eq!(mailboxes.len(), 1, "{body:#}");
    assert!(
        mailboxes
            .values()
            .all(|m| m["kind"] == "imap" && m["connected"] == true)
    );

    // Counters move as a mail is processed.
    let accepted = metric(
        &gw,
        "sos_intake_messages_total",
        &[("disposition", "accepted")],
    )
    .await;
    let sheets = metric(&gw, "sos_intake_attachments_total", &[("outcome", "sheet")]).await;
    append(
        &lab,
        "INBOX",
        &sheet_mail("ops-health-1@metro.tokyo.lg.jp", 0),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric(
        &gw,
        "sos_intake_messages_total",
        &[("disposition", "accepted")],
    )
    .await
        < accepted + 1.0
    {
        assert!(
            Instant::now() < deadline,
            "the mail was never counted:\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        metric(&gw, "sos_intake_attachments_total", &[("outcome", "sheet")]).await,
        sheets + 1.0
    );
    // The reply goes out through Postfix: one attempt answered 2xx.
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric(&gw, "sos_intake_smtp_attempts_total", &[("class", "2xx")]).await < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the reply was never sent:\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        metric(&gw, "sos_intake_smtp_failures_total", &[]).await,
        0.0
    );
    assert!(metric(&gw, "sos_intake_message_processing_seconds_count", &[]).await >= 1.0);
    assert_eq!(metric(&gw, "sos_intake_mailbox_connected", &[]).await, 1.0);
    assert!(metric(&gw, "sos_intake_imap_sessions_total", &[]).await >= 1.0);
    assert!(
        metric(
            &gw,
            "sos_intake_http_requests_total",
            &[("route", "/readyz"), ("status", "200")]
        )
        .await
            >= 1.0
    );
    assert!(metric(&gw, "sos_intake_db_pool_connections", &[("state", "idle")]).await >= 0.0);

    // Dovecot stops: not ready, and the mailbox is the reason.
    lab.stop_dovecot();
    let body = gw.wait_ready(false, Duration::from_secs(60)).await;
    let failed = failing(&body);
    assert!(
        failed.iter().all(|n| n.starts_with("mailbox:")) && !failed.is_empty(),
        "{body:#}"
    );
    assert_eq!(metric(&gw, "sos_intake_mailbox_connected", &[]).await, 0.0);
    assert!(metric(&gw, "sos_intake_imap_reconnects_total", &[]).await >= 1.0);
    let status = gw.status(&[]);
    assert_eq!(status.status.code(), Some(1), "{status:?}");
    let text = String::from_utf8(status.stdout).unwrap();
    assert!(text.contains("準備ができていません"), "{text}");
    assert!(text.contains("メールボックス"), "{text}");

    // Dovecot is back: ready again.
    lab.start_dovecot_again();
    gw.wait_ready(true, Duration::from_secs(120)).await;
    let status = gw.status(&["--json"]);
    assert_eq!(status.status.code(), Some(0), "{status:?}");
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["ready"], true);
    assert_eq!(json["gateway"], "answering");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_turns_false_when_the_outbox_is_stuck() {
    let t = TestDb::sqlite().await;
    let extra = "[health]\noutbox_max_age_secs = 1\n";
    // --no-send: replies stay queued, as with a relay that never answers.
    let gw = Gateway::start(t.dir.path(), &t.url, extra, &["--no-send"]);
    gw.wait_up().await;
    let body = gw.wait_ready(true, Duration::from_secs(60)).await;
    assert!(
        body["mailboxes"]["maildir"]["connected"] == true,
        "{body:#}"
    );
    let inbox =
        sos_intake::mailbox::maildir::Maildir::open(&t.dir.path().join("data/inbox")).unwrap();
    inbox
        .deliver(&sheet_mail("ops-stuck-1@metro.tokyo.lg.jp", 0))
        .unwrap();
    let body = gw.wait_ready(false, Duration::from_secs(60)).await;
    assert_eq!(failing(&body), vec!["outbox".to_string()], "{body:#}");
    assert_eq!(body["queue"]["outbox_queued"], 1);
    assert_eq!(
        metric(&gw, "sos_intake_outbox_messages", &[("status", "queued")]).await,
        1.0
    );

    let status = gw.status(&["--json"]);
    assert_eq!(status.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(failing(&json), vec!["outbox".to_string()]);
    let text = String::from_utf8(gw.status(&[]).stdout).unwrap();
    assert!(text.contains("返信の送信待ち: 異常"), "{text}");
    assert!(text.contains("送信待ち 1 件"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_turns_false_when_the_database_goes_away() {
    let t = TestDb::postgres().await;
    let gw = Gateway::start(t.dir.path(), &t.url, "", &[]);
    gw.wait_up().await;
    gw.wait_ready(true, Duration::from_secs(60)).await;
    // The database is dropped under the running gateway.
    let name = t.url.rsplit('/').next().unwrap().to_string();
    let mut admin = sqlx::PgConnection::connect(&postgres_admin_url())
        .await
        .unwrap();
    admin
        .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await
        .unwrap();
    admin.close().await.ok();
    let body = gw.wait_ready(false, Duration::from_secs(60)).await;
    assert!(failing(&body).contains(&"database".to_string()), "{body:#}");
    assert!(body["queue"].is_null());
    // The process itself still answers.
    assert_eq!(gw.get("/healthz").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_and_metrics_show_a_revoked_oauth_client_until_it_is_restored() {
    use common::maillab::USER;
    use common::oauth_server::{CLIENT_ID, CLIENT_SECRET, TokenServer};
    let idp = TokenServer::start(USER).await;
    let url = idp.introspection_url();
    let lab = tokio::task::spawn_blocking(move || MailLab::start_dovecot_oauth(&url))
        .await
        .unwrap();
    let t = TestDb::sqlite().await;
    let secret = t.dir.path().join("client-secret");
    std::fs::write(&secret, format!("{CLIENT_SECRET}\n")).unwrap();
    let extra = format!(
        "[imap]\nhost = \"localhost\"\nport = {}\ntls = \"implicit\"\nuser = \"{USER}\"\nca_file = \"{}\"\n\
         [imap.oauth]\nprovider = \"generic\"\ntoken_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n\
         client_secret_file = \"{}\"\nscope = \"mail\"\n",
        lab.ports.imaps,
        lab.ca_file.display(),
        idp.token_url(),
        secret.display()
    );
    let gw = Gateway::start(t.dir.path(), &t.url, &extra, &[]);
    gw.wait_up().await;
    let body = gw.wait_ready(true, Duration::from_secs(60)).await;
    let tokens = body["tokens"].as_object().expect("tokens in /readyz");
    assert_eq!(tokens.len(), 1, "{body:#}");
    let (conn, token) = tokens.iter().next().unwrap();
    let conn = conn.clone();
    assert_eq!(token["kind"], "imap");
    assert!(token["failing_step"].is_null(), "{body:#}");
    assert!(body["mailboxes"][&conn]["connected"] == true, "{body:#}");
    let outcome = |o: &'static str| [("connection", conn.as_str()), ("outcome", o)];
    let ok = metric(&gw, "sos_intake_oauth_token_requests_total", &outcome("ok")).await;
    assert!(ok >= 1.0);
    let now = chrono::Utc::now().timestamp() as f64;
    let by_conn = [("connection", conn.as_str())];
    assert!(
        metric(
            &gw,
            "sos_intake_oauth_token_expiry_timestamp_seconds",
            &by_conn
        )
        .await
            > now
    );
    assert!(
        metric(
            &gw,
            "sos_intake_oauth_token_last_success_timestamp_seconds",
            &by_conn
        )
        .await
            > now - 120.0
    );

    // The client is revoked and the session ends: the renewal is refused.
    idp.revoke(CLIENT_ID);
    lab.doveadm(&["kick", USER]);
    let body = gw.wait_ready(false, Duration::from_secs(60)).await;
    assert_eq!(failing(&body), vec![format!("mailbox:{conn}")], "{body:#}");
    let check = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["ok"] == false)
        .unwrap();
    assert!(
        check["detail"].as_str().unwrap().contains("invalid_client"),
        "{check:#}"
    );
    assert_eq!(body["tokens"][&conn]["failing_step"], "invalid_client");
    assert!(
        !body.to_string().contains(CLIENT_SECRET),
        "no secret in /readyz"
    );
    assert!(
        metric(
            &gw,
            "sos_intake_oauth_token_requests_total",
            &outcome("invalid_client")
        )
        .await
            >= 1.0
    );
    assert_eq!(
        metric(
            &gw,
            "sos_intake_oauth_token_expiry_timestamp_seconds",
            &by_conn
        )
        .await,
        0.0
    );
    let status = gw.status(&[]);
    assert_eq!(status.status.code(), Some(1), "{status:?}");
    let text = String::from_utf8(status.stdout).unwrap();
    assert!(
        text.contains("アクセストークン")
            && text.contains("取り消し")
            && text.contains("invalid_client"),
        "{text}"
    );

    // The administrator restores the client: ready again on the next retry.
    idp.restore(CLIENT_ID);
    let body = gw.wait_ready(true, Duration::from_secs(120)).await;
    assert!(body["tokens"][&conn]["failing_step"].is_null(), "{body:#}");
    assert!(metric(&gw, "sos_intake_oauth_token_requests_total", &outcome("ok")).await > ok);
}
