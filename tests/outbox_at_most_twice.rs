//! Replies over SMTP at most twice (issue 11, point 8), against the real
//! Postfix + Dovecot of tests/common/maillab.rs: a row left by a sender
//! that died after starting one attempt is sent again (the second copy the
//! README's delivery guarantee allows); a row left after two such attempts
//! is not sent a third time but set aside for staff, and a staff resend
//! sends it again.

mod common;

use common::maillab::MailLab;
use sos_intake::config::Tls;
use sos_intake::outbox::{self, OutgoingMail, SET_ASIDE_RESPONSE, Sender, Status, Transport};
use sqlx::Row;
use std::time::Duration;

const TO: &str = "sos@fukushi.metro.tokyo.lg.jp";

fn mail(n: usize) -> OutgoingMail {
    let id = format!("at-most-twice-{n}@sos.test");
    OutgoingMail {
        kind: outbox::kind::REPLY.into(),
        mail_message_id: None,
        envelope_from: "sos-busshi@mhlw.go.jp".into(),
        recipient: TO.into(),
        subject: format!("reply {n}"),
        message_id: id.clone(),
        raw: format!(
            "From: sos-busshi@mhlw.go.jp\r\nTo: {TO}\r\nSubject: reply {n}\r\nMessage-ID: <{id}>\r\n\r\nbody {n}\r\n"
        )
        .into_bytes(),
    }
}

fn copies(lab: &MailLab, n: usize) -> usize {
    let needle = format!("<at-most-twice-{n}@sos.test>");
    lab.messages(TO)
        .iter()
        .filter(|m| String::from_utf8_lossy(m).contains(&needle))
        .count()
}

both_backends!(a_row_is_never_sent_a_third_time, |t| {
    let lab = tokio::task::spawn_blocking(MailLab::start).await.unwrap();
    let mut ids = Vec::new();
    {
        let mut conn = t.db.pool().acquire().await.unwrap();
        for n in 0..3 {
            ids.push(outbox::enqueue(&mut conn, &mail(n)).await.unwrap());
        }
    }
    // What a sender leaves when it dies after starting 0, 1 and 2 attempts
    // (its claims released at the next start).
    for (n, id) in ids.iter().enumerate() {
        sqlx::query("UPDATE outbox SET unconfirmed = $1 WHERE id = $2")
            .bind(n as i64)
            .bind(id)
            .execute(t.db.pool())
            .await
            .unwrap();
    }
    let sender = Sender::new(
        t.db.clone(),
        Transport::smtp(&lab.smtp_config(Tls::None)).unwrap(),
    );
    let report = sender.run_once().await.unwrap();
    assert_eq!((report.sent, report.failed), (2, 1), "{report:?}");
    let mut conn = t.db.pool().acquire().await.unwrap();
    let rows = outbox::list(&mut conn).await.unwrap();
    assert_eq!(rows[0].status, Status::Sent);
    assert_eq!(rows[1].status, Status::Sent);
    assert_eq!(rows[2].status, Status::Failed);
    assert_eq!(rows[2].last_response, SET_ASIDE_RESPONSE);
    let left: i64 = sqlx::query("SELECT COUNT(*) FROM outbox WHERE unconfirmed <> 0")
        .fetch_one(t.db.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "every recorded outcome clears the count");
    lab.wait_for_mail(TO, 2, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        (copies(&lab, 0), copies(&lab, 1), copies(&lab, 2)),
        (1, 1, 0)
    );

    // A staff resend (the web UI's mail log) is a person's decision: sent.
    sqlx::query(
        "UPDATE outbox SET status = 'queued', attempts = 0, unconfirmed = 0, claimed_by = NULL, \
         claimed_until = NULL WHERE id = $1",
    )
    .bind(ids[2])
    .execute(t.db.pool())
    .await
    .unwrap();
    assert_eq!(sender.run_once().await.unwrap().sent, 1);
    lab.wait_for_mail(TO, 3, Duration::from_secs(30));
    assert_eq!(copies(&lab, 2), 1);
});
