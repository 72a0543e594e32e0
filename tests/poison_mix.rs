//! The poison mix (issue 11): 1,000 ordinary request mails with 50 hostile
//! ones spread among them, served by the real `sos-intake serve` under a
//! memory limit, from a Maildir (SQLite and PostgreSQL) and over IMAP from
//! the test Dovecot. Every ordinary mail is filed and answered exactly once;
//! every hostile one ends in a clear state (filed, refused with a reply,
//! quarantined, or 処理不能); the gateway stays up throughout.

mod common;
#[path = "imap_lab/mod.rs"]
mod lab;

use common::db::{TestDb, count};
use common::maillab::{MailLab, signal_and_reap};
use sos_intake::config::Tls;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKYO: &str = "sos@fukushi.metro.tokyo.lg.jp";
const DOMAIN: &str = "fukushi.metro.tokyo.lg.jp";
const ORDINARY: usize = 1000;
/// The whole gateway's address space (the machine has 24 GiB).
const MEMORY_LIMIT: u64 = 1 << 30;

/// What must become of a hostile mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Filed (a receipt) and answered once.
    Filed,
    /// Refused: nothing filed, answered once with the reason.
    Refused,
    /// Kept and listed, never answered.
    Quarantined,
    /// Any clear state (filed, refused, quarantined, ignored, 処理不能),
    /// answered at most once.
    Settled,
}

struct Mail {
    id: String,
    raw: Vec<u8>,
    expect: Option<Expect>,
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(text.len() + text.len() / 38);
    for chunk in text.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push_str("\r\n");
    }
    out
}

fn auth_header() -> String {
    format!(
        "Authentication-Results: mx.mhlw.go.jp; spf=pass smtp.mailfrom={TOKYO}; dkim=pass header.d={DOMAIN}; dmarc=pass header.from={DOMAIN}\r\n\
         Received: from mail.{DOMAIN} by mx.mhlw.go.jp with ESMTPS; Fri, 20 Nov 2026 09:00:00 +0900\r\n"
    )
}

/// A Tokyo mail with our MTA's verdict on top, `subject` written as is and
/// the given attachments (name, bytes).
fn tokyo_mail(id: &str, subject: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = auth_header().into_bytes();
    out.extend_from_slice(
        format!(
            "From: {TOKYO}\r\nTo: sos-busshi@mhlw.go.jp\r\nSubject: {subject}\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\n\
             Message-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nシートを送付します。\r\n"
        )
        .as_bytes(),
    );
    for (name, bytes) in files {
        out.extend_from_slice(
            format!(
                "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{}",
                b64(bytes)
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(b"--b--\r\n");
    out
}

/// An OLE2 compound file (.xls) whose FAT sends the directory chain back
/// to itself: sector 0 is the FAT and the directory, and its entry 0 is 0.
fn looping_fat_xls() -> Vec<u8> {
    let mut header = vec![0u8; 512];
    header[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    header[0x18..0x1A].copy_from_slice(&0x003Eu16.to_le_bytes());
    header[0x1A..0x1C].copy_from_slice(&3u16.to_le_bytes());
    header[0x1C..0x1E].copy_from_slice(&0xFFFEu16.to_le_bytes());
    header[0x1E..0x20].copy_from_slice(&9u16.to_le_bytes());
    header[0x20..0x22].copy_from_slice(&6u16.to_le_bytes());
    header[0x2C..0x30].copy_from_slice(&1u32.to_le_bytes()); // one FAT sector
    header[0x30..0x34].copy_from_slice(&0u32.to_le_bytes()); // directory at 0
    header[0x38..0x3C].copy_from_slice(&4096u32.to_le_bytes());
    header[0x3C..0x40].copy_from_slice(&0xFFFF_FFFEu32.to_le_bytes());
    header[0x44..0x48].copy_from_slice(&0xFFFF_FFFEu32.to_le_bytes());
    for i in 0..109 {
        let v: u32 = if i == 0 { 0 } else { 0xFFFF_FFFF };
        header[0x4C + 4 * i..0x50 + 4 * i].copy_from_slice(&v.to_le_bytes());
    }
    let mut sector = vec![0xFFu8; 512];
    sector[..4].copy_from_slice(&0u32.to_le_bytes()); // 0 → 0: a loop
    header.extend_from_slice(&sector);
    header
}

/// A zip whose one member inflates to 200 MB of zeros.
fn zip_bomb() -> Vec<u8> {
    use std::io::Write;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    out.start_file(
        "要請シート.xlsx",
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true),
    )
    .unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..200 {
        out.write_all(&zeros).unwrap();
    }
    out.finish().unwrap().into_inner()
}

fn deep_mime(id: &str, depth: usize) -> Vec<u8> {
    let mut out = auth_header();
    out.push_str(&format!(
        "From: {TOKYO}\r\nSubject: deep\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n"
    ));
    for d in 1..depth {
        out.push_str(&format!(
            "--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{d}\"\r\n\r\n",
            d - 1
        ));
    }
    out.push_str("x\r\n");
    for d in (0..depth).rev() {
        out.push_str(&format!("--b{d}--\r\n"));
    }
    out.into_bytes()
}

fn many_parts(id: &str, parts: usize) -> Vec<u8> {
    let mut out = auth_header();
    out.push_str(&format!(
        "From: {TOKYO}\r\nSubject: parts\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"p\"\r\n\r\n"
    ));
    for n in 0..parts {
        out.push_str(&format!(
            "--p\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"{n}.bin\"\r\n\r\nx\r\n"
        ));
    }
    out.push_str("--p--\r\n");
    out.into_bytes()
}

/// The 50 hostile mails: ten kinds, five of each.
fn hostile() -> Vec<Mail> {
    let sheet = common::sheets::valid();
    let nul_sheet = common::sheets::valid_with("西新宿2-8-1", "_x0000_");
    let xls = looping_fat_xls();
    let bomb = zip_bomb();
    let mut out = Vec::new();
    for v in 0..5 {
        let id = |kind: &str| format!("hostile-{kind}-{v}@{DOMAIN}");
        let mut push = |kind: &str, raw: Vec<u8>, expect: Expect| {
            out.push(Mail {
                id: id(kind),
                raw,
                expect: Some(expect),
            })
        };
        push(
            "nul-subject",
            tokyo_mail(
                &id("nul-subject"),
                "=?UTF-8?B?AA==?=",
                &[("s.xlsx", &sheet)],
            ),
            Expect::Filed,
        );
        push(
            "nul-cell",
            tokyo_mail(&id("nul-cell"), "cell", &[("s.xlsx", &nul_sheet)]),
            Expect::Filed,
        );
        let mut bad_utf8 = tokyo_mail(&id("bad-utf8"), "\u{FFFF}", &[("s.xlsx", &sheet)]);
        // Raw invalid UTF-8 and a NUL in the subject, the sender's name and
        // the file name.
        let text = String::from_utf8_lossy(&bad_utf8).into_owned();
        bad_utf8 = text
            .replacen("Subject: \u{FFFF}", "Subject: \u{1}BAD", 1)
            .replacen(
                &format!("From: {TOKYO}"),
                &format!("From: \u{1}NAME <{TOKYO}>"),
                1,
            )
            .replacen("filename=\"s.xlsx\"", "filename=\"\u{1}s.xlsx\"", 1)
            .into_bytes();
        for b in bad_utf8.iter_mut() {
            if *b == 1 {
                *b = 0xFF;
            }
        }
        if let Some(at) = bad_utf8.windows(4).position(|w| w == b"NAME") {
            bad_utf8[at] = 0;
        }
        push("bad-utf8", bad_utf8, Expect::Filed);
        push(
            "looping-fat",
            tokyo_mail(&id("looping-fat"), "xls", &[("要請.xls", &xls)]),
            Expect::Refused,
        );
        push(
            "zip-bomb",
            tokyo_mail(&id("zip-bomb"), "zip", &[("送付.zip", &bomb)]),
            Expect::Refused,
        );
        push(
            "deep-mime",
            deep_mime(&id("deep-mime"), 1000),
            Expect::Settled,
        );
        push(
            "many-parts",
            many_parts(&id("many-parts"), if v == 0 { 100_000 } else { 5_000 }),
            Expect::Settled,
        );
        let mut huge = auth_header();
        huge.push_str(&format!(
            "X-Filler: {}\r\n",
            "x".repeat(if v == 0 { 10 << 20 } else { 1 << 20 })
        ));
        let mut huge = huge.into_bytes();
        huge.extend_from_slice(
            &tokyo_mail(&id("huge-header"), "h", &[("s.xlsx", &sheet)])[auth_header().len()..],
        );
        push("huge-header", huge, Expect::Settled);
        // Our registered address without our MTA's verdict: forged.
        let forged = tokyo_mail(&id("forged"), "forged", &[("s.xlsx", &sheet)]);
        push(
            "forged",
            forged[auth_header().len()..].to_vec(),
            Expect::Quarantined,
        );
        let mut garbage: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        garbage.splice(
            0..0,
            format!("Message-ID: <{}>\r\n", id("garbage")).into_bytes(),
        );
        push("garbage", garbage, Expect::Settled);
    }
    out
}

/// Ordinary mails with the hostile ones spread among them.
fn corpus() -> Vec<Mail> {
    let sheet = common::sheets::valid();
    let mut hostile = hostile().into_iter();
    let mut out = Vec::new();
    for n in 0..ORDINARY {
        let id = format!("ordinary-{n}@{DOMAIN}");
        out.push(Mail {
            raw: tokyo_mail(
                &id,
                "=?UTF-8?B?57eK5oCl6YWN5biD6KaB6KuL?=",
                &[("要請シート.xlsx", &sheet)],
            ),
            id,
            expect: None,
        });
        if n % 20 == 10
            && let Some(h) = hostile.next()
        {
            out.push(h);
        }
    }
    out.extend(hostile);
    out
}

fn config(dir: &Path, imap: Option<&MailLab>) -> PathBuf {
    let mut text = format!(
        "data_dir = \"{}\"\nsos_address = \"sos-busshi@mhlw.go.jp\"\n[prefectures]\n\"東京都\" = [\"{TOKYO}\"]\n\
         [mail]\nauthserv_id = \"mx.mhlw.go.jp\"\nreply_rate_limit_per_hour = 100000\npoll_interval_ms = 100\n[web]\nenabled = false\n",
        dir.join("data").display()
    );
    if let Some(lab) = imap {
        let c = lab.imap_config(Tls::Implicit);
        text.push_str(&format!(
            "[imap]\nhost = \"{}\"\nport = {}\ntls = \"implicit\"\nuser = \"{}\"\npassword_file = \"{}\"\nca_file = \"{}\"\npoll_interval_secs = 1\n",
            c.host,
            c.port.unwrap_or(993),
            c.user,
            c.password_file.map(|p| p.display().to_string()).unwrap_or_default(),
            c.ca_file.map(|p| p.display().to_string()).unwrap_or_default(),
        ));
    }
    let path = dir.join("sos-intake.toml");
    std::fs::write(&path, text).expect("config");
    path
}

/// `sos-intake serve` under `prlimit --as`, logging to `log`.
fn serve(config: &Path, database_url: &str, log: &Path) -> Child {
    let out = std::fs::File::create(log).expect("log");
    Command::new("prlimit")
        .arg(format!("--as={MEMORY_LIMIT}"))
        .arg(env!("CARGO_BIN_EXE_sos-intake"))
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env("SOS_INTAKE_DATABASE_URL", database_url)
        .env("RUST_LOG", "warn,sos_intake=info,sqlx=warn")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .expect("prlimit (util-linux) starts sos-intake serve")
}

/// How many of the messages are settled: recorded, or set aside.
async fn settled(t: &TestDb) -> i64 {
    count(&t.db, "SELECT COUNT(*) FROM mail_messages").await
        + count(
            &t.db,
            "SELECT COUNT(*) FROM intake_attempts WHERE state = 'dead'",
        )
        .await
}

async fn wait_settled(t: &TestDb, child: &mut Child, total: usize, log: &Path) {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the gateway stopped ({status}):\n{}",
                tail(&std::fs::read_to_string(log).unwrap_or_default())
            );
        }
        let n = settled(t).await;
        if n >= total as i64 {
            eprintln!("{total} messages settled in {:?}", started.elapsed());
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "only {n} of {total} settled:\n{}",
            tail(&std::fs::read_to_string(log).unwrap_or_default())
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Checks every message's fate in the database.
async fn check(t: &TestDb, mails: &[Mail]) {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT m.message_id, m.disposition, m.receipts, (SELECT COUNT(*) FROM outbox o WHERE o.mail_message_id = m.id) \
         FROM mail_messages m",
    )
    .fetch_all(t.db.pool())
    .await
    .unwrap();
    let mut by_id = std::collections::HashMap::new();
    for r in &rows {
        let id: String = r.get(0);
        let replies: i64 = r.get(3);
        assert!(replies <= 1, "{id} answered {replies} times");
        by_id.insert(id, (r.get::<String, _>(1), r.get::<String, _>(2), replies));
    }
    let dead: Vec<String> =
        sqlx::query("SELECT message_id FROM intake_attempts WHERE state = 'dead'")
            .fetch_all(t.db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
    for m in mails {
        let fate = by_id.get(&m.id);
        match (m.expect, fate) {
            (None | Some(Expect::Filed), Some((disposition, receipts, replies))) => {
                assert!(!receipts.is_empty(), "{}: filed ({disposition})", m.id);
                assert_eq!(*replies, 1, "{}: answered once", m.id);
                if m.expect.is_none() {
                    assert_eq!(disposition, "accepted", "{}", m.id);
                }
            }
            (Some(Expect::Refused), Some((disposition, receipts, replies))) => {
                assert_eq!(disposition, "rejected", "{}", m.id);
                assert!(receipts.is_empty(), "{}", m.id);
                assert_eq!(*replies, 1, "{}: told why", m.id);
            }
            (Some(Expect::Quarantined), Some((disposition, _, replies))) => {
                assert_eq!(disposition, "quarantined", "{}", m.id);
                assert_eq!(*replies, 0, "{}: never answered", m.id);
            }
            (Some(Expect::Settled), Some(_)) => {}
            (Some(Expect::Settled), None) if dead.contains(&m.id) => {}
            (expect, None) => panic!(
                "{} ({expect:?}) has no clear state (dead letters: {dead:?})",
                m.id
            ),
        }
    }
}

async fn maildir_mix(t: TestDb) {
    let mails = corpus();
    let config = config(t.dir.path(), None);
    let inbox =
        sos_intake::mailbox::maildir::Maildir::open(&t.dir.path().join("data/inbox")).unwrap();
    for m in &mails {
        inbox.deliver(&m.raw).unwrap();
    }
    let log = t.dir.path().join("serve.log");
    let mut child = serve(&config, &t.url, &log);
    wait_settled(&t, &mut child, mails.len(), &log).await;
    assert_eq!(inbox.waiting().unwrap().len(), 0, "nothing left in new/");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the gateway is still up"
    );
    check(&t, &mails).await;
    signal_and_reap(child, "TERM", Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maildir_poison_mix_sqlite() {
    maildir_mix(TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maildir_poison_mix_postgres() {
    maildir_mix(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_poison_mix_postgres() {
    let lab = MailLab::start_dovecot();
    let t = TestDb::postgres().await;
    let mails = corpus();
    lab::append_all(&lab, "INBOX", mails.iter().map(|m| m.raw.clone())).await;
    let config = config(t.dir.path(), Some(&lab));
    let log = t.dir.path().join("serve.log");
    let mut child = serve(&config, &t.url, &log);
    wait_settled(&t, &mut child, mails.len(), &log).await;
    lab::wait_until(Duration::from_secs(60), "the inbox emptied", || async {
        lab::folder_count(&lab, "INBOX").await.0 == 0
    })
    .await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the gateway is still up"
    );
    check(&t, &mails).await;
    signal_and_reap(child, "TERM", Duration::from_secs(30));
}
