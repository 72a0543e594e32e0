//! The client corpus (`tests/fixtures/mail/clients/`) end to end, as
//! deployed: the real `sos-intake serve` reads it once from its Maildir
//! inbox and once from the real Dovecot over IMAP, on SQLite and on
//! PostgreSQL, and answers through the real Postfix into the sender's
//! mailbox. Every mail is answered exactly once, with the status and the
//! subject `golden.json` records (`tests/mail_clients.rs` keeps it); one
//! more copy from an unregistered address is quarantined. Then the web UI
//! over the same database: no reply, no page (queue, request pages, outbox,
//! quarantine, unprocessable) and no export (CSV and .xlsx, every cell read
//! with calamine) carries ESC, U+FFFD or decomposed kana.

mod common;
#[path = "imap_lab/mod.rs"]
mod lab;

use calamine::Reader as _;
use common::browser::{ADMIN, TestApp};
use common::db::TestDb;
use common::maillab::{MailLab, signal_and_reap};
use lab::{append, wait_until};
use sos_intake::config::Tls;
use sos_intake::message::{self, Limits};
use sos_intake::queue;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The corpus sender, whose lab mailbox receives the replies.
const TOKYO: &str = "sos@fukushi.metro.tokyo.lg.jp";

/// Every corpus mail: (file, Message-ID, raw), plus the stranger's copy.
fn corpus() -> Vec<(String, String, Vec<u8>)> {
    let dir = lab::repo().join("tests/fixtures/mail/clients");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("client corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    assert!(files.len() >= 13, "the corpus is complete");
    let mut out: Vec<(String, String, Vec<u8>)> = files
        .iter()
        .map(|p| {
            let raw = std::fs::read(p).expect("read");
            let id = message::parse(&raw, &Limits::default())
                .message_id
                .expect("every corpus mail has a Message-ID");
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, id, raw)
        })
        .collect();
    out.push(stranger(&out[0].2));
    out
}

/// The first corpus mail as sent from an address no prefecture registered:
/// quarantined, so the quarantine page has something to show.
fn stranger(raw: &[u8]) -> (String, String, Vec<u8>) {
    let text = String::from_utf8(raw.to_vec()).expect("7-bit corpus mail");
    let text = text
        .replace(TOKYO, "someone@example.jp")
        .replace("Message-ID: <", "Message-ID: <stranger-");
    let id = message::parse(text.as_bytes(), &Limits::default())
        .message_id
        .expect("id");
    ("stranger".into(), id, text.into_bytes())
}

/// What `golden.json` says each corpus mail's reply is: (status, subject
/// with receipts as `{receipt}`).
fn golden() -> BTreeMap<String, (String, String)> {
    let path = lab::repo().join("tests/fixtures/mail/clients/golden.json");
    let records: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(path).expect("golden.json")).expect("json");
    records
        .iter()
        .map(|r| {
            let field = |k: &str| r[k].as_str().expect(k).to_string();
            (
                field("file"),
                (field("disposition"), field("reply_subject")),
            )
        })
        .collect()
}

/// ESC, U+FFFD, or a kana followed by a combining (semi-)voiced mark.
fn unreadable(text: &str) -> Option<String> {
    if text.contains('\u{1b}') {
        return Some("ESC".into());
    }
    if text.contains('\u{fffd}') {
        return Some("U+FFFD".into());
    }
    let chars: Vec<char> = text.chars().collect();
    chars.windows(2).find_map(|w| {
        let kana = ('\u{3040}'..='\u{30ff}').contains(&w[0]);
        let mark = matches!(w[1], '\u{3099}' | '\u{309a}');
        (kana && mark).then(|| format!("decomposed kana {}{}", w[0], w[1]))
    })
}

fn assert_readable(what: &str, text: &str) {
    if let Some(problem) = unreadable(text) {
        panic!("{what} contains {problem}:\n{text}");
    }
}

/// Where the corpus comes from.
#[derive(Clone, Copy, PartialEq)]
enum Source {
    /// Files in `<data_dir>/inbox/new`, as an MTA delivers them.
    Maildir,
    /// Appended to the lab's INBOX; the gateway watches it over IMAPS.
    Imap,
}

/// A gateway configuration on this lab: replies through its Postfix.
fn write_config(lab: &MailLab, dir: &Path, source: Source) -> PathBuf {
    let mut text = format!(
        r#"data_dir = "{data}"
sos_address = "sos-busshi@mhlw.go.jp"
[prefectures]
"東京都" = ["{TOKYO}"]
[mail]
reply_rate_limit_per_hour = 100000
poll_interval_ms = 200
[smtp]
host = "127.0.0.1"
port = {smtp}
tls = "none"
timeout_secs = 10
[web]
enabled = false
"#,
        data = dir.join("data").display(),
        smtp = lab.ports.smtp,
    );
    if source == Source::Imap {
        let imap = lab.imap_config(Tls::Implicit);
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        text += &format!(
            "[imap]\nhost = \"{}\"\nport = {}\ntls = \"implicit\"\nuser = \"{}\"\npassword_file = \"{}\"\nca_file = \"{}\"\n",
            imap.host,
            imap.port.unwrap_or(993),
            imap.user,
            path(&imap.password_file).unwrap_or_default(),
            path(&imap.ca_file).unwrap_or_default(),
        );
    }
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
        let child = Command::new(env!("CARGO_BIN_EXE_sos-intake"))
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("SOS_INTAKE_DATABASE_URL", database_url)
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

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            signal_and_reap(child, "TERM", Duration::from_secs(20));
        }
    }
}

/// The replies in Tokyo's lab mailbox, by the Message-ID they answer.
fn replies(lab: &MailLab) -> BTreeMap<String, Vec<Vec<u8>>> {
    let mut by_id: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for raw in lab.messages(TOKYO) {
        let Some(parsed) = mail_parser::MessageParser::default().parse(&raw) else {
            continue;
        };
        let answered = match parsed.in_reply_to() {
            mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
            mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
            _ => Vec::new(),
        };
        for id in answered {
            by_id.entry(id).or_default().push(raw.clone());
        }
    }
    by_id
}

/// Empties Tokyo's lab mailbox (between the two passes).
fn clear_replies(lab: &MailLab) {
    let root = lab.maildir(TOKYO);
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(root.join(sub)) {
            for e in entries.flatten() {
                std::fs::remove_file(e.path()).expect("remove reply");
            }
        }
    }
}

/// Puts the corpus where `source` reads it.
async fn deliver(lab: &MailLab, dir: &Path, source: Source, mails: &[(String, String, Vec<u8>)]) {
    for (n, (_, _, raw)) in mails.iter().enumerate() {
        match source {
            Source::Maildir => {
                let inbox = dir.join("data/inbox");
                for sub in ["tmp", "new", "cur"] {
                    std::fs::create_dir_all(inbox.join(sub)).expect("Maildir");
                }
                let name = format!("1764000000.M{n}P1.corpus");
                std::fs::write(inbox.join("tmp").join(&name), raw).expect("write");
                std::fs::rename(inbox.join("tmp").join(&name), inbox.join("new").join(&name))
                    .expect("deliver");
            }
            Source::Imap => append(lab, "INBOX", raw).await,
        }
    }
}

/// One pass: the corpus through `serve` from `source` into a fresh
/// database; every reply checked against the goldens. Returns the
/// database, for the web checks.
async fn pass(lab: &MailLab, source: Source, postgres: bool) -> TestDb {
    let t = if postgres {
        TestDb::postgres().await
    } else {
        TestDb::sqlite().await
    };
    let mails = corpus();
    let golden = golden();
    clear_replies(lab);
    let config = write_config(lab, t.dir.path(), source);
    if source == Source::Maildir {
        deliver(lab, t.dir.path(), source, &mails).await;
    }
    let gateway = Gateway::start(&config, &t.url, t.dir.path().join("serve.log"));
    if source == Source::Imap {
        deliver(lab, t.dir.path(), source, &mails).await;
    }
    let answered = mails.len() - 1; // the stranger is not answered
    wait_until(
        Duration::from_secs(180),
        "every corpus mail answered",
        || async { replies(lab).len() >= answered },
    )
    .await;
    // Give a duplicate every chance to show up, then count.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = replies(lab);
    for (file, id, _) in &mails {
        let replies = got.get(id).cloned().unwrap_or_default();
        if file == "stranger" {
            assert!(replies.is_empty(), "the stranger is not answered");
            continue;
        }
        assert_eq!(replies.len(), 1, "{file}: answered once\n{}", gateway.log());
        check_reply(file, &replies[0], &golden[file]);
    }
    drop(gateway);
    let quarantined = common::db::count(&t.db, "SELECT COUNT(*) FROM quarantine").await;
    assert_eq!(quarantined, 1, "the stranger is quarantined");
    t
}

/// One reply against its golden status and subject.
fn check_reply(file: &str, raw: &[u8], (status, subject): &(String, String)) {
    assert!(!raw.contains(&0x1b), "{file}: ESC in the reply's bytes");
    let parsed = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("reply parses");
    let header = |name: &str| {
        parsed
            .header_raw(name)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    assert_eq!(&header("X-SOS-Status"), status, "{file}: status");
    let mut got = parsed.subject().unwrap_or_default().to_string();
    for receipt in header("X-SOS-Receipt")
        .split([',', ' '])
        .filter(|r| !r.is_empty())
    {
        got = got.replace(receipt, "{receipt}");
    }
    assert_eq!(&got, subject, "{file}: reply subject");
    let body = parsed
        .body_text(0)
        .map(|b| b.into_owned())
        .unwrap_or_default();
    assert_readable(&format!("{file}: reply subject"), &got);
    assert_readable(&format!("{file}: reply body"), &body);
}

/// The web UI over the database the gateway filled: every page and export.
async fn web_is_readable(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let mut conn = app.test_db.db.pool().acquire().await.expect("connection");
    let listing = queue::list(&mut conn, &queue::ListFilter::default())
        .await
        .expect("listing");
    drop(conn);
    assert!(listing.records.len() >= 13, "every corpus sheet is filed");
    let (mut admin, _) = app.signed_in(ADMIN).await;
    let mut pages = vec![
        "/queue".to_string(),
        "/outbox".into(),
        "/unprocessable".into(),
        "/admin/quarantine".into(),
    ];
    let mut dates: Vec<String> = listing
        .records
        .iter()
        .map(|r| r.batch_date.to_string())
        .collect();
    dates.sort();
    dates.dedup();
    for r in &listing.records {
        pages.push(format!("/requests/{}", r.id));
    }
    for d in &dates {
        pages.push(format!("/exports/delivery.csv?date={d}"));
        pages.push(format!("/exports/summary.csv?date={d}"));
    }
    for page in &pages {
        let resp = admin.get(page).await;
        assert_eq!(resp.status, 200, "GET {page}");
        assert_readable(&format!("GET {page}"), &resp.text());
    }
    let quarantine = admin.get("/admin/quarantine").await.text();
    assert!(
        quarantine.contains("someone@example.jp"),
        "the stranger is listed"
    );
    let mut cells = 0;
    for d in &dates {
        for export in ["delivery", "summary"] {
            let page = format!("/exports/{export}.xlsx?date={d}");
            let resp = admin.get(&page).await;
            assert_eq!(resp.status, 200, "GET {page}");
            cells += xlsx_cells_readable(&page, resp.body);
        }
    }
    assert!(cells > 0, "the exports hold cells");
}

/// Opens an .xlsx export with calamine and checks every cell's text.
fn xlsx_cells_readable(what: &str, bytes: Vec<u8>) -> usize {
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).expect("export opens");
    let mut cells = 0;
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).expect("worksheet");
        for (row, col, value) in range.cells() {
            assert_readable(&format!("{what} {name}!R{row}C{col}"), &value.to_string());
            cells += 1;
        }
    }
    cells
}

async fn both_sources(postgres: bool) {
    let lab = MailLab::start();
    let maildir = pass(&lab, Source::Maildir, postgres).await;
    web_is_readable(maildir).await;
    let imap = pass(&lab, Source::Imap, postgres).await;
    web_is_readable(imap).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_through_serve_maildir_and_imap_on_sqlite() {
    both_sources(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_through_serve_maildir_and_imap_on_postgres() {
    both_sources(true).await;
}
