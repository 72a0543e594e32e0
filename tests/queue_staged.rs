//! The writes a filing transaction stages for its end (`queue::Staged`,
//! issue 15) and the multi-row statements of a batch, on SQLite and
//! PostgreSQL: every staged row written once, receipt numbers without gap,
//! outbox ids given back in staging order, nothing left after a rollback,
//! and the batch statements giving the same answers as one row at a time.

mod common;

use common::db::sheet_filing;
use sos_intake::queue::attempts::{self, Arrival, SetAsideReason, Start};
use sos_intake::queue::mail_messages::{self, NewMessage};
use sos_intake::queue::outbox::NewRow;
use sos_intake::queue::{self, Staged, blobs};
use sos_intake::request::Item;

const GLOVES: &[Item] = &[Item::NonSterileGloves];

async fn count(t: &common::db::TestDb, sql: &str) -> i64 {
    common::db::count(&t.db, sql).await
}

/// The number part of a receipt (`SOS-20261120-000042` → 42).
fn number(receipt: &str) -> i64 {
    receipt.rsplit('-').next().unwrap().parse().unwrap()
}

both_backends!(
    many_sheets_in_one_transaction_get_consecutive_receipts_and_every_row,
    |t| {
        // 200 sheets of every item line: more item rows than one statement
        // carries, so the flush splits them.
        let mut tx = t.db.begin().await.unwrap();
        let mut staged = Staged::new();
        let mut receipts = Vec::new();
        for i in 0..200 {
            let filing = sheet_filing(
                &format!("13{i:08}"),
                GLOVES,
                "2026-11-20T10:15:00+09:00",
                "2026-11-20",
                &format!("sheet-{i}"),
            );
            let out = queue::file_sheet_staged(&mut tx, &mut staged, &filing)
                .await
                .unwrap();
            receipts.push(number(&out.receipt));
        }
        staged.flush(&mut tx).await.unwrap();
        tx.commit().await.unwrap();

        let first = receipts[0];
        assert_eq!(receipts, (first..first + 200).collect::<Vec<_>>());
        assert_eq!(
            count(
                &t,
                "SELECT last FROM receipt_sequence WHERE name = 'receipt'"
            )
            .await,
            first + 199,
            "the counter written back"
        );
        let lines = Item::ALL.len() as i64;
        assert_eq!(count(&t, "SELECT COUNT(*) FROM requests").await, 200);
        assert_eq!(
            count(&t, "SELECT COUNT(*) FROM request_items").await,
            200 * lines
        );
        assert_eq!(
            count(
                &t,
                "SELECT COUNT(*) FROM audit_log WHERE action = 'filed' AND request_id IS NOT NULL"
            )
            .await,
            200
        );
        // The next transaction goes on from the counter.
        let mut conn = t.db.pool().acquire().await.unwrap();
        let next = queue::file_sheet(
            &mut conn,
            &sheet_filing(
                "1399999999",
                GLOVES,
                "2026-11-20T10:15:00+09:00",
                "2026-11-20",
                "next",
            ),
        )
        .await
        .unwrap();
        assert_eq!(number(&next.receipt), first + 200);
    }
);

both_backends!(a_sheet_filed_before_gives_its_receipt_number_back, |t| {
    let a = sheet_filing(
        "1310000014",
        GLOVES,
        "2026-11-20T10:15:00+09:00",
        "2026-11-20",
        "a",
    );
    let b = sheet_filing(
        "1310000022",
        GLOVES,
        "2026-11-20T10:15:00+09:00",
        "2026-11-20",
        "b",
    );
    let mut tx = t.db.begin().await.unwrap();
    let mut staged = Staged::new();
    let first = queue::file_sheet_staged(&mut tx, &mut staged, &a)
        .await
        .unwrap();
    let again = queue::file_sheet_staged(&mut tx, &mut staged, &a)
        .await
        .unwrap();
    let other = queue::file_sheet_staged(&mut tx, &mut staged, &b)
        .await
        .unwrap();
    staged.flush(&mut tx).await.unwrap();
    tx.commit().await.unwrap();

    assert!(again.already_filed);
    assert_eq!(again.receipt, first.receipt);
    assert_eq!(number(&other.receipt), number(&first.receipt) + 1, "no gap");
    assert_eq!(count(&t, "SELECT COUNT(*) FROM requests").await, 2);
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM audit_log").await,
        2,
        "one audit row per record filed"
    );
});

both_backends!(
    a_rollback_leaves_no_staged_row_and_no_receipt_number_taken,
    |t| {
        let a = sheet_filing(
            "1310000014",
            GLOVES,
            "2026-11-20T10:15:00+09:00",
            "2026-11-20",
            "a",
        );
        let mut tx = t.db.begin().await.unwrap();
        let mut staged = Staged::new();
        let rolled_back = queue::file_sheet_staged(&mut tx, &mut staged, &a)
            .await
            .unwrap();
        staged.put_blob(b"attachment bytes");
        staged.enqueue(&mail("<rolled-back@test>"));
        staged.flush(&mut tx).await.unwrap();
        tx.rollback().await.unwrap();

        for table in ["requests", "request_items", "audit_log", "blobs", "outbox"] {
            assert_eq!(
                count(&t, &format!("SELECT COUNT(*) FROM {table}")).await,
                0,
                "{table}"
            );
        }
        let mut conn = t.db.pool().acquire().await.unwrap();
        let filed = queue::file_sheet(&mut conn, &a).await.unwrap();
        assert_eq!(
            filed.receipt, rolled_back.receipt,
            "the number was not used"
        );
    }
);

fn mail(message_id: &'static str) -> NewRow<'static> {
    NewRow {
        kind: "reply",
        mail_message_id: None,
        envelope_from: "sos@example.go.jp",
        recipient: "pref@example.lg.jp",
        subject: "受付",
        message_id,
        raw: b"Subject: x\r\n\r\nbody\r\n",
    }
}

both_backends!(staged_mails_get_their_own_outbox_ids, |t| {
    // More rows than one statement carries (9 parameters a row).
    let ids: Vec<String> = (0..3500).map(|i| format!("<m{i}@test>")).collect();
    let mut tx = t.db.begin().await.unwrap();
    let mut staged = Staged::new();
    let handles: Vec<_> = ids
        .iter()
        .map(|id| {
            staged.enqueue(&NewRow {
                message_id: id,
                ..mail("")
            })
        })
        .collect();
    let flushed = staged.flush(&mut tx).await.unwrap();
    tx.commit().await.unwrap();

    use sqlx::Row;
    let rows = sqlx::query("SELECT id, message_id FROM outbox")
        .fetch_all(t.db.pool())
        .await
        .unwrap();
    let stored: std::collections::HashMap<i64, String> = rows
        .iter()
        .map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1)))
        .collect();
    assert_eq!(stored.len(), 3500);
    for (handle, id) in handles.iter().zip(&ids) {
        let outbox_id = flushed.outbox_id(*handle).expect("an id for every mail");
        assert_eq!(&stored[&outbox_id], id);
    }
});

both_backends!(the_reply_count_includes_the_mails_staged, |t| {
    let mut tx = t.db.begin().await.unwrap();
    let mut staged = Staged::new();
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let recipient = "pref@example.lg.jp";
    assert_eq!(
        staged
            .count_since(&mut tx, "reply", recipient, since, 3)
            .await
            .unwrap(),
        0
    );
    staged.enqueue(&mail("<a@test>"));
    staged.enqueue(&mail("<b@test>"));
    assert_eq!(
        staged
            .count_since(&mut tx, "reply", recipient, since, 3)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        staged
            .count_since(&mut tx, "reply", "other@example.lg.jp", since, 3)
            .await
            .unwrap(),
        0
    );
    staged.enqueue(&mail("<c@test>"));
    staged.enqueue(&mail("<d@test>"));
    assert_eq!(
        staged
            .count_since(&mut tx, "reply", recipient, since, 3)
            .await
            .unwrap(),
        3,
        "stops at the cap"
    );
});

fn arrival(sha: &str) -> Arrival<'_> {
    Arrival {
        raw_sha256: sha,
        source: "maildir",
        received_at: chrono::Utc::now(),
        message_id: "<m@test>",
        from_address: "pref@example.lg.jp",
        subject: "要請",
    }
}

both_backends!(attempts_counted_together_answer_as_one_at_a_time, |t| {
    let mut conn = t.db.pool().acquire().await.unwrap();
    let (a, b, c) = (
        blobs::put(&mut conn, b"a").await.unwrap(),
        blobs::put(&mut conn, b"b").await.unwrap(),
        blobs::put(&mut conn, b"c").await.unwrap(),
    );
    let starts = attempts::start_all(&mut conn, &[arrival(&a), arrival(&b)], 2, &[0, 0])
        .await
        .unwrap();
    assert_eq!(
        starts,
        vec![Start::Proceed { attempt: 1 }, Start::Proceed { attempt: 1 }]
    );
    attempts::finished_all(&mut conn, &[a.as_str()])
        .await
        .unwrap();
    let starts = attempts::start_all(
        &mut conn,
        &[arrival(&a), arrival(&b), arrival(&c)],
        2,
        &[0, 0, 0],
    )
    .await
    .unwrap();
    assert_eq!(
        starts,
        vec![
            Start::Handled,
            Start::Proceed { attempt: 2 },
            Start::Proceed { attempt: 1 }
        ]
    );
    // b: a third start of two allowed, never finished → set aside; c: an
    // attempt that failed through an outage is taken back first.
    let starts = attempts::start_all(&mut conn, &[arrival(&b), arrival(&c)], 2, &[0, 1])
        .await
        .unwrap();
    assert_eq!(
        starts,
        vec![
            Start::SetAside(SetAsideReason::Interrupted),
            Start::Proceed { attempt: 1 }
        ]
    );
    // The same bytes twice in one call count twice, as in turn.
    let starts = attempts::start_all(&mut conn, &[arrival(&c), arrival(&c)], 5, &[0, 0])
        .await
        .unwrap();
    assert_eq!(
        starts,
        vec![Start::Proceed { attempt: 2 }, Start::Proceed { attempt: 3 }]
    );
});

fn message<'a>(message_id: &'a str, sha: &'a str) -> NewMessage<'a> {
    NewMessage {
        message_id,
        raw_sha256: sha,
        source: "maildir",
        received_at: chrono::Utc::now(),
        from_address: "pref@example.lg.jp",
        subject: "要請",
        prefecture: Some("東京都"),
    }
}

both_backends!(
    messages_inserted_together_find_earlier_rows_and_repeats,
    |t| {
        let mut tx = t.db.begin().await.unwrap();
        let (a, b) = (
            blobs::put(&mut tx, b"a").await.unwrap(),
            blobs::put(&mut tx, b"b").await.unwrap(),
        );
        let earlier = mail_messages::insert_all(&mut tx, &[message("<1@test>", &a)])
            .await
            .unwrap();
        assert!(earlier[0].is_some());
        let ids = mail_messages::insert_all(
            &mut tx,
            &[
                message("<1@test>", &a),
                message("<2@test>", &b),
                message("<2@test>", &b),
                message("<3@test>", &a),
            ],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(ids[0], None, "a row with its key existed");
        assert!(ids[1].is_some());
        assert_eq!(ids[2], None, "the same key earlier in the call");
        assert!(ids[3].is_some() && ids[3] != ids[1]);
        assert_eq!(count(&t, "SELECT COUNT(*) FROM mail_messages").await, 3);
    }
);

/// A sheet of institution `code` for 東京都 (GLOVES) keyed by `seed`, sent
/// by a sender of `trust`.
fn from(
    seed: &str,
    trust: sos_intake::mailbox::senders::SenderTrust,
) -> sos_intake::queue::SheetFiling {
    let mut f = sheet_filing(
        "1310000014",
        GLOVES,
        "2026-11-20T10:15:00+09:00",
        "2026-11-20",
        seed,
    );
    f.sender_trust = trust;
    f
}

both_backends!(
    sheets_of_one_institution_in_one_transaction_supersede_as_one_at_a_time,
    |t| {
        use sos_intake::mailbox::senders::SenderTrust::{Authenticated, Unchecked};
        let mut tx = t.db.begin().await.unwrap();
        let mut staged = Staged::new();
        let mut file = async |f| {
            queue::file_sheet_staged(&mut tx, &mut staged, &f)
                .await
                .unwrap()
        };
        let a = file(from("a", Authenticated)).await;
        let b = file(from("b", Authenticated)).await;
        let unchecked = file(from("u", Unchecked)).await;
        let c = file(from("c", Authenticated)).await;
        staged.flush(&mut tx).await.unwrap();
        tx.commit().await.unwrap();

        assert!(a.superseded.is_empty());
        assert_eq!(b.superseded, vec![a.receipt.clone()]);
        assert!(
            unchecked.superseded.is_empty(),
            "an unchecked sender replaces nothing"
        );
        assert_eq!(
            c.superseded,
            vec![b.receipt.clone()],
            "the one current version, not the unchecked resend"
        );
        assert_eq!(
            count(
                &t,
                "SELECT COUNT(*) FROM requests WHERE superseded_by IS NULL"
            )
            .await,
            2,
            "c and the unchecked resend stay current"
        );
    }
);

both_backends!(
    a_completed_sheet_refuses_every_resend_of_a_transaction,
    |t| {
        use sos_intake::mailbox::senders::SenderTrust::Authenticated;
        let mut conn = t.db.pool().acquire().await.unwrap();
        let done = queue::file_sheet(&mut conn, &from("done", Authenticated))
            .await
            .unwrap();
        drop(conn);
        common::db::approve_and_complete(&t.db, done.record_id).await;
        let mut tx = t.db.begin().await.unwrap();
        let mut staged = Staged::new();
        let first = queue::file_sheet_staged(&mut tx, &mut staged, &from("r1", Authenticated))
            .await
            .unwrap();
        let second = queue::file_sheet_staged(&mut tx, &mut staged, &from("r2", Authenticated))
            .await
            .unwrap();
        staged.flush(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        for out in [&first, &second] {
            assert!(out.refused_because_completed, "{out:?}");
            assert!(
                out.superseded.is_empty(),
                "a refused resend replaces nothing"
            );
        }
    }
);
