//! The client corpus (`tests/fixtures/mail/clients/`, sources in its
//! README): each message, written as one mail program writes it, goes
//! through the pipeline on SQLite and on PostgreSQL
//! (`SOS_TEST_POSTGRES_URL`). The reply must quote the original subject
//! decoded and name every file as the sender wrote it; no reply, web page or
//! export may carry an escape byte, U+FFFD or decomposed kana. What was read
//! (subject, sender name, file names, reply subject) is compared with
//! `golden.json`; `SOS_BLESS=1` rewrites it (review the diff), nothing else
//! does.

mod common;

use chrono::{DateTime, FixedOffset};
use common::browser::{ADMIN, TestApp};
use mail_parser::MimeHeaders as _;
use serde::{Deserialize, Serialize};
use sos_intake::message::{self, AttachmentKind, Limits};
use sos_intake::outbox;
use sos_intake::pipeline::{Disposition, Intake};
use sos_intake::queue;
use std::path::{Path, PathBuf};

/// Where the corpus lives.
fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail/clients")
}

/// Every `.eml` of the corpus, by name.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(clients_dir())
        .expect("client corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read"))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 11, "the corpus is complete: {}", files.len());
    files
}

/// What one message must read as, and what its reply says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Golden {
    file: String,
    subject: String,
    sender_name: Option<String>,
    /// Every attachment's path as listed (zip members after their zip).
    attachments: Vec<String>,
    disposition: String,
    /// The reply's decoded subject, receipt numbers replaced by `{receipt}`.
    reply_subject: String,
}

/// Monday 2026-11-24 10:30 JST, a working morning.
fn received() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-11-24T10:30:00+09:00").expect("time")
}

/// A reply's decoded subject and text body.
fn decoded_reply(raw: &[u8]) -> (String, String) {
    let parsed = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("reply parses");
    let subject = parsed.subject().unwrap_or_default().to_string();
    let body = parsed
        .body_text(0)
        .map(|b| b.into_owned())
        .unwrap_or_default();
    (subject, body)
}

/// What must never reach a person: ESC (an undecoded ISO-2022-JP
/// sequence), U+FFFD, or a combining voiced mark after kana (NFD).
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

/// One corpus message through the pipeline on a fresh SQLite app: its
/// golden record, after the reply, the pages and the exports were checked.
async fn run_one(file: &str, raw: &[u8], postgres: bool) -> Golden {
    let parsed = message::parse(raw, &Limits::default());
    let subject = parsed.subject.clone().unwrap_or_default();
    let sender_name = parsed.from.as_ref().and_then(|m| m.name.clone());
    let attachments: Vec<String> = parsed
        .attachments
        .iter()
        .filter(|a| !a.is_inline)
        .map(|a| a.path.clone())
        .collect();
    let sheet_names: Vec<String> = parsed
        .attachments
        .iter()
        .filter(|a| matches!(a.kind, AttachmentKind::Sheet(_)))
        .filter_map(|a| a.filename.clone())
        .collect();
    assert!(!sheet_names.is_empty(), "{file}: a sheet was found");
    assert_readable(&format!("{file}: subject"), &subject);
    assert_readable(&format!("{file}: parsed body"), &parsed.text);
    for name in sender_name.iter().chain(&attachments) {
        assert_readable(&format!("{file}: name"), name);
    }
    assert!(
        parsed.problems.is_empty(),
        "{file}: no problems: {:?}",
        parsed.problems
    );

    let app = if postgres {
        TestApp::postgres().await
    } else {
        TestApp::sqlite().await
    };
    let intake = Intake::new(app.test_db.db.clone(), &app.settings).expect("intake");
    let out = intake.process(raw, received()).await.expect("processed");
    let mut conn = app.test_db.db.pool().acquire().await.expect("connection");
    let entries = outbox::list(&mut conn).await.expect("outbox");
    assert_eq!(entries.len(), 1, "{file}: one reply");
    let reply_raw = outbox::raw(&mut conn, entries[0].id)
        .await
        .expect("raw")
        .expect("reply bytes");
    assert!(
        !reply_raw.contains(&0x1b),
        "{file}: ESC in the reply's bytes"
    );
    let (reply_subject, reply_body) = decoded_reply(&reply_raw);
    assert_readable(&format!("{file}: reply subject"), &reply_subject);
    assert_readable(&format!("{file}: reply body"), &reply_body);
    // Issue 12 point 5: the original subject quoted, the files named as
    // the sender wrote them.
    assert!(
        reply_subject.contains(&subject),
        "{file}: the reply subject quotes {subject:?}: {reply_subject:?}"
    );
    for name in &sheet_names {
        assert!(
            reply_body.contains(name.as_str()),
            "{file}: the reply names {name:?}:\n{reply_body}"
        );
    }

    let listing = queue::list(&mut conn, &queue::ListFilter::default())
        .await
        .expect("listing");
    drop(conn);
    let (mut admin, _) = app.signed_in(ADMIN).await;
    let mut pages = vec!["/queue".to_string(), "/outbox".into()];
    for r in &listing.records {
        pages.push(format!("/requests/{}", r.id));
        pages.push(format!("/exports/delivery.csv?date={}", r.batch_date));
        pages.push(format!("/exports/summary.csv?date={}", r.batch_date));
    }
    for page in pages {
        let resp = admin.get(&page).await;
        assert_eq!(resp.status, 200, "{file}: GET {page}");
        assert_readable(&format!("{file}: GET {page}"), &resp.text());
    }
    for record in &listing.records {
        let page = admin.get(&format!("/requests/{}", record.id)).await.text();
        for name in &sheet_names {
            assert!(
                page.contains(name.as_str()),
                "{file}: request page names {name:?}"
            );
        }
    }

    let mut masked = reply_subject.clone();
    for receipt in &out.receipts {
        masked = masked.replace(receipt.as_str(), "{receipt}");
    }
    Golden {
        file: file.to_string(),
        subject,
        sender_name,
        attachments,
        disposition: out.disposition.as_str().to_string(),
        reply_subject: masked,
    }
}

/// The whole corpus on one backend, against `golden.json`.
async fn corpus_matches_golden(postgres: bool) {
    let mut got = Vec::new();
    for (file, raw) in corpus() {
        let golden = run_one(&file, &raw, postgres).await;
        assert_eq!(
            golden.disposition,
            Disposition::Accepted.as_str(),
            "{file}: accepted"
        );
        got.push(golden);
    }
    let path = clients_dir().join("golden.json");
    if !postgres && std::env::var_os("SOS_BLESS").is_some_and(|v| v == "1") {
        let text = serde_json::to_string_pretty(&got).expect("json") + "\n";
        std::fs::write(&path, text).expect("write golden.json");
        return;
    }
    let want: Vec<Golden> =
        serde_json::from_slice(&std::fs::read(&path).expect("golden.json (SOS_BLESS=1 to create)"))
            .expect("golden.json parses");
    assert_eq!(want.len(), got.len(), "one golden record per message");
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w, g, "{} differs from golden.json", g.file);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_corpus_replies_match_golden_on_sqlite() {
    corpus_matches_golden(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_corpus_replies_match_golden_on_postgres() {
    corpus_matches_golden(true).await;
}

#[test]
fn ours_and_mail_parser_agree_on_the_corpus_subjects_and_names() {
    // Where mail-parser decodes the same header right, we must agree.
    let mut compared_names = 0;
    for (file, raw) in corpus() {
        let ours = message::parse(&raw, &Limits::default());
        let theirs = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("mail-parser reads it");
        if let Some(subject) = theirs.subject().filter(|s| unreadable(s).is_none()) {
            // mail-parser reads raw 8-bit headers as Latin-1/UTF-8 lossy.
            if subject.is_ascii() || file.contains("sjis") {
                continue;
            }
            assert_eq!(ours.subject.as_deref(), Some(subject), "{file}");
        }
        let their_name = theirs
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.name())
            .filter(|n| unreadable(n).is_none());
        if let Some(name) = their_name {
            let ours = ours.from.as_ref().and_then(|m| m.name.clone());
            assert_eq!(ours.as_deref(), Some(name), "{file}: sender name");
        }
        // File names mail-parser reads without damage, we read the same
        // (composed: mail-parser keeps an NFD name as it came).
        for part in theirs.attachments() {
            let Some(name) = part.attachment_name().filter(|n| unreadable(n).is_none()) else {
                continue;
            };
            let name = sos_intake::message::words::nfc(name);
            compared_names += 1;
            assert!(
                ours.attachments
                    .iter()
                    .any(|a| a.filename.as_deref() == Some(name.as_str())),
                "{file}: mail-parser reads {name:?}, we read {:?}",
                ours.attachments
                    .iter()
                    .map(|a| &a.filename)
                    .collect::<Vec<_>>()
            );
        }
    }
    eprintln!("compared {compared_names} file names with mail-parser's");
    assert!(compared_names >= 5, "the comparison is not empty");
}

#[test]
fn unreadable_text_is_caught() {
    assert!(unreadable("Re: $B6[5^(B\u{1b}").is_some());
    assert!(unreadable("要請\u{fffd}").is_some());
    assert!(unreadable("テ\u{3099}ータ").is_some());
    assert!(unreadable("データ ① ㈱ ～").is_none());
}

#[test]
fn iso_2022_jp_bodies_mail_parser_garbles_are_read_here() {
    // Becky! leaves and re-enters JIS X 0208 around every run
    // (`ESC ( B ESC $ B`): mail-parser's WHATWG decoder gives U+FFFD there.
    let raw = std::fs::read(clients_dir().join("03-becky.eml")).expect("becky");
    let theirs = mail_parser::MessageParser::default()
        .parse(&raw)
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .unwrap_or_default();
    assert!(theirs.contains('\u{fffd}'), "mail-parser: {theirs:?}");
    let ours = message::parse(&raw, &Limits::default()).text;
    assert_eq!(ours, "東京都福祉局です。\r\n要請シートを送付します。\r\n");
    // Outlook's CP932 extensions in an ISO-2022-JP body.
    let raw = std::fs::read(clients_dir().join("01-outlook-ja.eml")).expect("outlook");
    let ours = message::parse(&raw, &Limits::default()).text;
    assert!(
        ours.contains("①の要請シート") && ours.contains("㈱○○医療器械") && ours.contains("髙橋")
    );
}

#[test]
fn an_html_only_iso_2022_jp_body_with_redundant_escapes_is_read() {
    let raw = b"From: a@b.jp\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
Content-Type: text/html; charset=\"ISO-2022-JP\"\r\n\r\n\
<html><body><p>\x1b$BMW@A\x1b(B\x1b$B%7!<%H\x1b(B</p></body></html>\r\n";
    let text = message::parse(raw, &Limits::default()).text;
    assert_eq!(text.trim(), "要請シート");
}

/// An Outlook rich-text mail whose winmail.dat holds only the RTF body
/// (the sheet was never attached, or the TNEF is cut): rejected, and the
/// reply says exactly where Outlook's HTML / plain-text settings are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_winmail_dat_with_nothing_inside_is_answered_with_outlooks_settings() {
    let corpus = std::fs::read(clients_dir().join("12-outlook-rich-text.eml")).expect("mail");
    let parsed = message::parse(&corpus, &Limits::default());
    let winmail = &parsed.attachments[0];
    assert!(matches!(winmail.kind, AttachmentKind::Tnef { members: 1 }));
    // The same winmail.dat cut before its first attachment: only the
    // message attributes are left.
    let cut = &winmail.bytes[..300];
    let raw = format!(
        "From: =?ISO-2022-JP?B?GyRCRWw1fkVUGyhC?= <sos@fukushi.metro.tokyo.lg.jp>\r\n\
To: sos-busshi@mhlw.go.jp\r\nSubject: =?ISO-2022-JP?B?GyRCTVdAQSU3ITwlSBsoQg==?=\r\n\
Message-ID: <rtf-only@fukushi.metro.tokyo.lg.jp>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0900\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nsee attached\r\n\
--b\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\n\
Content-Disposition: attachment; filename=\"winmail.dat\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        base64_lines(cut)
    );
    let parsed = message::parse(raw.as_bytes(), &Limits::default());
    assert_eq!(
        parsed.attachments[0].kind,
        AttachmentKind::Other(message::OtherFile::OutlookTnef)
    );
    let app = TestApp::sqlite().await;
    let intake = Intake::new(app.test_db.db.clone(), &app.settings).expect("intake");
    let out = intake
        .process(raw.as_bytes(), received())
        .await
        .expect("processed");
    assert_eq!(out.disposition, Disposition::Rejected);
    let mut conn = app.test_db.db.pool().acquire().await.expect("connection");
    let entries = outbox::list(&mut conn).await.expect("outbox");
    assert_eq!(entries.len(), 1, "answered once");
    let reply = outbox::raw(&mut conn, entries[0].id)
        .await
        .expect("raw")
        .expect("bytes");
    let (_, body) = decoded_reply(&reply);
    assert_readable("reply body", &body);
    for words in [
        "winmail.dat",
        "リッチテキスト形式",
        "［ファイル］＞［オプション］＞［メール］",
        "「次の形式でメッセージを作成する」を「HTML形式」",
        "「HTML形式に変換する」",
        "「インターネット形式」",
    ] {
        assert!(body.contains(words), "the reply says {words:?}:\n{body}");
    }
    assert!(
        !body.contains("受付対象外のファイル形式です"),
        "not the generic sentence:\n{body}"
    );
    assert!(
        !body.contains("添付されていませんでした"),
        "the sheet is in the winmail.dat: no claim that nothing was attached:\n{body}"
    );
}

fn base64_lines(bytes: &[u8]) -> String {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    text.as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// An opaque-signed S/MIME mail (`application/pkcs7-mime`,
/// `smime.p7m`: the signed content inside the signature, which Outlook
/// sends when clear-text signing is off): never read as a file of unknown
/// type; the reply says to resend clear-signed or unsigned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opaque_signed_smime_mail_is_answered_with_how_to_resend() {
    // The start of a CMS SignedData (RFC 5652), BER with indefinite
    // lengths as Windows writes it.
    let p7m = [
        &[0x30, 0x80, 0x06, 0x09][..],
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02],
        &[
            0xa0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00,
        ],
    ]
    .concat();
    let raw = format!(
        "From: sos@fukushi.metro.tokyo.lg.jp\r\nTo: sos-busshi@mhlw.go.jp\r\n\
Subject: =?ISO-2022-JP?B?GyRCTVdAQSU3ITwlSBsoQg==?=\r\n\
Message-ID: <opaque@fukushi.metro.tokyo.lg.jp>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0900\r\n\
MIME-Version: 1.0\r\n\
Content-Type: application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\"\r\n\
Content-Disposition: attachment; filename=\"smime.p7m\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        base64_lines(&p7m)
    );
    let parsed = message::parse(raw.as_bytes(), &Limits::default());
    assert_eq!(
        parsed
            .attachments
            .iter()
            .map(|a| a.kind.clone())
            .collect::<Vec<_>>(),
        vec![AttachmentKind::Other(message::OtherFile::SmimeEnvelope)]
    );
    let app = TestApp::sqlite().await;
    let intake = Intake::new(app.test_db.db.clone(), &app.settings).expect("intake");
    let out = intake
        .process(raw.as_bytes(), received())
        .await
        .expect("processed");
    assert_eq!(out.disposition, Disposition::Rejected);
    let mut conn = app.test_db.db.pool().acquire().await.expect("connection");
    let entries = outbox::list(&mut conn).await.expect("outbox");
    assert_eq!(entries.len(), 1, "answered once");
    let reply = outbox::raw(&mut conn, entries[0].id)
        .await
        .expect("raw")
        .expect("bytes");
    let (_, body) = decoded_reply(&reply);
    assert_readable("reply body", &body);
    for words in [
        "smime.p7m",
        "S/MIME",
        "クリア テキスト",
        "［電子メールのセキュリティ］",
    ] {
        assert!(body.contains(words), "the reply says {words:?}:\n{body}");
    }
    assert!(
        !body.contains("添付されていませんでした"),
        "the sheet is in the envelope: no claim that nothing was attached:\n{body}"
    );
}
