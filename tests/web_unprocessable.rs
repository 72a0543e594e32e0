//! 処理不能メール in the review desk: a message set aside by the pipeline is
//! listed for every staff member with its sender, subject and reason, its
//! raw bytes can be downloaded, and only an admin can try it again, which
//! files and answers it once. On SQLite and PostgreSQL.

mod common;

use chrono::{DateTime, FixedOffset};
use common::browser::{ADMIN, REVIEWER, TOKYO_ADDRESS, TestApp};
use sos_intake::pipeline::{Disposition, Intake};
use sos_intake::queue::{attempts, blobs};

fn received() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-11-19T10:00:00+09:00").unwrap()
}

fn mail() -> Vec<u8> {
    use base64::Engine;
    let sheet = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/sheets/valid.xlsx"
    ))
    .unwrap();
    format!(
        "From: {TOKYO_ADDRESS}\r\nTo: sos-busshi@mhlw.go.jp\r\nSubject: =?UTF-8?B?{}?=\r\nMessage-ID: <set-aside@tokyo>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b\r\n\
         Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"s.xlsx\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        base64::engine::general_purpose::STANDARD.encode("緊急配布要請シートの送付"),
        base64::engine::general_purpose::STANDARD.encode(sheet)
    )
    .into_bytes()
}

async fn set_aside_then_retry(app: TestApp) {
    let raw = mail();
    let db = app.test_db.db.clone();
    // The process died three times on this message (attempts counted, never
    // finished), so the next delivery sets it aside.
    let sha = {
        let mut conn = db.pool().acquire().await.unwrap();
        let sha = blobs::put(&mut conn, &raw).await.unwrap();
        let arrival = attempts::Arrival {
            raw_sha256: &sha,
            source: "imap",
            received_at: received().to_utc(),
            message_id: "set-aside@tokyo",
            from_address: TOKYO_ADDRESS,
            subject: "緊急配布要請シートの送付",
        };
        for _ in 0..3 {
            attempts::start(&mut conn, &arrival, 3, 0).await.unwrap();
        }
        sha
    };
    let intake = Intake::new(db.clone(), &app.settings).unwrap();
    let out = intake.process(&raw, received()).await.unwrap();
    assert_eq!(out.disposition, Disposition::Unprocessable);

    // Any staff member sees it, with the reason in Japanese.
    let (mut reviewer, rcsrf) = app.signed_in(REVIEWER).await;
    let page = reviewer.get("/unprocessable").await.text();
    assert!(page.contains("緊急配布要請シートの送付"), "{page}");
    assert!(page.contains(TOKYO_ADDRESS));
    assert!(
        page.contains("処理中にゲートウェイが停止しました（3 回）"),
        "{page}"
    );
    assert!(!page.contains("/retry"), "no retry button for a reviewer");
    let download = reviewer.get(&format!("/unprocessable/{sha}/raw")).await;
    assert_eq!(download.status, 200);
    assert_eq!(download.header("content-type"), Some("message/rfc822"));
    assert_eq!(blobs::sha256_hex(download.body.as_slice()), sha);
    let path = format!("/admin/unprocessable/{sha}/retry");
    assert_eq!(
        reviewer.post_form(&path, &[("csrf", &rcsrf)]).await.status,
        403
    );

    // An admin tries it again: filed and answered once, gone from the list.
    let (mut admin, csrf) = app.signed_in(ADMIN).await;
    let page = admin.get("/unprocessable").await.text();
    assert!(
        page.contains(&format!("{path}\"")),
        "retry button for an admin"
    );
    let resp = admin.post_form(&path, &[("csrf", &csrf)]).await;
    assert_eq!(resp.status, 303, "{}", resp.text());
    assert_eq!(
        resp.header("location"),
        Some("/unprocessable?notice=retried")
    );
    let page = admin.get("/unprocessable").await.text();
    assert!(page.contains("処理不能メールはありません"), "{page}");
    assert_eq!(
        common::db::count(&db, "SELECT COUNT(*) FROM outbox").await,
        1
    );
    assert_eq!(
        common::db::count(&db, "SELECT COUNT(*) FROM requests").await,
        1
    );
    // A second retry of the same message finds nothing to retry.
    assert_eq!(admin.post_form(&path, &[("csrf", &csrf)]).await.status, 404);
    assert_eq!(
        common::db::count(&db, "SELECT COUNT(*) FROM outbox").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_aside_mail_is_listed_and_an_admin_retries_it_sqlite() {
    set_aside_then_retry(TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_aside_mail_is_listed_and_an_admin_retries_it_postgres() {
    set_aside_then_retry(TestApp::postgres().await).await;
}
