//! Helpers of the IMAP tests on top of the mail lab
//! (`tests/common/maillab.rs`): an IMAP client as the test user to append
//! mail and look at folders, direct Maildir delivery, test mail, the real
//! pipeline, and waiting for the watcher.
#![allow(dead_code)]

use crate::common::maillab::{MailLab, PASSWORD, USER};
use async_imap::Client;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// A plain-text client session as the test user.
pub async fn client(lab: &MailLab) -> async_imap::Session<TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", lab.ports.imap))
        .await
        .expect("connect");
    let mut client = Client::new(tcp);
    client
        .read_response()
        .await
        .expect("greeting")
        .expect("greeting");
    client
        .login(USER, PASSWORD)
        .await
        .map_err(|(e, _)| e)
        .expect("login")
}

/// Appends `raw` to `mailbox` (a plain name) over IMAP.
pub async fn append(lab: &MailLab, mailbox: &str, raw: &[u8]) {
    let mut s = client(lab).await;
    let wire = sos_intake::mailbox::imap::utf7::encode(mailbox);
    s.append(&wire, None, None, raw).await.expect("APPEND");
    s.logout().await.ok();
}

/// Appends many messages over one connection.
pub async fn append_all(lab: &MailLab, mailbox: &str, raws: impl IntoIterator<Item = Vec<u8>>) {
    let mut s = client(lab).await;
    let wire = sos_intake::mailbox::imap::utf7::encode(mailbox);
    for raw in raws {
        s.append(&wire, None, None, &raw).await.expect("APPEND");
    }
    s.logout().await.ok();
}

/// How many messages `folder` holds (0 when missing), and how many of them
/// are flagged \Deleted.
pub async fn folder_count(lab: &MailLab, folder: &str) -> (u32, usize) {
    let mut s = client(lab).await;
    let wire = sos_intake::mailbox::imap::utf7::encode(folder);
    let listed: Vec<_> = {
        use futures::TryStreamExt;
        s.list(Some(""), Some(&wire))
            .await
            .expect("LIST")
            .try_collect()
            .await
            .expect("LIST")
    };
    if listed.is_empty() {
        return (0, 0);
    }
    let mailbox = s.examine(&wire).await.expect("EXAMINE");
    let deleted = if mailbox.exists == 0 {
        0
    } else {
        s.search("DELETED").await.expect("SEARCH").len()
    };
    s.logout().await.ok();
    (mailbox.exists, deleted)
}

/// Drops a message straight into the test user's Maildir (as a local
/// delivery would), e.g. while the server is down.
pub fn deliver_to_maildir(lab: &MailLab, name: &str, raw: &[u8]) {
    let root = lab.maildir(USER);
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(root.join(sub)).expect("Maildir");
    }
    std::fs::write(root.join("tmp").join(name), raw).expect("write mail");
    std::fs::rename(root.join("tmp").join(name), root.join("new").join(name)).expect("deliver");
    let owner = std::fs::metadata(lab.dir.path().join("mail")).map(|m| {
        use std::os::unix::fs::MetadataExt;
        format!("{}:{}", m.uid(), m.gid())
    });
    if let Ok(owner) = owner {
        let _ = Command::new("chown")
            .arg("-R")
            .arg(owner)
            .arg(&root)
            .status();
    }
}

/// Removes Dovecot's index and UID list of the INBOX (server stopped): on
/// the next start, UIDs begin again at 1 under a new UIDVALIDITY.
pub fn forget_inbox_uids(lab: &MailLab) {
    for entry in std::fs::read_dir(lab.maildir(USER)).expect("Maildir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name.starts_with("dovecot") && path.is_file() {
            std::fs::remove_file(&path).expect("remove index");
        }
    }
}

/// Waits until `check` is true, polling every 20 ms; panics with `what`
/// after `limit`.
pub async fn wait_until<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The pipeline configuration of the IMAP tests: Tokyo and Osaka senders,
/// a reply limit high enough for the backlog tests.
pub const CONFIG: &str = r#"
sos_address = "sos-busshi@mhlw.go.jp"
sos_name = "厚生労働省 緊急配布チーム"
[prefectures]
"東京都" = ["sos@fukushi.metro.tokyo.lg.jp"]
"大阪府" = ["@pref.osaka.lg.jp"]
[mail]
reply_rate_limit_per_hour = 100000
"#;

/// Settings over `data_dir` with [`CONFIG`].
pub fn settings(data_dir: &Path) -> sos_intake::config::Settings {
    sos_intake::config::Settings::resolve(
        sos_intake::config::Config::parse(CONFIG).expect("test config"),
        Some(data_dir.to_path_buf()),
    )
}

/// The real pipeline over `db`, recording `imap` as the source.
pub fn intake(db: &sos_intake::queue::Db, data_dir: &Path) -> sos_intake::pipeline::Intake {
    sos_intake::pipeline::Intake::new(db.clone(), &settings(data_dir))
        .expect("intake")
        .with_source("imap")
}

/// A plain mail without attachment from an Osaka address: the pipeline
/// answers it "no sheet found" (rejected → the error folder).
pub fn plain_mail(n: usize) -> Vec<u8> {
    format!(
        "From: kansen{n}@pref.osaka.lg.jp\r\nTo: sos-busshi@mhlw.go.jp\r\nSubject: test {n}\r\n\
         Date: Fri, 20 Nov 2026 09:00:00 +0900\r\nMessage-ID: <imap-test-{n}@pref.osaka.lg.jp>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nシートを送ります（{n}）。\r\n"
    )
    .into_bytes()
}

/// A mail from Tokyo with `samples/sheets/valid.xlsx` attached (accepted),
/// plus `padding` bytes of an extra attachment when asked (large mail).
pub fn sheet_mail(id: &str, padding: usize) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let sheet = std::fs::read(repo().join("samples/sheets/valid.xlsx")).expect("valid.xlsx");
    let mut out = format!(
        "From: =?UTF-8?B?{}?= <sos@fukushi.metro.tokyo.lg.jp>\r\nTo: sos-busshi@mhlw.go.jp\r\n\
         Subject: =?UTF-8?B?{}?=\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\nMessage-ID: <{id}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nシートを送付します。\r\n\
         --b\r\nContent-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\
         Content-Disposition: attachment; filename=\"valid.xlsx\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        b64.encode("東京都 福祉局"),
        b64.encode("【緊急配布要請】テスト"),
    );
    push_base64_lines(&mut out, &b64.encode(&sheet));
    if padding > 0 {
        out.push_str(
            "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"scan.pdf\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n",
        );
        let mut filler = b"%PDF-1.4\n".to_vec();
        let mut x: u32 = 0x1234_5678;
        while filler.len() < padding {
            // xorshift: incompressible, cheap.
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            filler.extend_from_slice(&x.to_le_bytes());
        }
        push_base64_lines(&mut out, &b64.encode(&filler));
    }
    out.push_str("--b--\r\n");
    out.into_bytes()
}

fn push_base64_lines(out: &mut String, b64: &str) {
    for chunk in b64.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push_str("\r\n");
    }
}

pub use crate::common::db::count;

/// Watcher tunables for tests: quick back-off, quick lease.
pub fn fast_options() -> sos_intake::mailbox::imap::WatchOptions {
    sos_intake::mailbox::imap::WatchOptions {
        poll_interval: Duration::from_millis(200),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        lease_ttl: Duration::from_secs(3),
        lease_renew: Duration::from_millis(500),
        command_timeout: Duration::from_secs(30),
        ..Default::default()
    }
}

// ---- A watcher over the real pipeline, for the watcher tests ----

use crate::common::db::TestDb;
use sos_intake::config::Tls;
use sos_intake::mailbox::imap::{Phase, Status, WatchOptions, Watcher};
use sos_intake::pipeline::{Intake, Shutdown, ShutdownTrigger};
use std::sync::Arc;

/// A watcher running in the background over the real pipeline.
pub struct Running {
    pub watcher: Arc<Watcher<Intake>>,
    pub status: tokio::sync::watch::Receiver<Status>,
    pub trigger: ShutdownTrigger,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub fn start(server: &MailLab, t: &TestDb, tls: Tls, options: WatchOptions) -> Running {
        Running::start_with(&server.imap_config(tls), t, options)
    }

    /// A watcher for any `[imap]` (e.g. with `[imap.oauth]`).
    pub fn start_with(
        config: &sos_intake::config::ImapConfig,
        t: &TestDb,
        options: WatchOptions,
    ) -> Running {
        let config = config.clone();
        let watcher = Watcher::new(&config, t.db.clone(), intake(&t.db, t.dir.path()))
            .expect("watcher")
            .with_options(options);
        let watcher = Arc::new(watcher);
        let status = watcher.status();
        let (trigger, shutdown) = Shutdown::new();
        let w = watcher.clone();
        let task = tokio::spawn(async move { w.run(shutdown).await });
        Running {
            watcher,
            status,
            trigger,
            task,
        }
    }

    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    pub async fn wait_phase(&self, phase: Phase, limit: Duration) {
        let status = self.status.clone();
        wait_until(limit, &format!("watcher {phase:?}"), || {
            let status = status.clone();
            async move { status.borrow().phase == phase }
        })
        .await;
    }

    pub async fn wait_handled(&self, n: u64, limit: Duration) {
        let status = self.status.clone();
        wait_until(limit, &format!("{n} messages handled"), || {
            let status = status.clone();
            async move { status.borrow().handled >= n }
        })
        .await;
    }

    pub async fn stop(self) {
        self.trigger.trigger();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("watcher stops")
            .expect("watcher task")
            .expect("watcher result");
    }
}

/// Messages the pipeline recorded.
pub async fn messages(t: &TestDb) -> i64 {
    count(&t.db, "SELECT COUNT(*) FROM mail_messages").await
}

/// Replies queued in the outbox.
pub async fn replies(t: &TestDb) -> i64 {
    count(&t.db, "SELECT COUNT(*) FROM outbox").await
}
