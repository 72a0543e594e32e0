//! End to end through the mail pipeline: a message in, queue records and one
//! reply in the outbox out, on SQLite and PostgreSQL. Messages are built
//! here from the sample sheets (samples/sheets/) so each test says exactly
//! what it sends; `intake_samples.rs` runs the realistic samples/mail/.

mod common;

use chrono::{DateTime, FixedOffset};
use common::db::count;
use sos_intake::config::{Config, Settings};
use sos_intake::outbox::{self, Sender, Transport};
use sos_intake::pipeline::{Disposition, Intake, Outcome};
use sqlx::Row;
use std::path::Path;

/// The configuration of these tests: three prefectures, our authserv-id.
pub const CONFIG: &str = r#"
sos_address = "sos-busshi@mhlw.go.jp"
sos_name = "厚生労働省 緊急配布チーム"
[prefectures]
"東京都" = ["sos@fukushi.metro.tokyo.lg.jp"]
"大阪府" = ["@pref.osaka.lg.jp"]
[mail]
authserv_id = "mx.mhlw.go.jp"
reply_rate_limit_per_hour = 3
"#;

fn settings(dir: &Path) -> Settings {
    Settings::resolve(
        Config::parse(CONFIG).expect("test config"),
        Some(dir.to_path_buf()),
    )
}

fn sheet(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples/sheets")
            .join(name),
    )
    .expect("sample sheet")
}

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).expect("time")
}

/// A mail from `from` with `headers` (already formatted lines) and the
/// attachments, as a prefecture's mail client would write it and our MTA
/// delivers it: `Authentication-Results` lines of `headers` stand above the
/// MTA's `Received` line, where our MTA writes its verdict; without any,
/// the verdict is a pass for the From domain (a genuine sender). The other
/// headers come below, as the sender wrote them.
fn mail(from: &str, id: &str, subject: &str, headers: &[&str], files: &[(&str, &[u8])]) -> Vec<u8> {
    use base64::Engine;
    let mut out = String::new();
    let (verdicts, headers): (Vec<&str>, Vec<&str>) = headers
        .iter()
        .copied()
        .partition(|h| h.starts_with("Authentication-Results:"));
    if verdicts.is_empty() {
        let domain = from
            .rsplit_once('@')
            .map_or("", |(_, d)| d.trim_end_matches('>'));
        out.push_str(&format!(
            "Authentication-Results: mx.mhlw.go.jp; spf=pass smtp.mailfrom={domain}; dkim=pass header.d={domain}; dmarc=pass header.from={domain}\r\n"
        ));
    }
    for h in verdicts {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("Received: from mail.sender.example (mail.sender.example [192.0.2.9])\r\n\tby mx.mhlw.go.jp (Postfix) with ESMTPS id 4Q0900\r\n\tfor <sos-busshi@mhlw.go.jp>; Fri, 20 Nov 2026 09:00:00 +0900\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str(&format!(
        "From: {from}\r\nTo: sos-busshi@mhlw.go.jp\r\nSubject: =?UTF-8?B?{}?=\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nお世話になっております。シートを送付します。\r\n",
        base64::engine::general_purpose::STANDARD.encode(subject)
    ));
    for (name, bytes) in files {
        out.push_str(&format!(
            "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=UTF-8''{}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            percent(name),
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ));
    }
    out.push_str("--b--\r\n");
    out.into_bytes()
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

const TOKYO: &str = "東京都 感染症対策課 <sos@fukushi.metro.tokyo.lg.jp>";

/// Every reply in the outbox, as text.
async fn replies(db: &sos_intake::queue::Db) -> Vec<String> {
    let mut conn = db.pool().acquire().await.unwrap();
    let mut out = Vec::new();
    for e in outbox::list(&mut conn).await.unwrap() {
        let raw = outbox::raw(&mut conn, e.id).await.unwrap().unwrap();
        out.push(decode(&raw));
    }
    out
}

/// The reply with its text body decoded (lettre may base64 it).
fn decode(raw: &[u8]) -> String {
    use mail_parser::MimeHeaders;
    let parsed = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("reply parses");
    let headers = String::from_utf8_lossy(
        &raw[..raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or(raw.len())],
    )
    .to_string();
    let body = parsed
        .body_text(0)
        .map(|b| b.to_string())
        .unwrap_or_default();
    let subject = parsed.subject().unwrap_or_default().to_string();
    let names: Vec<String> = parsed
        .attachments()
        .filter_map(|a| a.attachment_name().map(String::from))
        .collect();
    format!(
        "{headers}\r\nSUBJECT: {subject}\r\nATTACHMENTS: {}\r\n\r\n{body}",
        names.join(" | ")
    )
}

/// 2026-11-24 (a Tuesday) 10:00 JST: a working day before 13:00, when
/// most of these mails arrive.
const TUESDAY_MORNING: &str = "2026-11-24T10:00:00+09:00";

/// The intake of these tests on `t`'s database.
fn intake_for(t: &common::db::TestDb) -> Intake {
    Intake::new(t.db.clone(), &settings(&t.data_dir())).unwrap()
}

/// `raw` through the intake as received at `time` (RFC 3339).
async fn receive(intake: &Intake, raw: &[u8], time: &str) -> Outcome {
    intake.process(raw, at(time)).await.unwrap()
}

/// The text in the first column of the one row `sql` selects.
async fn text(db: &sos_intake::queue::Db, sql: &str) -> String {
    sqlx::query(sql).fetch_one(db.pool()).await.unwrap().get(0)
}

both_backends!(valid_sheet_is_filed_and_acknowledged_once, |t| {
    let intake = intake_for(&t);
    let raw = mail(
        TOKYO,
        "valid-1@tokyo",
        "緊急配布要請（○○クリニック）",
        &[],
        &[("要請シート.xlsx", &sheet("valid.xlsx"))],
    );
    // Friday 2026-11-20 14:00 JST: after 13:00, and Monday 11-23 is 勤労感謝の日.
    let out = receive(&intake, &raw, "2026-11-20T14:00:00+09:00").await;
    assert_eq!(out.disposition, Disposition::Accepted);
    assert_eq!(out.receipts.len(), 1);
    let receipt = &out.receipts[0];

    let row = sqlx::query("SELECT status, batch_date, prefecture, attachment_name, received_at FROM requests WHERE receipt = $1")
        .bind(receipt)
        .fetch_one(t.db.pool())
        .await
        .unwrap();
    assert_eq!(row.try_get::<String, _>(0).unwrap(), "都道府県・国確認中");
    assert_eq!(row.try_get::<String, _>(1).unwrap(), "2026-11-24");
    assert_eq!(row.try_get::<String, _>(2).unwrap(), "東京都");
    assert_eq!(row.try_get::<String, _>(3).unwrap(), "要請シート.xlsx");
    // The receipt time is the mailbox's, not the Date header's 09:00.
    assert_eq!(
        row.try_get::<String, _>(4).unwrap(),
        "2026-11-20T05:00:00.000000Z"
    );

    let replies = replies(&t.db).await;
    assert_eq!(replies.len(), 1);
    let r = &replies[0];
    for needle in [
        "X-SOS-Status: accepted".to_string(),
        format!("X-SOS-Receipt: {receipt}"),
        "In-Reply-To: <valid-1@tokyo>".into(),
        "Auto-Submitted: auto-replied".into(),
        "To: =?utf-8?b?".into(),
        "From: =?utf-8?b?".into(),
        format!("{}: 1", sos_intake::replies::OWN_REPLY_HEADER),
        format!(
            "SUBJECT: 【緊急配布要請シート】受付しました 受付番号 {receipt} (Re: 緊急配布要請（○○クリニック）)"
        ),
        format!("受付番号：{receipt}"),
        "要請シート.xlsx".into(),
        "非滅菌手袋".into(),
        "2026年11月24日".into(),
        "13時を過ぎての受信".into(),
    ] {
        assert!(r.contains(&needle), "reply lacks {needle:?}:\n{r}");
    }

    // The same bytes again (a crash before the Maildir move, a re-delivery):
    // nothing new is filed or queued.
    let again = receive(&intake, &raw, "2026-11-20T14:05:00+09:00").await;
    assert_eq!(again.disposition, Disposition::AlreadyProcessed);
    assert_eq!(again.first_disposition, Disposition::Accepted);
    assert_eq!(&again.receipts, &out.receipts);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM requests").await, 1);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM outbox").await, 1);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM mail_messages").await, 1);
});

both_backends!(error_sheet_gets_a_report_with_the_annotated_copy, |t| {
    let intake = intake_for(&t);
    let raw = mail(
        TOKYO,
        "err-1@tokyo",
        "要請",
        &[],
        &[("病院A.xlsx", &sheet("error-item-reason-economic.xlsx"))],
    );
    let out = receive(&intake, &raw, TUESDAY_MORNING).await;
    assert_eq!(out.disposition, Disposition::Rejected);
    let status = text(&t.db, "SELECT status FROM requests").await;
    assert_eq!(status, "エラー有り");
    let r = &replies(&t.db).await[0];
    assert!(r.contains("X-SOS-Status: rejected"), "{r}");
    assert!(r.contains("ATTACHMENTS: 病院A_指摘箇所.xlsx"), "{r}");
    assert!(r.contains("エラー（"), "{r}");
    assert!(
        r.contains("経済的"),
        "the finding's message is quoted:\n{r}"
    );
    assert!(r.contains("セル "), "the cell is named:\n{r}");
    assert!(
        r.contains("病院A.xlsx（シート「"),
        "the sheet is named:\n{r}"
    );
});

both_backends!(
    warnings_of_a_refused_sheet_do_not_say_it_was_accepted,
    |t| {
        // A refused sheet's warnings must not tell the prefecture 「受付はしています」:
        // nothing went into review, they have to resend.
        let intake = intake_for(&t);
        let raw = mail(
            TOKYO,
            "err-warn@tokyo",
            "要請",
            &[],
            &[("病院B.xlsx", &sheet("error-sheet-item-row-missing.xlsx"))],
        );
        let out = receive(&intake, &raw, TUESDAY_MORNING).await;
        assert_eq!(out.disposition, Disposition::Rejected);
        let r = &replies(&t.db).await[0];
        assert!(r.contains("確認事項（"), "the sheet has a warning:\n{r}");
        assert!(!r.contains("受付はしています"), "{r}");
        assert!(r.contains("再送の際にあわせて内容をご確認ください"), "{r}");
    }
);

both_backends!(one_good_one_bad_sheet_is_partial, |t| {
    let intake = intake_for(&t);
    let raw = mail(
        TOKYO,
        "two@tokyo",
        "2件",
        &[],
        &[
            ("good.xlsx", &sheet("valid.xlsx")),
            ("bad.xlsx", &sheet("error-prefecture-total-mismatch.xlsx")),
        ],
    );
    let out = receive(&intake, &raw, TUESDAY_MORNING).await;
    assert_eq!(out.disposition, Disposition::Partial);
    assert_eq!(out.receipts.len(), 2);
    let r = &replies(&t.db).await[0];
    assert!(r.contains("X-SOS-Status: partial"), "{r}");
    assert!(
        r.contains(&format!(
            "X-SOS-Receipt: {}, {}",
            out.receipts[0], out.receipts[1]
        )),
        "{r}"
    );
    assert!(r.contains("good.xlsx") && r.contains("bad.xlsx"), "{r}");
    assert!(r.contains("13時までの受信のため当日扱い"), "{r}");
});

both_backends!(sheet_of_another_prefecture_is_an_error, |t| {
    let intake = intake_for(&t);
    // An Osaka sheet sent by Tokyo.
    let raw = mail(
        TOKYO,
        "osaka-from-tokyo@tokyo",
        "大阪",
        &[],
        &[("osaka.xlsx", &sheet("valid-national-direct.xlsx"))],
    );
    let out = receive(&intake, &raw, TUESDAY_MORNING).await;
    assert_eq!(out.disposition, Disposition::Rejected);
    let findings = text(&t.db, "SELECT findings FROM requests").await;
    assert!(findings.contains("mail.prefecture_mismatch"), "{findings}");
    // The same sheet from Osaka is fine.
    let raw = mail(
        "kansen@pref.osaka.lg.jp",
        "osaka@osaka",
        "大阪",
        &[],
        &[("osaka.xlsx", &sheet("valid-national-direct.xlsx"))],
    );
    let out = receive(&intake, &raw, TUESDAY_MORNING).await;
    assert_eq!(out.disposition, Disposition::Accepted);
});

both_backends!(
    unknown_sender_is_quarantined_and_answered_only_when_vouched_for,
    |t| {
        let intake = intake_for(&t);
        let files: &[(&str, &[u8])] = &[("s.xlsx", &sheet("valid.xlsx"))];
        // Our server could not authenticate it.
        let raw = mail(
            "someone@example.com",
            "unknown-1@example.com",
            "要請",
            &[
                "Authentication-Results: mx.mhlw.go.jp; spf=none smtp.mailfrom=example.com; dkim=none",
            ],
            files,
        );
        let out = receive(&intake, &raw, TUESDAY_MORNING).await;
        assert_eq!(out.disposition, Disposition::Quarantined);
        assert_eq!(out.reply, None);
        // A forged verdict from someone else's server does not count.
        let forged = mail(
            "someone@example.com",
            "unknown-2@example.com",
            "要請",
            &["Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=example.com"],
            files,
        );
        assert_eq!(receive(&intake, &forged, TUESDAY_MORNING).await.reply, None);
        // Our own server vouches: answered, as quarantined.
        let vouched = mail(
            "someone@example.com",
            "unknown-3@example.com",
            "要請",
            &["Authentication-Results: mx.mhlw.go.jp; spf=pass smtp.mailfrom=example.com"],
            files,
        );
        let out = receive(&intake, &vouched, TUESDAY_MORNING).await;
        assert_eq!(out.disposition, Disposition::Quarantined);
        assert!(out.reply.is_some());
        assert_eq!(
            count(&t.db, "SELECT COUNT(*) FROM requests").await,
            0,
            "nothing from unknown senders is filed"
        );
        assert_eq!(count(&t.db, "SELECT COUNT(*) FROM quarantine").await, 3);
        let replies = replies(&t.db).await;
        assert_eq!(replies.len(), 1);
        assert!(
            replies[0].contains("X-SOS-Status: quarantined"),
            "{}",
            replies[0]
        );
        assert!(replies[0].contains("登録されていない"), "{}", replies[0]);
    }
);

both_backends!(automatic_mail_and_our_own_replies_are_never_answered, |t| {
    let intake = intake_for(&t);
    let files: &[(&str, &[u8])] = &[("s.xlsx", &sheet("valid.xlsx"))];
    let ooo = mail(
        TOKYO,
        "ooo@tokyo",
        "不在",
        &["Auto-Submitted: auto-replied"],
        &[],
    );
    assert_eq!(
        receive(&intake, &ooo, TUESDAY_MORNING).await.disposition,
        Disposition::Ignored
    );
    let list = mail(
        TOKYO,
        "list@tokyo",
        "お知らせ",
        &["Precedence: bulk"],
        files,
    );
    assert_eq!(
        receive(&intake, &list, TUESDAY_MORNING).await.disposition,
        Disposition::Ignored
    );
    // One of our replies coming back (a loop through a forwarding rule).
    let good = mail(TOKYO, "loop-src@tokyo", "要請", &[], files);
    receive(&intake, &good, TUESDAY_MORNING).await;
    let mut conn = t.db.pool().acquire().await.unwrap();
    let first = outbox::list(&mut conn).await.unwrap().remove(0);
    let ours = outbox::raw(&mut conn, first.id).await.unwrap().unwrap();
    drop(conn);
    let out = receive(&intake, &ours, "2026-11-24T10:01:00+09:00").await;
    assert_eq!(out.disposition, Disposition::Ignored);
    assert_eq!(out.reply, None);
    assert_eq!(
        count(&t.db, "SELECT COUNT(*) FROM outbox").await,
        1,
        "only the real request was answered"
    );
    assert_eq!(
        count(&t.db, "SELECT COUNT(*) FROM requests").await,
        1,
        "nothing filed from automatic mail"
    );
    assert_eq!(
        count(&t.db, "SELECT COUNT(*) FROM mail_messages").await,
        4,
        "every message is kept"
    );
});

both_backends!(replies_stop_at_the_rate_limit_but_filing_goes_on, |t| {
    let intake = intake_for(&t);
    let mut answered = 0;
    for i in 0..5 {
        let raw = mail(
            TOKYO,
            &format!("burst-{i}@tokyo"),
            "要請",
            &[],
            &[("s.xlsx", &sheet("valid.xlsx"))],
        );
        let out = receive(&intake, &raw, TUESDAY_MORNING).await;
        assert_eq!(out.receipts.len(), 1, "message {i} is filed");
        if out.reply.is_some() {
            answered += 1;
        } else {
            assert!(out.reply_note.contains("rate limit"), "{}", out.reply_note);
        }
    }
    assert_eq!(answered, 3, "reply_rate_limit_per_hour = 3");
});

both_backends!(files_that_are_not_sheets_get_the_right_answer, |t| {
    let intake = intake_for(&t);
    // No attachment at all.
    let raw = mail(TOKYO, "none@tokyo", "添付忘れ", &[], &[]);
    assert_eq!(
        receive(&intake, &raw, TUESDAY_MORNING).await.disposition,
        Disposition::Rejected
    );
    // A password-protected Office file (OLE2 with EncryptedPackage).
    let raw = mail(
        TOKYO,
        "ppap@tokyo",
        "パスワード",
        &[],
        &[("要請.xlsx", &encrypted_office())],
    );
    assert_eq!(
        receive(&intake, &raw, TUESDAY_MORNING).await.disposition,
        Disposition::Rejected
    );
    // A PDF.
    let raw = mail(
        TOKYO,
        "pdf@tokyo",
        "PDF",
        &[],
        &[("要請.pdf", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\n")],
    );
    assert_eq!(
        receive(&intake, &raw, TUESDAY_MORNING).await.disposition,
        Disposition::Rejected
    );
    let replies = replies(&t.db).await;
    assert_eq!(replies.len(), 3);
    assert!(replies[0].contains("添付されていません"), "{}", replies[0]);
    assert!(
        replies[1].contains("パスワード") && replies[1].contains("要請.xlsx"),
        "{}",
        replies[1]
    );
    assert!(
        replies[2].contains("受付対象外のファイル形式") && replies[2].contains("要請.pdf"),
        "{}",
        replies[2]
    );
    for r in &replies {
        assert!(r.contains("X-SOS-Status: rejected"), "{r}");
        assert!(!r.contains("X-SOS-Receipt"), "{r}");
    }
});

/// An OLE2 container whose directory holds EncryptionInfo and
/// EncryptedPackage: what Office writes for a password-protected .xlsx.
fn encrypted_office() -> Vec<u8> {
    let mut out = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
    out.resize(512, 0);
    for name in ["Root Entry", "EncryptionInfo", "EncryptedPackage"] {
        let mut entry = [0u8; 128];
        let units: Vec<u16> = name.encode_utf16().collect();
        for (j, u) in units.iter().enumerate() {
            entry[j * 2..j * 2 + 2].copy_from_slice(&u.to_le_bytes());
        }
        let len = ((units.len() + 1) * 2) as u16;
        entry[64..66].copy_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&entry);
    }
    out
}

both_backends!(directory_outbox_writes_each_reply_once, |t| {
    let intake = intake_for(&t);
    for i in 0..3 {
        let raw = mail(
            TOKYO,
            &format!("dir-{i}@tokyo"),
            "要請",
            &[],
            &[("s.xlsx", &sheet("valid.xlsx"))],
        );
        receive(&intake, &raw, TUESDAY_MORNING).await;
    }
    let dir = t.data_dir().join("outbox");
    let sender = Sender::new(t.db.clone(), Transport::Directory(dir.clone()));
    let report = sender.run_once().await.unwrap();
    assert_eq!(report.sent, 3);
    assert_eq!(
        sender.run_once().await.unwrap().sent,
        0,
        "nothing is sent twice"
    );
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        let text = decode(&std::fs::read(f).unwrap());
        assert!(text.contains("X-SOS-Status: accepted"), "{text}");
    }
    let mut conn = t.db.pool().acquire().await.unwrap();
    assert!(
        outbox::list(&mut conn)
            .await
            .unwrap()
            .iter()
            .all(|e| e.status == outbox::Status::Sent && e.attempts == 1)
    );
});

both_backends!(two_senders_never_send_one_row_twice, |t| {
    let intake = intake_for(&t);
    let mut tx = t.db.begin().await.unwrap();
    for i in 0..40 {
        let mail = outbox::OutgoingMail {
            kind: outbox::kind::NAIJI.into(),
            mail_message_id: None,
            envelope_from: "sos-busshi@mhlw.go.jp".into(),
            recipient: format!("r{i}@pref.osaka.lg.jp"),
            subject: format!("内示 {i}"),
            message_id: format!("naiji-{i}@mhlw.go.jp"),
            raw: format!("Subject: {i}\r\n\r\n{i}\r\n").into_bytes(),
        };
        outbox::enqueue(&mut tx, &mail).await.unwrap();
    }
    tx.commit().await.unwrap();
    drop(intake);
    let dir = t.data_dir().join("outbox");
    // Two senders, each with its own pool, as two gateways would have.
    let a = Sender::new(t.second_handle().await, Transport::Directory(dir.clone()));
    let b = Sender::new(t.second_handle().await, Transport::Directory(dir.clone()));
    let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.sent + rb.sent, 40, "{ra:?} {rb:?}");
    let mut conn = t.db.pool().acquire().await.unwrap();
    let entries = outbox::list(&mut conn).await.unwrap();
    assert!(
        entries
            .iter()
            .all(|e| e.status == outbox::Status::Sent && e.attempts == 1),
        "{entries:?}"
    );
});

both_backends!(a_queued_reply_wakes_the_sender_at_once, |t| {
    let intake = intake_for(&t);
    let dir = t.data_dir().join("outbox");
    // Polling alone would wait a minute.
    let sender = Sender::new(t.db.clone(), Transport::Directory(dir.clone()))
        .with_idle_wait(std::time::Duration::from_secs(60));
    let (trigger, shutdown) = sos_intake::pipeline::Shutdown::new();
    let running = tokio::spawn(async move { sender.run(shutdown).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let raw = mail(
        TOKYO,
        "wake@tokyo",
        "要請",
        &[],
        &[("s.xlsx", &sheet("valid.xlsx"))],
    );
    receive(&intake, &raw, TUESDAY_MORNING).await;
    let start = std::time::Instant::now();
    while std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0) == 0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "the reply waited for the poll"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    trigger.trigger();
    running.await.unwrap().unwrap();
});

both_backends!(an_unusable_reply_address_files_without_answering, |t| {
    let config_text = format!("{CONFIG}\n");
    let mut config = Config::parse(&config_text).unwrap();
    config
        .prefectures
        .insert("北海道".into(), vec!["@pref.hokkaido.lg.jp".into()]);
    let settings = Settings::resolve(config, Some(t.data_dir()));
    let intake = Intake::new(t.db.clone(), &settings).unwrap();
    // A registered sender whose Reply-To cannot be mailed: replies go to
    // the authenticated From only, so the Reply-To does not matter.
    let raw = mail(
        "iryo@pref.hokkaido.lg.jp",
        "bad-reply-to@hokkaido",
        "要請",
        &["Reply-To: 担当 <iryo@@pref.hokkaido.lg.jp>"],
        &[("s.xlsx", &sheet("valid-hokkaido-numeric-code.xlsx"))],
    );
    let out = receive(&intake, &raw, TUESDAY_MORNING).await;
    assert_eq!(out.receipts.len(), 1, "filed: {out:?}");
    assert!(out.reply.is_some(), "answered at its From: {out:?}");
    assert_eq!(
        text(&t.db, "SELECT recipient FROM outbox").await,
        "iryo@pref.hokkaido.lg.jp"
    );
    // A registered sender whose From cannot be mailed (a quoted local part
    // with a space, which SMTP here refuses).
    let raw = mail(
        "\"iryo shien\"@pref.hokkaido.lg.jp",
        "bad-from@hokkaido",
        "要請",
        &[],
        &[("s.xlsx", &sheet("valid-hokkaido-numeric-code.xlsx"))],
    );
    let out = receive(&intake, &raw, "2026-11-24T10:30:00+09:00").await;
    assert_eq!(out.receipts.len(), 1, "filed: {out:?}");
    // Filed, not answered, and nothing stuck: before, building the reply
    // failed and the message was left unprocessed.
    assert_eq!(out.reply, None);
    assert!(
        out.reply_note.contains("unusable address"),
        "{}",
        out.reply_note
    );
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM outbox").await, 1);
});
