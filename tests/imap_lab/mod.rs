//! A throwaway Dovecot on loopback for the IMAP tests (see
//! /work/shared/MAIL-LAB.md): a private CA and a leaf certificate for
//! `localhost`, one user `test` / `secret` with a Maildir, IMAP and IMAPS on
//! free ports. It can be stopped, killed and started again on the same
//! ports and mail, advertise fewer capabilities (no MOVE, no IDLE), and have
//! its UIDVALIDITY changed with doveadm. Everything is removed on drop.
#![allow(dead_code)]

use async_imap::Client;
use sos_intake::config::{ImapConfig, Tls};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Dovecot's default capability list (2.3), so a test can remove one.
const DEFAULT_CAPABILITIES: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY \
THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN \
NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN \
CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ \
NOTIFY SPECIAL-USE";

/// The test user's name and password.
pub const USER: &str = "test";
/// The test user's password.
pub const PASSWORD: &str = "secret";

/// What the server advertises.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Capabilities to leave out of the list (e.g. `["MOVE"]`).
    pub without: Vec<&'static str>,
}

/// A running (or stopped) Dovecot.
pub struct Dovecot {
    /// The temporary directory with the configuration, certificates, mail.
    pub dir: tempfile::TempDir,
    /// Plain IMAP (STARTTLS available) port.
    pub imap_port: u16,
    /// Implicit-TLS IMAP port.
    pub imaps_port: u16,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run a command");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// The unprivileged account Dovecot runs mail processes as.
fn mail_account() -> (String, String) {
    // SAFETY-free check of our uid via /proc: root gets nobody/nogroup.
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string()))
        .unwrap_or_default();
    if uid == "0" {
        ("nobody".into(), "nogroup".into())
    } else {
        let user = std::env::var("USER").unwrap_or_else(|_| "nobody".into());
        let group = String::from_utf8(Command::new("id").arg("-gn").output().expect("id").stdout).unwrap_or_default();
        (user, group.trim().to_string())
    }
}

impl Dovecot {
    /// Starts a Dovecot advertising its default capabilities.
    pub fn start() -> Dovecot {
        Self::start_with(Options::default())
    }

    /// Starts a Dovecot with `options`.
    pub fn start_with(options: Options) -> Dovecot {
        let dir = tempfile::Builder::new().prefix("sos-imap-lab").tempdir().expect("temp dir");
        // mkdtemp makes 0700 directories; the mail account must get in.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let d = dir.path();
        run(Command::new("openssl").current_dir(d).args([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3650",
            "-subj", "/CN=test CA", "-keyout", "ca.key", "-out", "ca.pem",
        ]));
        run(Command::new("openssl").current_dir(d).args([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3650",
            "-CA", "ca.pem", "-CAkey", "ca.key", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext", "basicConstraints=critical,CA:FALSE",
            "-addext", "extendedKeyUsage=serverAuth", "-addext", "keyUsage=digitalSignature",
            "-keyout", "key.pem", "-out", "cert.pem",
        ]));
        std::fs::write(d.join("users"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).expect("users");
        std::fs::write(d.join("password"), format!("{PASSWORD}\n")).expect("password file");
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        let mut lab = Dovecot { dir, imap_port: 0, imaps_port: 0, child: None };
        let capabilities = if options.without.is_empty() {
            None
        } else {
            Some(
                DEFAULT_CAPABILITIES
                    .split(' ')
                    .filter(|c| !options.without.contains(c))
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        };
        for _ in 0..5 {
            lab.imap_port = free_port();
            lab.imaps_port = free_port();
            lab.write_config(capabilities.as_deref());
            if lab.try_start() {
                return lab;
            }
        }
        panic!("Dovecot did not start: {}", lab.log());
    }

    fn write_config(&self, capabilities: Option<&str>) {
        let d = self.dir.path().display().to_string();
        let (user, group) = mail_account();
        let instance = format!("sos-imap-{}", self.imap_port);
        let caps = capabilities.map(|c| format!("protocol imap {{\n  imap_capability = {c}\n}}\n")).unwrap_or_default();
        let conf = format!(
            r#"base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
instance_name = {instance}
listen = 127.0.0.1
protocols = imap
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
mail_uid = {user}
mail_gid = {group}
first_valid_uid = 1
first_valid_gid = 1
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {d}/users
}}
userdb {{
  driver = static
  args = home={d}/mail/%n
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
{caps}"#,
            imap = self.imap_port,
            imaps = self.imaps_port,
        );
        std::fs::write(self.dir.path().join("dovecot.conf"), conf).expect("dovecot.conf");
        run(Command::new("chown").arg("-R").arg(format!("{user}:{group}")).arg(self.dir.path()));
    }

    /// The configuration file (for doveadm).
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("dovecot.conf")
    }

    /// The server log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// The test user's Maildir.
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail").join(USER).join("Maildir")
    }

    fn try_start(&mut self) -> bool {
        use std::os::unix::process::CommandExt;
        let child = Command::new("/usr/sbin/dovecot")
            // Its own process group, so `kill` can take down every Dovecot
            // process at once like a crash would.
            .process_group(0)
            .arg("-F")
            .arg("-c")
            .arg(self.conf())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn dovecot");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(_)) = child.try_wait() {
                    self.child = None;
                    return false;
                }
            }
            if greets(self.imap_port) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Starts the server again (same ports, configuration and mail).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the server before starting it again");
        for _ in 0..50 {
            if self.try_start() {
                return;
            }
            // The old listener may linger a moment.
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("Dovecot did not restart: {}", self.log());
    }

    /// Stops the server with SIGTERM and waits for it.
    pub fn stop(&mut self) {
        self.signal("TERM");
    }

    /// Kills the server with SIGKILL (its child processes are ended too:
    /// they exit when the master's pipe closes) and waits for it.
    pub fn kill(&mut self) {
        self.signal("KILL");
    }

    fn signal(&mut self, sig: &str) {
        let Some(mut child) = self.child.take() else { return };
        let target = if sig == "KILL" { format!("-{}", child.id()) } else { child.id().to_string() };
        let _ = Command::new("kill").arg(format!("-{sig}")).arg("--").arg(target).status();
        let _ = child.wait();
        // Wait until the port is free and no process still serves it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && std::net::TcpStream::connect(("127.0.0.1", self.imap_port)).is_ok() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `doveadm mailbox update --uid-validity` on INBOX (server running).
    pub fn set_uidvalidity(&self, value: u32) {
        run(Command::new("doveadm")
            .arg("-c")
            .arg(self.conf())
            .args(["mailbox", "update", "-u", USER, "--uid-validity", &value.to_string(), "INBOX"]));
    }

    /// `[imap]` for this server over `tls`, password from a file.
    pub fn imap_config(&self, tls: Tls) -> ImapConfig {
        let port = match tls {
            Tls::Implicit => self.imaps_port,
            Tls::Starttls | Tls::None => self.imap_port,
        };
        let text = format!(
            "host = \"localhost\"\nport = {port}\ntls = \"{}\"\nuser = \"{USER}\"\npassword_file = \"{}\"\nca_file = \"{}\"\n",
            match tls {
                Tls::Implicit => "implicit",
                Tls::Starttls => "starttls",
                Tls::None => "none",
            },
            self.dir.path().join("password").display(),
            self.dir.path().join("ca.pem").display(),
        );
        toml::from_str(&text).expect("imap config")
    }

    /// A plain-text client session as the test user (for appending and
    /// looking at folders from the test's side).
    pub async fn client(&self) -> async_imap::Session<TcpStream> {
        let tcp = TcpStream::connect(("127.0.0.1", self.imap_port)).await.expect("connect");
        let mut client = Client::new(tcp);
        client.read_response().await.expect("greeting").expect("greeting");
        client.login(USER, PASSWORD).await.map_err(|(e, _)| e).expect("login")
    }

    /// Appends `raw` to `mailbox` (modified UTF-7 name) over IMAP.
    pub async fn append(&self, mailbox: &str, raw: &[u8]) {
        let mut s = self.client().await;
        s.append(mailbox, None, None, raw).await.expect("APPEND");
        s.logout().await.ok();
    }

    /// Appends many messages over one connection.
    pub async fn append_all(&self, mailbox: &str, raws: impl IntoIterator<Item = Vec<u8>>) {
        let mut s = self.client().await;
        for raw in raws {
            s.append(mailbox, None, None, &raw).await.expect("APPEND");
        }
        s.logout().await.ok();
    }

    /// How many messages `folder` (a plain name, encoded here) holds, and
    /// how many of them are flagged \Deleted.
    pub async fn count(&self, folder: &str) -> (u32, usize) {
        let mut s = self.client().await;
        let wire = sos_intake::mailbox::imap::utf7::encode(folder);
        let mailbox = match s.examine(&wire).await {
            Ok(m) => m,
            Err(_) => return (0, 0),
        };
        let deleted = if mailbox.exists == 0 { 0 } else { s.search("DELETED").await.expect("SEARCH").len() };
        s.logout().await.ok();
        (mailbox.exists, deleted)
    }

    /// Drops a message straight into the Maildir (as a local delivery
    /// would), e.g. while the server is down.
    pub fn deliver_to_maildir(&self, name: &str, raw: &[u8]) {
        let new = self.maildir().join("new");
        std::fs::create_dir_all(&new).expect("Maildir new");
        let tmp = self.maildir().join("tmp");
        std::fs::create_dir_all(&tmp).expect("Maildir tmp");
        std::fs::write(tmp.join(name), raw).expect("write mail");
        std::fs::rename(tmp.join(name), new.join(name)).expect("deliver");
        let (user, group) = mail_account();
        run(Command::new("chown").arg("-R").arg(format!("{user}:{group}")).arg(self.maildir()));
    }
}

fn greets(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    s.set_read_timeout(Some(Duration::from_millis(500))).ok();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).is_ok() && &buf == b"* OK"
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.signal("TERM");
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
    sos_intake::pipeline::Intake::new(db.clone(), &settings(data_dir)).expect("intake").with_source("imap")
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

/// One number from the database.
pub async fn count(db: &sos_intake::queue::Db, sql: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(sql).fetch_one(db.pool()).await.expect("count query").try_get::<i64, _>(0).expect("count")
}

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
