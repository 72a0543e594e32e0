//! Conversations (issue 12, point 3) and the list of unanswered mail (point
//! 4), through the real pipeline and the real web app on a loopback port, on
//! SQLite and PostgreSQL:
//!
//! - a thank-you answering our acknowledgement is not answered, is kept as
//!   correspondence (連絡) on its request, listed unread, and marked read
//!   (audited, CSRF-checked);
//! - a corrected sheet sent as a reply is filed, answered once, linked to
//!   the earlier request (both pages) and supersedes it;
//! - our receipt number in a subject without threading headers links a
//!   mail without a sheet to that request;
//! - a password notice after an encrypted zip gets no reply (one reply
//!   only, to the zip mail), is linked and listed, and shows no password;
//!   the same notice from another sender or outside the window is an
//!   ordinary mail without attachment;
//! - a mail giving a download link gets the specific reply, exactly once;
//! - an auto-forwarded sheet is filed, not answered, and listed in
//!   無視・保留したメール with its reason, as is everything else unanswered.

mod common;
#[path = "imap_lab/mod.rs"]
mod lab;

use chrono::{DateTime, FixedOffset};
use common::browser::{REVIEWER, TOKYO_ADDRESS, TestApp};
use common::db::count;
use sos_intake::message::{self, Limits};
use sos_intake::pipeline::{Disposition, Intake, Outcome};
use sqlx::Row;

const DOMAIN: &str = "fukushi.metro.tokyo.lg.jp";
/// Another registered Tokyo address (the domain is registered too).
const COLLEAGUE: &str = "kansen@fukushi.metro.tokyo.lg.jp";

fn at(hhmm: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(&format!("2026-11-20T{hhmm}:00+09:00")).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A mail as an authenticated Tokyo official sends it: `headers` are extra
/// header lines (threading), `body` the text (HTML when it starts with
/// `<`), and at most one attachment.
fn mail(
    from: &str,
    id: &str,
    subject: &str,
    headers: &str,
    body: &str,
    file: Option<(&str, &[u8])>,
) -> Vec<u8> {
    let top = format!(
        "Authentication-Results: mx.mhlw.go.jp; spf=pass smtp.mailfrom={from}; dkim=pass header.d={DOMAIN}; dmarc=pass header.from={DOMAIN}\r\n\
         Received: from mail.{DOMAIN} by mx.mhlw.go.jp; Fri, 20 Nov 2026 09:00:00 +0900\r\n\
         From: =?UTF-8?B?{}?= <{from}>\r\nTo: sos-busshi@mhlw.go.jp\r\nSubject: =?UTF-8?B?{}?=\r\n\
         Message-ID: <{id}>\r\n{headers}MIME-Version: 1.0\r\n",
        b64("東京都 感染症対策課".as_bytes()),
        b64(subject.as_bytes())
    );
    let kind = if body.starts_with('<') {
        "html"
    } else {
        "plain"
    };
    let text_part = format!(
        "Content-Type: text/{kind}; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        b64(body.as_bytes())
    );
    let rest = match file {
        None => text_part,
        Some((name, bytes)) => format!(
            "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n{text_part}--b\r\n\
             Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
            b64(bytes)
        ),
    };
    format!("{top}{rest}").into_bytes()
}

fn sheet(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/samples/sheets/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A zip whose entries carry the encryption flag (a PPAP zip).
fn encrypted_zip() -> Vec<u8> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    w.start_file("要請シート.xlsx", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(&sheet("valid.xlsx")).unwrap();
    w.finish().unwrap();
    let mut zip = out.into_inner();
    let mut i = 0;
    while i + 10 < zip.len() {
        if zip[i..].starts_with(b"PK\x03\x04") {
            zip[i + 6] |= 1;
        } else if zip[i..].starts_with(b"PK\x01\x02") {
            zip[i + 8] |= 1;
        }
        i += 1;
    }
    zip
}

struct World {
    app: TestApp,
    intake: Intake,
}

impl World {
    async fn new(app: TestApp) -> World {
        let intake = Intake::new(app.test_db.db.clone(), &app.settings).unwrap();
        World { app, intake }
    }

    async fn process(&self, raw: &[u8], when: &str) -> Outcome {
        self.intake.process(raw, at(when)).await.unwrap()
    }

    async fn scalar(&self, sql: &str, bind: i64) -> String {
        let row = sqlx::query(sql)
            .bind(bind)
            .fetch_one(self.app.test_db.db.pool())
            .await
            .unwrap();
        row.try_get::<String, _>(0)
            .or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string()))
            .unwrap_or_default()
    }

    /// The Message-ID of our reply to a received mail.
    async fn our_reply_id(&self, out: &Outcome) -> String {
        self.scalar(
            "SELECT message_id FROM outbox WHERE mail_message_id = $1",
            out.mail_message_id.unwrap(),
        )
        .await
    }

    /// Outbox rows answering a received mail.
    async fn replies_to(&self, out: &Outcome) -> i64 {
        self.scalar(
            "SELECT COUNT(*) FROM outbox WHERE mail_message_id = $1",
            out.mail_message_id.unwrap(),
        )
        .await
        .parse()
        .unwrap()
    }

    async fn reason(&self, out: &Outcome) -> String {
        self.scalar(
            "SELECT reason_code FROM mail_messages WHERE id = $1",
            out.mail_message_id.unwrap(),
        )
        .await
    }

    async fn request_id(&self, receipt: &str) -> i64 {
        sqlx::query("SELECT id FROM requests WHERE receipt = $1")
            .bind(receipt)
            .fetch_one(self.app.test_db.db.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }

    /// The text of the reply queued for a received mail.
    async fn reply_text(&self, out: &Outcome) -> String {
        let row = sqlx::query("SELECT raw FROM outbox WHERE mail_message_id = $1")
            .bind(out.mail_message_id.unwrap())
            .fetch_one(self.app.test_db.db.pool())
            .await
            .unwrap();
        let raw: Vec<u8> = row.try_get(0).unwrap();
        message::parse(&raw, &Limits::default()).text
    }
}

async fn conversations(app: TestApp) {
    let w = World::new(app).await;
    let db = w.app.test_db.db.clone();

    // 1. A sheet with an error: filed (エラー有り), answered.
    let first = w
        .process(
            &mail(
                TOKYO_ADDRESS,
                "a@tokyo",
                "緊急配布要請シートの送付",
                "",
                "よろしくお願いします。",
                Some((
                    "要請シート.xlsx",
                    &sheet("error-prefecture-total-mismatch.xlsx"),
                )),
            ),
            "09:00",
        )
        .await;
    assert_eq!(first.disposition, Disposition::Rejected, "{first:?}");
    assert_eq!(first.receipts.len(), 1);
    let r1 = first.receipts[0].clone();
    let r1_id = w.request_id(&r1).await;
    let ours = w.our_reply_id(&first).await;
    assert!(!ours.is_empty());

    // 2. 「承知しました」 answering our reply, HTML only, quoting our mail
    //    (which speaks of passwords): nothing answered, kept as 連絡.
    let thanks = w
        .process(
            &mail(
                TOKYO_ADDRESS,
                "b@tokyo",
                "RE: 【緊急配布要請シート】受付できませんでした（要再送）",
                &format!("In-Reply-To: <{ours}>\r\nReferences: <a@tokyo> <{ours}>\r\n"),
                "<p>承知しました。修正のうえ再送いたします。</p><script>alert('x')</script>\
                 <p>-----Original Message-----</p><p>パスワードを設定せずに再送してください。</p>",
                None,
            ),
            "09:10",
        )
        .await;
    assert!(thanks.reply.is_none(), "{}", thanks.reply_note);
    assert_eq!(w.replies_to(&thanks).await, 0);
    assert_eq!(w.reason(&thanks).await, "correspondence");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM outbox").await, 1);

    let (mut staff, csrf) = w.app.signed_in(REVIEWER).await;
    let page = staff.get(&format!("/requests/{r1_id}")).await.text();
    assert!(
        page.contains("承知しました。修正のうえ再送いたします。"),
        "{page}"
    );
    assert!(!page.contains("<script>alert"), "the body is escaped text");
    let list = staff.get("/correspondence").await.text();
    assert!(list.contains("承知しました"), "{list}");
    assert!(list.contains(&r1), "linked to its request");
    assert!(list.contains("未読 1"), "the nav counts it: {list}");
    let cid = w
        .scalar(
            "SELECT id FROM correspondence WHERE mail_message_id = $1",
            thanks.mail_message_id.unwrap(),
        )
        .await;
    let path = format!("/correspondence/{cid}/read");
    let refused = staff.post_form(&path, &[("next", "/queue")]).await;
    assert_eq!(refused.status, 403, "no CSRF token, no change");
    let back = format!("/requests/{r1_id}");
    let resp = staff
        .post_form(&path, &[("csrf", &csrf), ("next", &back)])
        .await;
    assert_eq!(resp.status, 303, "{}", resp.text());
    assert_eq!(
        resp.header("location"),
        Some(format!("{back}?notice=marked_read").as_str())
    );
    let list = staff.get("/correspondence").await.text();
    assert!(list.contains("未読の連絡はありません"), "{list}");
    assert!(!list.contains("未読 1"));
    let audit = count(
        &db,
        &format!("SELECT COUNT(*) FROM audit_log WHERE action = 'correspondence_read' AND request_id = {r1_id}"),
    )
    .await;
    assert_eq!(audit, 1, "marking read is in the request's history");
    let again = staff
        .post_form(&path, &[("csrf", &csrf), ("next", "https://evil.example/")])
        .await;
    assert_eq!(
        again.header("location"),
        Some("/correspondence?notice=already_read"),
        "read once; never sent off-site"
    );

    // 3. The corrected sheet as a reply: filed, answered once, linked to
    //    the earlier request and superseding it.
    let fixed = w
        .process(
            &mail(
                TOKYO_ADDRESS,
                "d@tokyo",
                "RE: 【緊急配布要請シート】受付できませんでした（要再送）",
                &format!("In-Reply-To: <{ours}>\r\nReferences: <a@tokyo> <{ours}>\r\n"),
                "修正版を添付します。",
                Some(("要請シート.xlsx", &sheet("valid.xlsx"))),
            ),
            "09:30",
        )
        .await;
    assert_eq!(fixed.disposition, Disposition::Accepted, "{fixed:?}");
    assert_eq!(w.replies_to(&fixed).await, 1);
    let r2 = fixed.receipts[0].clone();
    let r2_id = w.request_id(&r2).await;
    let superseded_by = w
        .scalar("SELECT superseded_by FROM requests WHERE id = $1", r1_id)
        .await;
    assert_eq!(superseded_by, r2_id.to_string(), "the resend supersedes");
    let new_page = staff.get(&format!("/requests/{r2_id}")).await.text();
    assert!(
        new_page.contains("返信でつながる要請") && new_page.contains(&r1),
        "{new_page}"
    );
    let old_page = staff.get(&format!("/requests/{r1_id}")).await.text();
    assert!(
        old_page.contains(&format!(">{r2}</a> が送られました")),
        "{old_page}"
    );

    // 4. Our receipt number in the subject (full-width, as an IME types
    //    it), no threading headers, no sheet: 連絡 on that request.
    let wide: String = r2
        .chars()
        .map(|c| match c {
            '0'..='9' | 'A'..='Z' => char::from_u32(c as u32 + 0xFEE0).unwrap(),
            '-' => '－',
            c => c,
        })
        .collect();
    let by_subject = w
        .process(
            &mail(
                TOKYO_ADDRESS,
                "e@tokyo",
                &format!("{wide} の件（配送先の変更）"),
                "",
                "配送先の担当者が変わりました。",
                None,
            ),
            "09:40",
        )
        .await;
    assert!(by_subject.reply.is_none(), "{}", by_subject.reply_note);
    assert_eq!(w.reason(&by_subject).await, "correspondence");
    let page = staff.get(&format!("/requests/{r2_id}")).await.text();
    assert!(page.contains("配送先の担当者が変わりました。"), "{page}");

    // 5. PPAP: an encrypted zip (answered once), then the password.
    let zip = w
        .process(
            &mail(
                TOKYO_ADDRESS,
                "f@tokyo",
                "緊急配布要請シート",
                "",
                "添付します。パスワードは別途お送りします。",
                Some(("要請シート.zip", &encrypted_zip())),
            ),
            "10:00",
        )
        .await;
    assert_eq!(zip.disposition, Disposition::Rejected);
    assert_eq!(w.replies_to(&zip).await, 1);
    let notice_body = "先ほどお送りしたファイルのパスワードは Xy7pQ2zz です。";
    let notice = w
        .process(
            &mail(
                TOKYO_ADDRESS,
                "g@tokyo",
                "【パスワード】緊急配布要請シート PW: Xy7pQ2zz",
                "",
                notice_body,
                None,
            ),
            "10:05",
        )
        .await;
    assert!(notice.reply.is_none(), "{}", notice.reply_note);
    assert_eq!(w.reason(&notice).await, "password_notice");
    let refers = w
        .scalar(
            "SELECT refers_to_mail_message_id FROM correspondence WHERE mail_message_id = $1",
            notice.mail_message_id.unwrap(),
        )
        .await;
    assert_eq!(refers, zip.mail_message_id.unwrap().to_string());
    let stored_subject = w
        .scalar(
            "SELECT subject FROM mail_messages WHERE id = $1",
            notice.mail_message_id.unwrap(),
        )
        .await;
    assert!(!stored_subject.contains("Xy7pQ2zz"), "{stored_subject}");
    let list = staff.get("/correspondence").await.text();
    assert!(
        list.contains(&format!(
            "/mail/{}/files/raw\" class=\"c-refused\"",
            zip.mail_message_id.unwrap()
        )),
        "the notice links the refused mail: {list}"
    );
    for path in ["/correspondence", "/unanswered"] {
        let page = staff.get(path).await.text();
        assert!(page.contains("PW: ＊＊＊＊"), "{path}: {page}");
        assert!(!page.contains("Xy7pQ2zz"), "{path} shows no password");
    }
    // From another sender, or outside the window: an ordinary mail
    // without attachment, answered so.
    let other = w
        .process(
            &mail(
                COLLEAGUE,
                "h@tokyo",
                "パスワードのお知らせ",
                "",
                notice_body,
                None,
            ),
            "10:06",
        )
        .await;
    assert_eq!(w.replies_to(&other).await, 1, "{}", other.reply_note);
    let late = w
        .process(
            &mail(
                TOKYO_ADDRESS,
                "i@tokyo",
                "パスワードのお知らせ",
                "",
                notice_body,
                None,
            ),
            "11:30",
        )
        .await;
    assert_eq!(w.replies_to(&late).await, 1, "{}", late.reply_note);
    assert!(
        w.reply_text(&late)
            .await
            .contains("添付されていませんでした")
    );

    // 6. A download link instead of the file: the specific reply, once.
    let link_mail = mail(
        TOKYO_ADDRESS,
        "j@tokyo",
        "緊急配布要請シートの送付",
        "",
        "ファイルが大きいため、ギガファイル便でお送りします。\nhttps://99.gigafile.nu/1127-b1234567890\nダウンロード期限：11月27日\n",
        None,
    );
    let link = w.process(&link_mail, "11:40").await;
    assert!(link.reply.is_some(), "{}", link.reply_note);
    let text = w.reply_text(&link).await;
    assert!(text.contains("ダウンロードリンクではなく"), "{text}");
    assert!(text.contains("ギガファイル便"), "{text}");
    assert!(!text.contains("添付されていませんでした"), "{text}");
    let again = w.process(&link_mail, "11:40").await;
    assert_eq!(again.disposition, Disposition::AlreadyProcessed);
    assert_eq!(w.replies_to(&link).await, 1, "exactly once");

    // 7. An auto-forwarded sheet: filed, not answered, listed.
    let forwarded = w
        .process(
            &mail(
                TOKYO_ADDRESS,
                "k@tokyo",
                "Fw: 緊急配布要請シート",
                "Auto-Submitted: auto-forwarded\r\n",
                "転送します。",
                Some(("転送.xlsx", &sheet("valid-national-direct.xlsx"))),
            ),
            "11:50",
        )
        .await;
    assert_eq!(forwarded.receipts.len(), 1, "{forwarded:?}");
    assert_eq!(w.replies_to(&forwarded).await, 0);
    assert_eq!(w.reason(&forwarded).await, "auto_forwarded");

    // 無視・保留したメール: every unanswered mail with its reason, newest
    // first, filterable.
    let page = staff.get("/unanswered").await.text();
    let order: Vec<usize> = [
        "Fw: 緊急配布要請シート",
        "PW: ＊＊＊＊",
        "配送先の変更",
        "RE: 【緊急配布要請シート】",
    ]
    .iter()
    .map(|s| page.find(s).unwrap_or_else(|| panic!("{s} listed: {page}")))
    .collect();
    assert!(
        order.windows(2).all(|p| p[0] < p[1]),
        "newest first: {order:?}"
    );
    assert!(page.contains("自動転送されたメールです"), "{page}");
    assert!(page.contains(&forwarded.receipts[0]), "links its request");
    assert!(page.contains("当窓口のメールへの返信（連絡）です"));
    let only = staff.get("/unanswered?reason=password_notice").await.text();
    assert_eq!(only.matches("data-reason=").count(), 1, "{only}");
    assert!(only.contains("data-reason=\"password_notice\""));
    let raw = staff
        .get(&format!(
            "/mail/{}/files/raw",
            forwarded.mail_message_id.unwrap()
        ))
        .await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.header("content-type"), Some("message/rfc822"));
}

async fn app(backend: &str) -> TestApp {
    let test_db = if backend == "sqlite" {
        common::db::TestDb::sqlite().await
    } else {
        common::db::TestDb::postgres().await
    };
    TestApp::spawn_with(test_db, |config| {
        config.mail.authserv_id = Some("mx.mhlw.go.jp".into());
        config.prefectures.insert(
            "東京都".into(),
            vec![TOKYO_ADDRESS.into(), format!("@{DOMAIN}")],
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_sqlite() {
    conversations(app("sqlite").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_postgres() {
    conversations(app("postgres").await).await;
}

/// The unread list in headless Chromium: the navigation shows the count,
/// the item is read from the list, and the count goes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_correspondence_in_the_browser() {
    use common::browser::{Browser, PASSWORD};
    let w = World::new(app("sqlite").await).await;
    let first = w
        .process(
            &mail(
                TOKYO_ADDRESS,
                "a@tokyo",
                "緊急配布要請シートの送付",
                "",
                "よろしくお願いします。",
                Some(("要請シート.xlsx", &sheet("valid.xlsx"))),
            ),
            "09:00",
        )
        .await;
    let ours = w.our_reply_id(&first).await;
    let thanks = w
        .process(
            &mail(
                TOKYO_ADDRESS,
                "b@tokyo",
                "Re: 受付しました",
                &format!("In-Reply-To: <{ours}>\r\n"),
                "承知しました。ありがとうございました。",
                None,
            ),
            "09:10",
        )
        .await;
    assert!(thanks.reply.is_none());
    let base = w.app.base.clone();
    tokio::task::spawn_blocking(move || {
        let mut b = Browser::start();
        b.goto(&format!("{base}/login"));
        b.fill("#name", REVIEWER);
        b.fill("#password", PASSWORD);
        b.click("#login");
        b.source_when(|p| p.contains("nav-correspondence"));
        assert_eq!(b.text("#unread-count"), "未読 1");
        b.click("#nav-correspondence");
        let page = b.source_when(|p| p.contains("ありがとうございました"));
        assert!(page.contains("承知しました。ありがとうございました。"));
        b.screenshot("conversation-01-unread");
        b.click(".c-read button");
        let page = b.source_when(|p| p.contains("連絡を既読にしました"));
        assert!(page.contains("未読の連絡はありません"), "{page}");
        assert_eq!(b.count("#unread-count"), 0);
        b.screenshot("conversation-02-read");
    })
    .await
    .unwrap();
}

/// The round trip through real servers: a sheet read from Dovecot over
/// IMAP, our reply sent through Postfix into the prefecture's mailbox, and
/// the official's 「承知しました」 answering the reply as delivered (its
/// Message-ID taken from the delivered mail) read over IMAP again: kept as
/// 連絡, never answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thank_you_to_the_reply_as_delivered_is_not_answered() {
    use common::maillab::MailLab;
    use sos_intake::config::Tls;
    use sos_intake::mailbox::imap::catch_up_once;
    use sos_intake::outbox::{Sender, Transport};
    use std::time::Duration;

    let mail_lab = tokio::task::spawn_blocking(MailLab::start).await.unwrap();
    let w = World::new(app("postgres").await).await;
    let db = w.app.test_db.db.clone();
    let imap = mail_lab.imap_config(Tls::None);
    let catch_up = || catch_up_once(&imap, &w.app.settings, db.clone(), w.intake.clone());

    lab::append(
        &mail_lab,
        "INBOX",
        &mail(
            TOKYO_ADDRESS,
            "sheet@tokyo",
            "緊急配布要請シートの送付",
            "",
            "よろしくお願いします。",
            Some(("要請シート.xlsx", &sheet("valid.xlsx"))),
        ),
    )
    .await;
    assert_eq!(catch_up().await.unwrap(), 1);
    let sender = Sender::new(
        db.clone(),
        Transport::smtp(&mail_lab.smtp_config(Tls::None)).unwrap(),
    );
    assert_eq!(sender.run_once().await.unwrap().sent, 1);
    let got = mail_lab.wait_for_mail(TOKYO_ADDRESS, 1, Duration::from_secs(20));
    assert_eq!(got.len(), 1, "{}", mail_lab.postfix_log());
    let delivered = message::parse(&got[0], &Limits::default());
    let reply_id = delivered
        .message_id
        .clone()
        .expect("our reply has a Message-ID");
    let subject = delivered.subject.clone().unwrap_or_default();

    lab::append(
        &mail_lab,
        "INBOX",
        &mail(
            TOKYO_ADDRESS,
            "thanks@tokyo",
            &format!("Re: {subject}"),
            &format!("In-Reply-To: <{reply_id}>\r\nReferences: <sheet@tokyo> <{reply_id}>\r\n"),
            "承知しました。よろしくお願いいたします。",
            None,
        ),
    )
    .await;
    assert_eq!(catch_up().await.unwrap(), 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM correspondence").await, 1);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM outbox").await,
        1,
        "nothing answered"
    );
    assert_eq!(sender.run_once().await.unwrap().sent, 0);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        mail_lab.messages(TOKYO_ADDRESS).len(),
        1,
        "one mail ever reached the official"
    );
    let linked = count(
        &db,
        "SELECT COUNT(*) FROM correspondence_requests cr JOIN requests r ON r.id = cr.request_id",
    )
    .await;
    assert_eq!(linked, 1, "the thank-you is on the request");
}
