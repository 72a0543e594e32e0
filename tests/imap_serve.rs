//! `sos-intake serve` with `[imap]`, as deployed: real processes, a real
//! Dovecot and Postfix on loopback (the mail lab).
//!
//! - The full loop: a sheet mail appended over IMAP is filed, and the reply
//!   comes back through Postfix into the sender's mailbox.
//! - Take-over: two gateways on one PostgreSQL; the one watching the
//!   mailbox is killed (`kill -9`); mail appended afterwards is filed and
//!   answered exactly once by the other.

mod common;
#[path = "imap_lab/mod.rs"]
mod lab;

use common::db::TestDb;
use common::maillab::{MailLab, signal_and_reap};
use lab::{append, folder_count, sheet_mail, wait_until};
use sos_intake::config::Tls;
use sos_intake::mailbox::imap::lease::current_holder;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Tokyo sender of `sheet_mail`, whose mailbox receives the replies.
const TOKYO: &str = "sos@fukushi.metro.tokyo.lg.jp";

/// The `sos-intake` binary run as `sos-intake --config <config> <args>`
/// on the database at `database_url`.
fn sos_intake(config: &Path, database_url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sos-intake"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env("SOS_INTAKE_DATABASE_URL", database_url);
    cmd
}

/// A configuration file for a gateway on this lab.
fn write_config(lab: &MailLab, dir: &Path) -> PathBuf {
    let text = format!(
        r#"data_dir = "{data}"
sos_address = "sos-busshi@mhlw.go.jp"
[prefectures]
"東京都" = ["{TOKYO}"]
"大阪府" = ["@pref.osaka.lg.jp"]
[mail]
reply_rate_limit_per_hour = 100000
[smtp]
host = "127.0.0.1"
port = {smtp}
tls = "none"
timeout_secs = 10
{imap}[web]
enabled = false
"#,
        data = dir.join("data").display(),
        smtp = lab.ports.smtp,
        imap = lab.imap_toml(Tls::Implicit),
    );
    let path = dir.join("sos-intake.toml");
    std::fs::write(&path, text).expect("config");
    path
}

/// A running `sos-intake serve`, killed when dropped.
struct Gateway {
    child: Option<Child>,
    log: PathBuf,
}

impl Gateway {
    fn start(config: &Path, database_url: &str, log: PathBuf) -> Gateway {
        let out = std::fs::File::create(&log).expect("log file");
        let child = sos_intake(config, database_url, &["serve"])
            .env("RUST_LOG", "info,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("start sos-intake serve");
        Gateway {
            child: Some(child),
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill(&mut self, signal: &str) {
        if let Some(child) = self.child.take() {
            signal_and_reap(child, signal, Duration::from_secs(20));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill("KILL");
    }
}

fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    raw.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The replies in the Tokyo mailbox that answer `message_id`.
fn replies_to(lab: &MailLab, message_id: &str) -> Vec<String> {
    lab.messages(TOKYO)
        .into_iter()
        .map(|raw| String::from_utf8_lossy(&raw).into_owned())
        .filter(|raw| header(raw, "In-Reply-To").is_some_and(|v| v.contains(message_id)))
        .collect()
}

async fn wait_for_reply(lab: &MailLab, message_id: &str, limit: Duration) -> String {
    wait_until(limit, &format!("a reply to {message_id}"), || async {
        !replies_to(lab, message_id).is_empty()
    })
    .await;
    replies_to(lab, message_id).remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_loop_sheet_appended_over_imap_is_answered_through_postfix() {
    let lab = MailLab::start();
    let t = TestDb::sqlite().await;
    let config = write_config(&lab, t.dir.path());
    let gateway = Gateway::start(&config, &t.url, t.dir.path().join("serve.log"));

    let id = "loop-1@fukushi.metro.tokyo.lg.jp";
    append(&lab, "INBOX", &sheet_mail(id, 0)).await;
    let reply = wait_for_reply(&lab, id, Duration::from_secs(60)).await;
    assert_eq!(
        header(&reply, "X-SOS-Status"),
        Some("accepted"),
        "{}",
        gateway.log()
    );
    let receipt = header(&reply, "X-SOS-Receipt")
        .expect("receipt header")
        .to_string();
    assert!(receipt.starts_with("SOS-"), "{receipt}");
    assert_eq!(header(&reply, "Auto-Submitted"), Some("auto-replied"));
    assert!(header(&reply, "References").is_some_and(|v| v.contains(id)));
    wait_until(
        Duration::from_secs(20),
        "the mail filed into 処理済",
        || async { folder_count(&lab, "処理済").await.0 == 1 },
    )
    .await;
    assert_eq!(folder_count(&lab, "INBOX").await.0, 0);
    assert_eq!(
        lab::count(
            &t.db,
            "SELECT COUNT(*) FROM mail_messages WHERE source = 'imap'"
        )
        .await,
        1
    );
    // `imap check` beside the running gateway: nothing waiting, the
    // folders exist, and this gateway is the one watching.
    let out = sos_intake(&config, &t.url, &["imap", "check"])
        .output()
        .expect("imap check");
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.contains("監視フォルダー「INBOX」: 全 0 通、未処理 0 通"),
        "{out}"
    );
    assert!(
        out.contains("処理済み用フォルダー「処理済」… あり"),
        "{out}"
    );
    assert!(out.contains(&format!(":{}:", gateway.pid())), "{out}");
    drop(gateway);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takeover_two_gateways_one_postgres_each_mail_answered_once() {
    let lab = MailLab::start();
    let t = TestDb::postgres().await;
    let dirs = [t.dir.path().join("a"), t.dir.path().join("b")];
    let mut gateways: Vec<Gateway> = dirs
        .iter()
        .map(|d| {
            std::fs::create_dir_all(d).expect("gateway dir");
            let config = write_config(&lab, d);
            Gateway::start(&config, &t.url, d.join("serve.log"))
        })
        .collect();
    let lease_name = format!("imap:test@localhost:{}/INBOX", lab.ports.imaps);

    // Both run; one watches and answers.
    let first = "takeover-1@fukushi.metro.tokyo.lg.jp";
    append(&lab, "INBOX", &sheet_mail(first, 0)).await;
    wait_for_reply(&lab, first, Duration::from_secs(60)).await;
    let holder = current_holder(&t.db, &lease_name)
        .await
        .expect("lease")
        .expect("a holder")
        .holder;
    let watching = gateways
        .iter()
        .position(|g| holder.split(':').nth(1) == Some(g.pid().to_string().as_str()))
        .unwrap_or_else(|| panic!("holder {holder} is neither gateway"));

    // The watcher dies without a word; mail keeps coming.
    gateways[watching].kill("KILL");
    let killed_at = Instant::now();
    let second = "takeover-2@fukushi.metro.tokyo.lg.jp";
    let third = "takeover-3@fukushi.metro.tokyo.lg.jp";
    append(&lab, "INBOX", &sheet_mail(second, 0)).await;
    append(&lab, "INBOX", &sheet_mail(third, 0)).await;
    wait_for_reply(&lab, second, Duration::from_secs(60)).await;
    wait_for_reply(&lab, third, Duration::from_secs(30)).await;
    eprintln!(
        "take-over: both answered {:?} after the kill",
        killed_at.elapsed()
    );
    let survivor = 1 - watching;
    let holder = current_holder(&t.db, &lease_name)
        .await
        .expect("lease")
        .expect("a holder")
        .holder;
    assert_eq!(
        holder.split(':').nth(1),
        Some(gateways[survivor].pid().to_string().as_str())
    );

    // Give a duplicate every chance to show up, then count.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for id in [first, second, third] {
        assert_eq!(replies_to(&lab, id).len(), 1, "exactly one reply to {id}");
    }
    assert_eq!(
        lab::count(&t.db, "SELECT COUNT(*) FROM mail_messages").await,
        3
    );
    assert_eq!(
        lab::count(&t.db, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await,
        3
    );
    assert_eq!(folder_count(&lab, "処理済").await.0, 3);
    assert_eq!(folder_count(&lab, "INBOX").await.0, 0);
    let log = gateways[survivor].log();
    assert!(log.contains("now watches the IMAP mailbox"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_once_catches_up_on_the_imap_mailbox_and_exits() {
    let lab = MailLab::start_dovecot();
    let t = TestDb::sqlite().await;
    lab::append_all(&lab, "INBOX", (0..3).map(lab::plain_mail)).await;
    // No [smtp]: replies are written as .eml files under data_dir/outbox.
    let config = t.dir.path().join("once.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n{}\n{}[web]\nenabled = false\n",
            t.dir.path().join("data").display(),
            lab::CONFIG,
            lab.imap_toml(Tls::Implicit),
        ),
    )
    .expect("config");
    let out = sos_intake(&config, &t.url, &["serve", "--once"])
        .output()
        .expect("serve --once");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        lab::count(
            &t.db,
            "SELECT COUNT(*) FROM mail_messages WHERE source = 'imap'"
        )
        .await,
        3
    );
    assert_eq!(
        lab::count(&t.db, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await,
        3
    );
    assert_eq!(folder_count(&lab, "INBOX").await.0, 0);
    assert_eq!(folder_count(&lab, "エラー").await.0, 3);
    let lease = format!("imap:test@localhost:{}/INBOX", lab.ports.imaps);
    assert_eq!(
        current_holder(&t.db, &lease).await.unwrap(),
        None,
        "the lease is released"
    );
}
