//! Replies over real SMTP: a Postfix on loopback (started by the harness in
//! tests/common/maillab.rs) accepts them and delivers into Dovecot, where the
//! test reads them back from the recipient's Maildir on disk.
//!
//! - every TLS mode of `[smtp]` delivers (plain, STARTTLS + AUTH, implicit
//!   TLS + AUTH);
//! - an SMTP outage only delays replies: they stay queued, and after the
//!   server comes back each is delivered exactly once;
//! - a permanent 5xx is recorded as failed and not retried.

mod common;

use common::maillab::{self, MailLab};
use sos_intake::config::{Config, Settings, Tls};
use sos_intake::outbox::{self, OutgoingMail, RetryPolicy, Sender, Transport};
use sos_intake::pipeline::Intake;
use sos_intake::queue::Db;
use std::time::Duration;

const TOKYO: &str = "sos@fukushi.metro.tokyo.lg.jp";

fn settings(dir: &std::path::Path) -> Settings {
    let config = Config::parse(&format!("[prefectures]\n\"東京都\" = [\"{TOKYO}\"]\n")).unwrap();
    Settings::resolve(config, Some(dir.to_path_buf()))
}

fn request(id: &str) -> Vec<u8> {
    use base64::Engine;
    let sheet = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/sheets/valid.xlsx"
    ))
    .unwrap();
    format!(
        "From: {TOKYO}\r\nTo: sos-busshi@mhlw.go.jp\r\nSubject: request {id}\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsheet\r\n--b\r\n\
         Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"s.xlsx\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        base64::engine::general_purpose::STANDARD.encode(sheet)
    )
    .into_bytes()
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        first_delay: Duration::from_millis(200),
        max_delay: Duration::from_millis(400),
        ..RetryPolicy::default()
    }
}

async fn fresh_db(dir: &std::path::Path) -> Db {
    Db::connect(&format!("sqlite://{}/q.db", dir.display()))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_reach_postfix_in_every_tls_mode() {
    let lab = tokio::task::spawn_blocking(MailLab::start).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let db = fresh_db(tmp.path()).await;
    let intake = Intake::new(db.clone(), &settings(tmp.path())).unwrap();
    for (i, tls) in [Tls::None, Tls::Starttls, Tls::Implicit]
        .into_iter()
        .enumerate()
    {
        let out = intake
            .process(
                &request(&format!("tls-{i}@tokyo")),
                chrono::Utc::now().fixed_offset(),
            )
            .await
            .unwrap();
        let sender = Sender::new(db.clone(), Transport::smtp(&lab.smtp_config(tls)).unwrap());
        let report = sender.run_once().await.unwrap();
        assert_eq!(report.sent, 1, "{tls:?}: {report:?}\n{}", lab.postfix_log());
        let got = lab.wait_for_mail(TOKYO, i + 1, Duration::from_secs(20));
        assert_eq!(
            got.len(),
            i + 1,
            "{tls:?} reply not delivered:\n{}",
            lab.postfix_log()
        );
        let all: String = got
            .iter()
            .map(|m| String::from_utf8_lossy(m).to_string())
            .collect();
        assert!(
            all.contains(&format!("In-Reply-To: <tls-{i}@tokyo>")),
            "{tls:?}:\n{all}"
        );
        assert_eq!(
            all.matches("X-SOS-Status: accepted").count(),
            i + 1,
            "{all}"
        );
        assert!(
            all.contains(&format!("X-SOS-Receipt: {}", out.receipts[0])),
            "{all}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_outage_delays_replies_and_loses_none() {
    let mut lab = tokio::task::spawn_blocking(MailLab::start).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let db = fresh_db(tmp.path()).await;
    let intake = Intake::new(db.clone(), &settings(tmp.path())).unwrap();
    let sender = Sender::new(
        db.clone(),
        Transport::smtp(&lab.smtp_config(Tls::None)).unwrap(),
    )
    .with_policy(fast());

    lab.stop_postfix();
    for i in 0..3 {
        intake
            .process(
                &request(&format!("outage-{i}@tokyo")),
                chrono::Utc::now().fixed_offset(),
            )
            .await
            .unwrap();
    }
    let report = sender.run_once().await.unwrap();
    assert_eq!((report.sent, report.deferred, report.failed), (0, 3, 0));
    let mut conn = db.pool().acquire().await.unwrap();
    for e in outbox::list(&mut conn).await.unwrap() {
        assert_eq!(e.status, outbox::Status::Queued);
        assert_eq!(e.attempts, 1);
        assert!(!e.last_response.is_empty(), "the failure is recorded");
    }
    // Still down: another pass after the back-off defers again, sends nothing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sender.run_once().await.unwrap().sent, 0);

    let mut lab = tokio::task::spawn_blocking(move || {
        lab.start_postfix();
        lab
    })
    .await
    .unwrap();
    let mut sent = 0;
    for _ in 0..50 {
        sent += sender.run_once().await.unwrap().sent;
        if sent == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sent, 3, "{}", lab.postfix_log());
    let got = lab.wait_for_mail(TOKYO, 3, Duration::from_secs(20));
    // Give Postfix time to deliver any duplicate before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        sender.run_once().await.unwrap(),
        outbox::Report::default(),
        "nothing left to send"
    );
    let got_after = lab.messages(TOKYO);
    assert_eq!(got.len(), 3);
    assert_eq!(got_after.len(), 3, "each reply delivered exactly once");
    for i in 0..3 {
        let n = got_after
            .iter()
            .filter(|m| {
                String::from_utf8_lossy(m).contains(&format!("In-Reply-To: <outage-{i}@tokyo>"))
            })
            .count();
        assert_eq!(n, 1, "reply to outage-{i}");
    }
    lab.stop_postfix();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_is_recorded_and_not_retried() {
    let lab = tokio::task::spawn_blocking(MailLab::start).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let db = fresh_db(tmp.path()).await;
    let mut tx = db.begin().await.unwrap();
    let id = outbox::enqueue(
        &mut tx,
        &OutgoingMail {
            kind: outbox::kind::NAIJI.into(),
            mail_message_id: None,
            envelope_from: "sos-busshi@mhlw.go.jp".into(),
            recipient: maillab::REJECTED_RECIPIENT.into(),
            subject: "内示".into(),
            message_id: "naiji-1@mhlw.go.jp".into(),
            raw: b"From: sos-busshi@mhlw.go.jp\r\nTo: nobody@rejected.invalid\r\nSubject: test\r\nMessage-ID: <naiji-1@mhlw.go.jp>\r\n\r\nbody\r\n".to_vec(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let sender = Sender::new(
        db.clone(),
        Transport::smtp(&lab.smtp_config(Tls::None)).unwrap(),
    )
    .with_policy(fast());
    let report = sender.run_once().await.unwrap();
    assert_eq!(
        (report.sent, report.deferred, report.failed),
        (0, 0, 1),
        "{}",
        lab.postfix_log()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sender.run_once().await.unwrap(),
        outbox::Report::default(),
        "not retried"
    );
    let mut conn = db.pool().acquire().await.unwrap();
    let e = outbox::list(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.id == id)
        .unwrap();
    assert_eq!(e.status, outbox::Status::Failed);
    assert_eq!(e.attempts, 1);
    assert!(
        e.last_response.contains("5.1.1") || e.last_response.contains("550"),
        "{}",
        e.last_response
    );
}

/// The harness's Dovecot alone, as the IMAP tests use it: IMAP login,
/// IMAPS greeting, doveadm, and mail delivered by Postfix visible to IMAP.
#[test]
fn dovecot_alone_serves_imap_imaps_and_doveadm() {
    use std::io::{BufRead, BufReader, Write};
    let lab = MailLab::start_dovecot();
    let stream = std::net::TcpStream::connect(("127.0.0.1", lab.ports.imap)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("* OK"), "{line}");
    writeln!(writer, "a LOGIN {} {}\r", maillab::USER, maillab::PASSWORD).unwrap();
    let mut reply = String::new();
    while !reply.starts_with("a ") {
        reply.clear();
        reader.read_line(&mut reply).unwrap();
    }
    assert!(reply.starts_with("a OK"), "{reply}");
    writeln!(writer, "b LOGOUT\r").unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", lab.ports.imaps)).is_ok());
    let boxes = lab.doveadm(&["mailbox", "list", "-u", maillab::USER]);
    assert!(boxes.contains("INBOX"), "{boxes}");
}

/// `start_dovecot_without` hides capabilities; pause/resume freeze and
/// thaw the server; `imap_config` points at it.
#[test]
fn dovecot_without_move_pauses_and_resumes() {
    use std::io::{BufRead, BufReader, Write};
    let lab = MailLab::start_dovecot_without(&["MOVE", "IDLE"]);
    let config = lab.imap_config(Tls::None);
    assert_eq!(config.port, Some(lab.ports.imap));
    let session = |lab: &MailLab| -> String {
        let stream = std::net::TcpStream::connect(("127.0.0.1", lab.ports.imap)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut all = String::new();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        writeln!(
            writer,
            "a LOGIN {} {}\r\nb CAPABILITY\r\nc LOGOUT\r",
            maillab::USER,
            maillab::PASSWORD
        )
        .unwrap();
        while !line.starts_with("c ") {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            all.push_str(&line);
        }
        all
    };
    let caps = session(&lab);
    assert!(caps.contains("b OK"), "{caps}");
    let listed = caps
        .lines()
        .find(|l| l.starts_with("* CAPABILITY"))
        .unwrap_or_default()
        .to_string();
    assert!(listed.contains("UIDPLUS"), "{listed}");
    assert!(
        !listed
            .split_whitespace()
            .any(|c| c == "MOVE" || c == "IDLE"),
        "{listed}"
    );
    lab.pause_dovecot();
    let stream = std::net::TcpStream::connect(("127.0.0.1", lab.ports.imap));
    if let Ok(stream) = stream {
        stream
            .set_read_timeout(Some(Duration::from_millis(700)))
            .unwrap();
        let mut line = String::new();
        assert!(
            BufReader::new(stream).read_line(&mut line).is_err() || line.is_empty(),
            "a paused server greeted: {line}"
        );
    }
    lab.resume_dovecot();
    assert!(session(&lab).contains("b OK"));
}
