//! Real mail servers on loopback for tests: a throwaway Dovecot (IMAP,
//! IMAPS, LMTP, SASL auth listener, `doveadm`) and a throwaway Postfix
//! (SMTP, submission with STARTTLS, SMTPS, AUTH through Dovecot) that
//! delivers everything it accepts into Dovecot over LMTP. Everything lives
//! in one temporary directory; both servers are stopped when the
//! [`MailLab`] is dropped (also on panic).
//!
//! ```ignore
//! let lab = MailLab::start();                // Dovecot + Postfix
//! let imap_only = MailLab::start_dovecot();  // Dovecot alone (IMAP tests)
//! lab.smtp_config(Tls::Starttls)             // for [smtp]
//! lab.wait_for_mail("sos@fukushi.metro.tokyo.lg.jp", 1, secs(20))
//! lab.stop_postfix(); lab.start_postfix();   // an SMTP outage
//! lab.doveadm(&["mailbox", "update", "-u", "test", "--uid-validity", "4242", "INBOX"])
//! ```
//!
//! Needs root (Postfix's master) and the packages of scripts/install-deps.sh
//! (dovecot-imapd, dovecot-lmtpd, postfix, openssl). See
//! /work/shared/MAIL-LAB.md for why each setting is there.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The IMAP user every lab has (password [`PASSWORD`]).
pub const USER: &str = "test";
/// The password of [`USER`] and of every user added with [`MailLab::add_user`].
pub const PASSWORD: &str = "secret";
/// Recipients Postfix refuses permanently (`550 5.1.1`).
pub const REJECTED_RECIPIENT: &str = "nobody@rejected.invalid";

/// Ports of one lab, all on 127.0.0.1.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    /// IMAP (plain, STARTTLS available).
    pub imap: u16,
    /// IMAPS (implicit TLS).
    pub imaps: u16,
    /// LMTP (Postfix delivers here).
    pub lmtp: u16,
    /// Dovecot's SASL auth listener (Postfix asks it).
    pub auth: u16,
    /// SMTP (plain, STARTTLS offered, no AUTH needed from 127.0.0.1).
    pub smtp: u16,
    /// Submission: STARTTLS.
    pub submission: u16,
    /// SMTPS: implicit TLS.
    pub smtps: u16,
}

/// A Dovecot and (optionally) a Postfix on loopback.
pub struct MailLab {
    /// The temporary directory holding everything.
    pub dir: tempfile::TempDir,
    /// The ports.
    pub ports: Ports,
    /// The CA certificate (PEM) that signed the servers' certificate.
    pub ca_file: PathBuf,
    /// The unique SMTP banner word of this lab's Postfix.
    pub banner: String,
    dovecot: Option<Child>,
    postfix_running: bool,
    owner: (String, String),
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

impl MailLab {
    /// Dovecot and Postfix, both running.
    pub fn start() -> MailLab {
        let mut lab = MailLab::start_dovecot();
        lab.write_postfix_config();
        lab.start_postfix();
        lab
    }

    /// Dovecot alone (IMAP tests that need no SMTP).
    pub fn start_dovecot() -> MailLab {
        assert!(
            Path::new("/usr/sbin/dovecot").exists(),
            "Dovecot is needed: bash scripts/install-deps.sh"
        );
        let dir = tempfile::Builder::new()
            .prefix("sos-maillab-")
            .tempdir()
            .expect("temporary directory");
        // A mkdtemp directory is 0700; Dovecot's unprivileged processes must
        // reach inside it.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod lab dir");
        let owner = if is_root() {
            ("nobody".to_string(), "nogroup".to_string())
        } else {
            let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
            (user.clone(), user)
        };
        let ports = Ports {
            imap: free_port(),
            imaps: free_port(),
            lmtp: free_port(),
            auth: free_port(),
            smtp: free_port(),
            submission: free_port(),
            smtps: free_port(),
        };
        let banner = format!("sos-lab-{}", hex::encode(rand::random::<[u8; 4]>()));
        let mut lab = MailLab {
            ca_file: dir.path().join("ca.pem"),
            dir,
            ports,
            banner,
            dovecot: None,
            postfix_running: false,
            owner,
        };
        lab.make_certificates();
        lab.write_dovecot_config();
        lab.start_dovecot_process();
        lab
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn make_certificates(&self) {
        let d = self.dir.path();
        run(new_p256_certificate(3650)
            .args(["-subj", "/CN=sos test CA"])
            .arg("-keyout")
            .arg(d.join("ca.key"))
            .arg("-out")
            .arg(d.join("ca.pem")));
        run(new_p256_certificate(3650)
            .arg("-CA")
            .arg(d.join("ca.pem"))
            .arg("-CAkey")
            .arg(d.join("ca.key"))
            .args([
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
                "-addext",
                "extendedKeyUsage=serverAuth",
                "-addext",
                "keyUsage=digitalSignature",
            ])
            .arg("-keyout")
            .arg(d.join("key.pem"))
            .arg("-out")
            .arg(d.join("cert.pem")));
    }

    fn write_dovecot_config(&self) {
        let d = self.dir.path().display().to_string();
        let (user, group) = &self.owner;
        let p = self.ports;
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(self.path(sub)).expect("lab dirs");
        }
        std::fs::write(self.path("users"), format!("{USER}:{{PLAIN}}{PASSWORD}\n"))
            .expect("users file");
        let conf = format!(
            r#"instance_name = sos-lab-{instance}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
listen = 127.0.0.1
protocols = imap lmtp
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
auth_username_format = %Lu
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = home={d}/mail/%u allow_all_users=yes
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
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
service auth {{
  inet_listener auth {{
    address = 127.0.0.1
    port = {auth}
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"#,
            instance = self.banner,
            imap = p.imap,
            imaps = p.imaps,
            lmtp = p.lmtp,
            auth = p.auth,
        );
        std::fs::write(self.path("dovecot.conf"), conf).expect("dovecot.conf");
        self.chown_all();
    }

    fn chown_all(&self) {
        let (user, group) = &self.owner;
        if is_root() {
            for sub in ["mail", "state", "users", "dovecot.log"] {
                let p = self.path(sub);
                if !p.exists() && sub == "dovecot.log" {
                    let _ = std::fs::write(&p, "");
                }
                run(Command::new("chown")
                    .arg("-R")
                    .arg(format!("{user}:{group}"))
                    .arg(p));
            }
        }
    }

    fn start_dovecot_process(&mut self) {
        let child = Command::new("/usr/sbin/dovecot")
            .arg("-F")
            .arg("-c")
            .arg(self.path("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start dovecot");
        self.dovecot = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", self.ports.imap)) {
                stream.set_read_timeout(Some(Duration::from_secs(2))).ok();
                let mut line = String::new();
                if BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("* OK") {
                    return;
                }
            }
            if let Some(Ok(Some(status))) = self.dovecot.as_mut().map(|c| c.try_wait()) {
                let log = std::fs::read_to_string(self.path("dovecot.log")).unwrap_or_default();
                panic!("dovecot exited ({status}):\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "dovecot did not greet on port {}",
                self.ports.imap
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Stops Dovecot (SIGTERM, as an administrator would).
    pub fn stop_dovecot(&mut self) {
        if let Some(child) = self.dovecot.take() {
            signal_and_reap(child, "TERM", Duration::from_secs(10));
        }
    }

    /// Kills Dovecot at once (SIGKILL), as a crash would.
    pub fn kill_dovecot(&mut self) {
        if let Some(mut child) = self.dovecot.take() {
            let _ = child.kill();
            let _ = child.wait();
            // Its children (imap, imap-login) notice the master is gone.
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Starts Dovecot again with the same configuration and mail.
    pub fn start_dovecot_again(&mut self) {
        if self.dovecot.is_none() {
            self.start_dovecot_process();
        }
    }

    /// The Dovecot configuration file (for `doveadm -c`).
    pub fn dovecot_conf(&self) -> PathBuf {
        self.path("dovecot.conf")
    }

    /// Runs `doveadm -c <conf> <args>` and returns its standard output.
    pub fn doveadm(&self, args: &[&str]) -> String {
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(self.dovecot_conf())
            .args(args)
            .output()
            .expect("run doveadm");
        assert!(
            out.status.success(),
            "doveadm {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Adds an IMAP user with [`PASSWORD`] (any address also receives mail
    /// without being added).
    pub fn add_user(&self, name: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.path("users"))
            .expect("users file");
        writeln!(f, "{name}:{{PLAIN}}{PASSWORD}").expect("add user");
    }

    /// The Maildir of `user` (an IMAP login or a recipient address).
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.path("mail").join(user.to_lowercase()).join("Maildir")
    }

    /// Every message delivered to `user`'s INBOX so far (new/ and cur/).
    pub fn messages(&self, user: &str) -> Vec<Vec<u8>> {
        let root = self.maildir(user);
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(root.join(sub)) {
                files.extend(entries.flatten().map(|e| e.path()));
            }
        }
        files.sort();
        files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
    }

    /// Waits until `user` has at least `n` messages; returns them all.
    pub fn wait_for_mail(&self, user: &str, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages(user);
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn write_postfix_config(&self) {
        let d = self.dir.path().display().to_string();
        let p = self.ports;
        let etc = self.path("postfix/etc");
        let spool = self.path("postfix/spool");
        let data = self.path("postfix/data");
        std::fs::create_dir_all(&etc).expect("postfix etc");
        for sub in [
            "active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming",
            "private", "saved", "trace",
        ] {
            let dir = spool.join(sub);
            std::fs::create_dir_all(&dir).expect("postfix spool");
            run(Command::new("chown").arg("postfix").arg(&dir));
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        }
        for (sub, mode) in [("maildrop", 0o730), ("public", 0o710)] {
            let dir = spool.join(sub);
            std::fs::create_dir_all(&dir).expect("postfix spool");
            run(Command::new("chown").arg("postfix:postdrop").arg(&dir));
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        std::fs::create_dir_all(spool.join("pid")).expect("pid dir");
        std::fs::set_permissions(self.path("postfix"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        std::fs::set_permissions(&spool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::create_dir_all(&data).expect("postfix data");
        run(Command::new("chown").arg("postfix").arg(&data));
        std::fs::write(
            etc.join("reject_rcpt"),
            format!("{REJECTED_RECIPIENT} REJECT 5.1.1 no such user here\n"),
        )
        .expect("reject map");
        let main = format!(
            r#"compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
mail_owner = postfix
setgid_group = postdrop
maillog_file = {d}/postfix.log
maillog_file_prefixes = {d}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = localhost
mydomain = localdomain
mydestination =
local_recipient_maps =
relay_domains =
mynetworks = 127.0.0.0/8
default_transport = lmtp:inet:127.0.0.1:{lmtp}
relay_transport = lmtp:inet:127.0.0.1:{lmtp}
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access texthash:{etc}/reject_rcpt, permit_mynetworks, permit_sasl_authenticated, reject
smtpd_peername_lookup = no
lmtp_host_lookup = native
smtp_host_lookup = native
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 5s
smtpd_banner = $myhostname ESMTP {banner}
smtpd_tls_security_level = may
smtpd_tls_cert_file = {d}/cert.pem
smtpd_tls_key_file = {d}/key.pem
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:{auth}
smtpd_sasl_auth_enable = yes
smtpd_tls_auth_only = no
biff = no
alias_maps =
alias_database =
"#,
            spool = spool.display(),
            data = data.display(),
            etc = etc.display(),
            lmtp = p.lmtp,
            auth = p.auth,
            banner = self.banner,
        );
        std::fs::write(etc.join("main.cf"), main).expect("main.cf");
        let services = [
            ("pickup", "unix", "n", "60", "1", "pickup"),
            ("cleanup", "unix", "n", "-", "0", "cleanup"),
            ("qmgr", "unix", "n", "300", "1", "qmgr"),
            ("tlsmgr", "unix", "-", "1000?", "1", "tlsmgr"),
            ("rewrite", "unix", "-", "-", "-", "trivial-rewrite"),
            ("bounce", "unix", "-", "-", "0", "bounce"),
            ("defer", "unix", "-", "-", "0", "bounce"),
            ("trace", "unix", "-", "-", "0", "bounce"),
            ("verify", "unix", "-", "-", "1", "verify"),
            ("flush", "unix", "n", "1000?", "0", "flush"),
            ("proxymap", "unix", "-", "-", "-", "proxymap"),
            ("proxywrite", "unix", "-", "-", "1", "proxymap"),
            ("smtp", "unix", "-", "-", "-", "smtp"),
            ("relay", "unix", "-", "-", "-", "smtp"),
            ("showq", "unix", "n", "-", "-", "showq"),
            ("error", "unix", "-", "-", "-", "error"),
            ("retry", "unix", "-", "-", "-", "error"),
            ("discard", "unix", "-", "-", "-", "discard"),
            ("lmtp", "unix", "-", "-", "-", "lmtp"),
            ("anvil", "unix", "-", "-", "1", "anvil"),
            ("scache", "unix", "-", "-", "1", "scache"),
            ("postlog", "unix-dgram", "n", "-", "1", "postlogd"),
        ];
        let mut master = format!(
            "127.0.0.1:{smtp} inet n - n - - smtpd\n127.0.0.1:{sub} inet n - n - - smtpd\n  -o smtpd_tls_security_level=encrypt\n127.0.0.1:{smtps} inet n - n - - smtpd\n  -o smtpd_tls_wrappermode=yes\n",
            smtp = p.smtp,
            sub = p.submission,
            smtps = p.smtps
        );
        for (name, kind, private, wakeup, limit, cmd) in services {
            master.push_str(&format!(
                "{name} {kind} {private} - n {wakeup} {limit} {cmd}\n"
            ));
        }
        std::fs::write(etc.join("master.cf"), master).expect("master.cf");
        // The master waits for a freshly written configuration to "cool
        // down"; backdating skips that.
        for f in ["main.cf", "master.cf"] {
            run(Command::new("touch")
                .args(["-d", "2 minutes ago"])
                .arg(etc.join(f)));
        }
    }

    /// Starts Postfix (after [`MailLab::stop_postfix`]); waits for this lab's
    /// banner on the SMTP port.
    pub fn start_postfix(&mut self) {
        assert!(is_root(), "Postfix's master needs root");
        let etc = self.path("postfix/etc");
        run(Command::new("/usr/lib/postfix/sbin/master")
            .arg("-c")
            .arg(&etc)
            .arg("-w")
            .env("MAIL_CONFIG", &etc));
        self.postfix_running = true;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", self.ports.smtp)) {
                stream.set_read_timeout(Some(Duration::from_secs(3))).ok();
                let mut line = String::new();
                if BufReader::new(stream).read_line(&mut line).is_ok()
                    && line.contains(&self.banner)
                {
                    return;
                }
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.path("postfix.log")).unwrap_or_default();
                panic!(
                    "postfix did not greet with {} on {}:\n{log}",
                    self.banner, self.ports.smtp
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops Postfix (its master and every child); SMTP connections are
    /// refused until [`MailLab::start_postfix`].
    pub fn stop_postfix(&mut self) {
        if !self.postfix_running {
            return;
        }
        let etc = self.path("postfix/etc");
        let _ = Command::new("/usr/sbin/postfix")
            .arg("-c")
            .arg(&etc)
            .arg("stop")
            .env("MAIL_CONFIG", &etc)
            .output();
        // `postfix stop` signals the master and returns; wait until the port is closed.
        let pid_file = self.path("postfix/spool/pid/master.pid");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline
            && TcpStream::connect(("127.0.0.1", self.ports.smtp)).is_ok()
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(pid) = std::fs::read_to_string(&pid_file) {
            let pid = pid.trim();
            if !pid.is_empty() && Path::new(&format!("/proc/{pid}")).exists() {
                let _ = Command::new("kill").arg("-KILL").arg(pid).status();
            }
        }
        self.postfix_running = false;
    }

    /// The Postfix log (for failure messages).
    pub fn postfix_log(&self) -> String {
        std::fs::read_to_string(self.path("postfix.log")).unwrap_or_default()
    }

    /// An `[smtp]` configuration for this lab's Postfix: `none` on the SMTP
    /// port, `starttls` on submission (AUTH as [`USER`]), `implicit` on
    /// SMTPS (AUTH as [`USER`]), trusting the lab's CA.
    pub fn smtp_config(&self, tls: sos_intake::config::Tls) -> sos_intake::config::SmtpConfig {
        use sos_intake::config::Tls;
        let password_file = self.path("smtp-password");
        std::fs::write(&password_file, format!("{PASSWORD}\n")).expect("password file");
        let (port, auth) = match tls {
            Tls::None => (self.ports.smtp, false),
            Tls::Starttls => (self.ports.submission, true),
            Tls::Implicit => (self.ports.smtps, true),
        };
        sos_intake::config::SmtpConfig {
            host: if tls == Tls::None {
                "127.0.0.1".into()
            } else {
                "localhost".into()
            },
            port: Some(port),
            tls,
            user: auth.then(|| USER.to_string()),
            password_file: auth.then_some(password_file),
            password_env: None,
            ca_file: Some(self.ca_file.clone()),
            timeout_secs: Some(10),
            oauth: None,
        }
    }
}

impl Drop for MailLab {
    fn drop(&mut self) {
        self.stop_postfix();
        self.stop_dovecot();
    }
}

/// Dovecot 2.3's default capability list, so an IMAP test can take one out.
const DOVECOT_CAPABILITIES: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT \
SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE \
UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT \
SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW \
STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE";

/// IMAP-source helpers (issue 5), added to the lab by the IMAP tests.
impl MailLab {
    /// Dovecot alone, advertising its usual capabilities except `without`
    /// (e.g. `&["MOVE"]`, `&["IDLE"]`) through `imap_capability`.
    pub fn start_dovecot_without(without: &[&str]) -> MailLab {
        let mut lab = MailLab::start_dovecot();
        let caps: Vec<&str> = DOVECOT_CAPABILITIES
            .split(' ')
            .filter(|c| !without.contains(c))
            .collect();
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(lab.dovecot_conf())
            .expect("dovecot.conf");
        writeln!(
            conf,
            "protocol imap {{\n  imap_capability = {}\n}}",
            caps.join(" ")
        )
        .expect("imap_capability");
        lab.stop_dovecot();
        lab.start_dovecot_again();
        lab
    }

    /// Dovecot's master and every process it started (imap, imap-login,
    /// auth…), found through /proc.
    fn dovecot_processes(&self) -> Vec<u32> {
        let Some(child) = self.dovecot.as_ref() else {
            return Vec::new();
        };
        let mut found = vec![child.id()];
        // Breadth-first: the master's children, theirs, …
        let mut i = 0;
        while i < found.len() {
            let parent = found[i];
            if let Ok(entries) = std::fs::read_dir("/proc") {
                for e in entries.flatten() {
                    let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok())
                    else {
                        continue;
                    };
                    let stat =
                        std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                    // "pid (comm) state ppid …": the comm may hold spaces.
                    let ppid = stat
                        .rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                        .and_then(|s| s.parse::<u32>().ok());
                    if ppid == Some(parent) && !found.contains(&pid) {
                        found.push(pid);
                    }
                }
            }
            i += 1;
        }
        found
    }

    fn signal_dovecot(&self, signal: &str) {
        for pid in self.dovecot_processes() {
            send_signal(pid, signal);
        }
    }

    /// Kills Dovecot's master and every process it started with SIGKILL,
    /// so open IMAP connections drop at once, as when the server machine
    /// crashes.
    pub fn crash_dovecot(&mut self) {
        self.signal_dovecot("KILL");
        if let Some(mut child) = self.dovecot.take() {
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline
            && TcpStream::connect(("127.0.0.1", self.ports.imap)).is_ok()
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Freezes every Dovecot process (SIGSTOP): connections stay open but
    /// nothing answers, as with a hung server. [`MailLab::resume_dovecot`]
    /// undoes it.
    pub fn pause_dovecot(&self) {
        self.signal_dovecot("STOP");
    }

    /// Lets a paused Dovecot run again (SIGCONT).
    pub fn resume_dovecot(&self) {
        self.signal_dovecot("CONT");
    }

    /// An `[imap]` configuration for this lab's Dovecot as [`USER`]:
    /// `implicit` on IMAPS, `starttls` / `none` on IMAP, trusting the lab's
    /// CA, password from a file.
    pub fn imap_config(&self, tls: sos_intake::config::Tls) -> sos_intake::config::ImapConfig {
        toml::from_str(&self.imap_keys(tls)).expect("[imap] for the lab")
    }

    /// The same as the `[imap]` section of a configuration file.
    pub fn imap_toml(&self, tls: sos_intake::config::Tls) -> String {
        format!("[imap]\n{}", self.imap_keys(tls))
    }

    /// The keys of [`MailLab::imap_config`], one a line.
    fn imap_keys(&self, tls: sos_intake::config::Tls) -> String {
        use sos_intake::config::Tls;
        let password_file = self.path("imap-password");
        std::fs::write(&password_file, format!("{PASSWORD}\n")).expect("password file");
        let (port, word) = match tls {
            Tls::Implicit => (self.ports.imaps, "implicit"),
            Tls::Starttls => (self.ports.imap, "starttls"),
            Tls::None => (self.ports.imap, "none"),
        };
        format!(
            "host = \"localhost\"\nport = {port}\ntls = \"{word}\"\nuser = \"{USER}\"\n\
             password_file = \"{}\"\nca_file = \"{}\"\n",
            password_file.display(),
            self.ca_file.display()
        )
    }
}

/// `openssl req -x509` making a new P-256 key and a certificate valid for
/// `days`; the caller adds the subject, signer and output files.
pub fn new_p256_certificate(days: u32) -> Command {
    let mut cmd = Command::new("openssl");
    cmd.args([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
    ])
    .arg(days.to_string());
    cmd
}

/// Sends `signal` (`TERM`, `KILL`, `STOP`...) to process `pid` as an
/// administrator's `kill` would; a process already gone is no error.
pub fn send_signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status();
}

/// Sends `signal` to `child`, gives it `grace` to exit, then kills it
/// outright; either way it is reaped.
pub fn signal_and_reap(mut child: Child, signal: &str, grace: Duration) {
    send_signal(child.id(), signal);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// OAuth 2.0 helpers (issue 17): Dovecot with an `oauth2` passdb beside
/// the password one.
impl MailLab {
    /// Dovecot alone, also accepting `XOAUTH2` and `OAUTHBEARER`: tokens
    /// are checked by POSTing them to `introspection_url` (RFC 7662, a
    /// [`super::oauth_server::TokenServer`]); the `username` it answers
    /// must be the login name. Password logins keep working.
    pub fn start_dovecot_oauth(introspection_url: &str) -> MailLab {
        let mut lab = MailLab::start_dovecot();
        lab.add_oauth2_passdb(introspection_url);
        lab.stop_dovecot();
        lab.start_dovecot_again();
        lab
    }

    /// Dovecot with the `oauth2` passdb and Postfix handing SMTP AUTH
    /// (XOAUTH2 included) to it.
    pub fn start_oauth(introspection_url: &str) -> MailLab {
        let mut lab = MailLab::start_dovecot_oauth(introspection_url);
        lab.write_postfix_config();
        lab.start_postfix();
        lab
    }

    fn add_oauth2_passdb(&self, introspection_url: &str) {
        let ext = self.path("dovecot-oauth2.conf.ext");
        std::fs::write(
            &ext,
            format!(
                "introspection_mode = post\nintrospection_url = {introspection_url}\n\
                 username_attribute = username\nactive_attribute = active\nactive_value = true\n\
                 force_introspection = yes\n"
            ),
        )
        .expect("oauth2 ext");
        let conf = std::fs::read_to_string(self.dovecot_conf()).expect("dovecot.conf");
        let conf = conf
            .replace(
                "auth_mechanisms = plain login\n",
                "auth_mechanisms = plain login xoauth2 oauthbearer\n",
            )
            .replace(
                "passdb {\n  driver = passwd-file\n",
                &format!(
                    "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {}\n}}\n\
                     passdb {{\n  driver = passwd-file\n  mechanisms = plain login\n",
                    ext.display()
                ),
            );
        assert!(conf.contains("driver = oauth2"), "oauth2 passdb written");
        std::fs::write(self.dovecot_conf(), conf).expect("dovecot.conf");
    }

    /// The Dovecot log (auth failures, for messages).
    pub fn dovecot_log(&self) -> String {
        std::fs::read_to_string(self.path("dovecot.log")).unwrap_or_default()
    }
}
