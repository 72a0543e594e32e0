//! Poison messages (issue 11): no single message stops intake. Attempts are
//! counted before a message is read, permanent and repeated failures are set
//! aside as 処理不能 (kept, listed, never answered), a message the process
//! died on too often is set aside on the next start, an admin's retry puts
//! it through again, and text the databases refuse (NUL in a header or a
//! cell) never reaches them. Every test runs on SQLite and PostgreSQL.

mod common;

use chrono::{DateTime, FixedOffset};
use common::db::count;
use sos_intake::config::{Config, Settings};
use sos_intake::pipeline::{Disposition, Intake};
use sos_intake::queue::attempts::{self, SetAsideReason};
use sos_intake::queue::blobs::sha256_hex;
use sqlx::Row;
use std::path::Path;

const TOKYO: &str = "sos@fukushi.metro.tokyo.lg.jp";

const CONFIG: &str = r#"
sos_address = "sos-busshi@mhlw.go.jp"
[prefectures]
"東京都" = ["sos@fukushi.metro.tokyo.lg.jp"]
[intake]
max_attempts = 3
"#;

fn settings(dir: &Path) -> Settings {
    Settings::resolve(
        Config::parse(CONFIG).expect("test config"),
        Some(dir.to_path_buf()),
    )
}

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).expect("time")
}

/// A mail from Tokyo with `subject_header` written as is and one sheet.
fn mail(id: &str, subject_header: &str, sheet: &[u8]) -> Vec<u8> {
    use base64::Engine;
    format!(
        "From: {TOKYO}\r\nTo: sos-busshi@mhlw.go.jp\r\nSubject: {subject_header}\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nシートを送付します。\r\n--b\r\n\
         Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"s.xlsx\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        base64::engine::general_purpose::STANDARD.encode(sheet)
    )
    .into_bytes()
}

fn intake(t: &common::db::TestDb) -> Intake {
    Intake::new(t.db.clone(), &settings(&t.data_dir())).expect("intake")
}

async fn state_of(t: &common::db::TestDb, raw: &[u8]) -> (String, i64) {
    let row = sqlx::query("SELECT state, attempts FROM intake_attempts WHERE raw_sha256 = $1")
        .bind(sha256_hex(raw))
        .fetch_one(t.db.pool())
        .await
        .expect("the attempt is recorded");
    (row.get(0), row.get(1))
}

both_backends!(a_nul_in_the_subject_is_filed_and_answered_without_it, |t| {
    let intake = intake(&t);
    // `Subject: =?UTF-8?B?AA==?=` decodes to a lone NUL, which PostgreSQL
    // refuses in text; here it sits inside a real subject.
    let raw = mail(
        "nul-subject@tokyo",
        "=?UTF-8?B?6KaB6KuLAOOCt+ODvOODiA==?=",
        &common::sheets::valid(),
    );
    let out = intake
        .process(&raw, at("2026-11-20T09:00:00+09:00"))
        .await
        .expect("processed");
    assert_eq!(out.disposition, Disposition::Accepted, "{out:?}");
    assert!(out.reply.is_some(), "answered");
    let subject: String = sqlx::query("SELECT subject FROM mail_messages WHERE id = $1")
        .bind(out.mail_message_id.unwrap())
        .fetch_one(t.db.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(subject, "要請シート");
    let reply: Vec<u8> = sqlx::query("SELECT raw FROM outbox WHERE id = $1")
        .bind(out.reply.unwrap())
        .fetch_one(t.db.pool())
        .await
        .unwrap()
        .get(0);
    assert!(!reply.contains(&0), "no NUL in the reply");
    // The raw bytes are kept untouched.
    assert_eq!(state_of(&t, &raw).await, ("done".to_string(), 1));
});

both_backends!(a_nul_in_a_cell_is_removed_and_reported_as_a_finding, |t| {
    let intake = intake(&t);
    let raw = mail(
        "nul-cell@tokyo",
        "cell",
        &common::sheets::valid_with("東京都新宿区西新宿2-8-1", "_x0000_\u{1}"),
    );
    let out = intake
        .process(&raw, at("2026-11-20T09:00:00+09:00"))
        .await
        .expect("processed");
    assert!(
        matches!(
            out.disposition,
            Disposition::Accepted | Disposition::Partial | Disposition::Rejected
        ),
        "{out:?}"
    );
    assert_eq!(out.receipts.len(), 1, "filed: {out:?}");
    let findings: String = sqlx::query("SELECT findings FROM requests WHERE receipt = $1")
        .bind(&out.receipts[0])
        .fetch_one(t.db.pool())
        .await
        .unwrap()
        .get(0);
    assert!(findings.contains("sheet.control_characters"), "{findings}");
    let stored: i64 = sqlx::query(
        "SELECT COUNT(*) FROM requests WHERE institution_name LIKE $1 OR institution_address LIKE $1",
    )
    .bind(format!("%{}%", '\u{1}'))
    .fetch_one(t.db.pool())
    .await
    .unwrap()
    .get(0);
    assert_eq!(stored, 0, "no control character stored");
});

both_backends!(
    a_message_the_process_died_on_is_set_aside_then_retried,
    |t| {
        let intake = intake(&t);
        let raw = mail("crash-loop@tokyo", "crash", &common::sheets::valid());
        // Three earlier starts counted, none finished: the process died on it
        // each time (what a crash loop leaves behind).
        let sha = {
            let mut conn = t.db.pool().acquire().await.unwrap();
            let sha = sos_intake::queue::blobs::put(&mut conn, &raw)
                .await
                .unwrap();
            let arrival = attempts::Arrival {
                raw_sha256: &sha,
                source: "maildir",
                received_at: at("2026-11-20T09:00:00+09:00").to_utc(),
                message_id: "crash-loop@tokyo",
                from_address: TOKYO,
                subject: "crash",
            };
            for n in 1..=3 {
                assert_eq!(
                    attempts::start(&mut conn, &arrival, 3, 0).await.unwrap(),
                    attempts::Start::Proceed { attempt: n }
                );
            }
            sha
        };
        let out = intake
            .process(&raw, at("2026-11-20T09:00:00+09:00"))
            .await
            .expect("set aside, not an error");
        assert_eq!(out.disposition, Disposition::Unprocessable);
        assert!(out.reply.is_none() && out.mail_message_id.is_none());
        assert_eq!(
            count(&t.db, "SELECT COUNT(*) FROM mail_messages").await,
            0,
            "nothing filed"
        );
        assert_eq!(
            count(&t.db, "SELECT COUNT(*) FROM outbox").await,
            0,
            "nothing answered"
        );
        let mut conn = t.db.pool().acquire().await.unwrap();
        let listed = attempts::dead_letters(&mut conn, 10).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].reason, SetAsideReason::Interrupted);
        assert_eq!(listed[0].from_address, TOKYO);
        assert_eq!(listed[0].subject, "crash");
        // Delivered again (the Maildir file was still there): nothing done.
        let again = intake
            .process(&raw, at("2026-11-20T09:00:00+09:00"))
            .await
            .unwrap();
        assert_eq!(again.disposition, Disposition::AlreadyProcessed);
        assert_eq!(again.first_disposition, Disposition::Unprocessable);
        assert_eq!(count(&t.db, "SELECT COUNT(*) FROM outbox").await, 0);
        // An admin's retry: attempts from zero, filed and answered once.
        let received = attempts::reset_for_retry(&mut conn, &sha, "admin")
            .await
            .unwrap()
            .expect("was set aside");
        assert!(
            attempts::reset_for_retry(&mut conn, &sha, "admin")
                .await
                .unwrap()
                .is_none()
        );
        drop(conn);
        let received = sos_intake::queue::db::parse_time(&received)
            .unwrap()
            .fixed_offset();
        let out = intake.process(&raw, received).await.unwrap();
        assert_eq!(out.disposition, Disposition::Accepted);
        assert_eq!(count(&t.db, "SELECT COUNT(*) FROM outbox").await, 1);
        assert_eq!(state_of(&t, &raw).await.0, "done");
    }
);

both_backends!(
    a_message_the_database_refuses_is_set_aside_and_the_next_is_filed,
    |t| {
        // A message whose filing the database refuses every time (here a
        // trigger refuses its subject): after at most max_attempts tries it is
        // set aside, and the message behind it goes through.
        t.refuse_subject("refuse_poison", "poison").await;
        let intake = intake(&t);
        let poison = mail("poison@tokyo", "poison", &common::sheets::valid());
        let mut tries = 0;
        let outcome = loop {
            tries += 1;
            assert!(tries <= 3, "set aside within max_attempts");
            match intake
                .process(&poison, at("2026-11-20T09:00:00+09:00"))
                .await
            {
                Ok(out) => break out,
                Err(e) => assert!(e.is_temporary(), "{e}"),
            }
        };
        assert_eq!(outcome.disposition, Disposition::Unprocessable);
        let (state, attempts_made) = state_of(&t, &poison).await;
        assert_eq!(state, "dead");
        assert_eq!(attempts_made, tries);
        let mut conn = t.db.pool().acquire().await.unwrap();
        let listed = attempts::dead_letters(&mut conn, 10).await.unwrap();
        assert!(
            listed[0].last_error.contains("refused for the test"),
            "{listed:?}"
        );
        drop(conn);
        let next = mail("after-poison@tokyo", "next", &common::sheets::valid());
        let out = intake
            .process(&next, at("2026-11-20T09:01:00+09:00"))
            .await
            .unwrap();
        assert_eq!(out.disposition, Disposition::Accepted);
        assert_eq!(
            count(&t.db, "SELECT COUNT(*) FROM outbox").await,
            1,
            "only the good one answered"
        );
    }
);
