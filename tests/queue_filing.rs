//! Filing sheets into the queue, on SQLite and PostgreSQL: statuses, the
//! SPEC's mail-level rules (G-MIS-registered institutions, supersession,
//! refusal after 受付完了, earlier distributions), idempotence, atomicity
//! and concurrent filers.

mod common;

use common::db::{approve_and_complete, gmis_filing, sheet_filing};
use sos_intake::messages::findings::message;
use sos_intake::queue::{self, ListFilter, blobs};
use sos_intake::request::{Item, MhlwDecision, Status};
use sos_intake::validation::{Finding, Severity};

const GLOVES: &[Item] = &[Item::NonSterileGloves];

async fn count_rows(db: &queue::Db, table: &str) -> i64 {
    common::db::count(db, &format!("SELECT COUNT(*) FROM {table}")).await
}

both_backends!(clean_sheet_goes_to_review_with_everything_kept, |t| {
    let filing = sheet_filing(
        "1310000014",
        GLOVES,
        "2026-11-20T10:15:00+09:00",
        "2026-11-20",
        "a",
    );
    let mut tx = t.db.begin().await.unwrap();
    let out = queue::file_sheet(&mut tx, &filing).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(out.status, Status::UnderReview);
    assert!(!out.already_filed && !out.refused_because_completed);
    assert!(out.superseded.is_empty() && out.findings_added.is_empty());
    let re = regex::Regex::new(r"^SOS-20261120-\d{6}$").unwrap();
    assert!(re.is_match(&out.receipt), "receipt {}", out.receipt);

    let mut conn = t.db.pool().acquire().await.unwrap();
    let rec = queue::get(&mut conn, out.record_id).await.unwrap();
    assert_eq!(rec.receipt, out.receipt);
    assert_eq!(rec.source, sos_intake::request::Source::Sheet);
    assert_eq!(rec.received_at, filing.received_at);
    assert_eq!(rec.batch_date, filing.batch_date);
    assert_eq!(rec.prefecture, "東京都");
    assert_eq!(rec.institution, filing.institution);
    assert_eq!(
        rec.lines, filing.lines,
        "every line stored as given, in form order"
    );
    assert_eq!(rec.attachment_sha256, filing.attachment_sha256);
    assert_eq!(rec.history.len(), 1);
    assert_eq!(rec.history[0].action, "filed");
    assert_eq!(rec.history[0].actor, "test");
    assert_eq!(
        queue::resolve(&mut conn, &out.receipt.to_lowercase())
            .await
            .unwrap(),
        out.record_id
    );
    assert_eq!(
        queue::resolve(&mut conn, &out.record_id.to_string())
            .await
            .unwrap(),
        out.record_id
    );
});

both_backends!(sheet_with_errors_is_kept_out_of_review, |t| {
    let mut filing = sheet_filing(
        "1310000014",
        GLOVES,
        "2026-11-20T10:15:00+09:00",
        "2026-11-20",
        "a",
    );
    filing.findings.push(Finding {
        severity: Severity::Error,
        code: "institution.code.format".into(),
        cell: Some("C6".into()),
        field: "医療機関コード".into(),
        value: "13-1".into(),
        message: "10桁で入力してください".into(),
        fact: None,
    });
    let mut tx = t.db.begin().await.unwrap();
    let out = queue::file_sheet(&mut tx, &filing).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(out.status, Status::HasErrors);
    let mut conn = t.db.pool().acquire().await.unwrap();
    let rec = queue::get(&mut conn, out.record_id).await.unwrap();
    assert_eq!(rec.findings, filing.findings);
    let review = queue::list(
        &mut conn,
        &ListFilter {
            status: Some(Status::UnderReview),
            ..ListFilter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(review.total, 0);
});

both_backends!(same_input_filed_twice_makes_one_record, |t| {
    let mut filing = sheet_filing(
        "1310000014",
        GLOVES,
        "2026-11-20T10:15:00+09:00",
        "2026-11-20",
        "a",
    );
    filing.source_message_sha256 = Some(blobs::sha256_hex(b"the raw message"));
    let mut tx = t.db.begin().await.unwrap();
    let first = queue::file_sheet(&mut tx, &filing).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = t.db.begin().await.unwrap();
    let second = queue::file_sheet(&mut tx, &filing).await.unwrap();
    tx.commit().await.unwrap();
    assert!(second.already_filed);
    assert_eq!(second.record_id, first.record_id);
    assert_eq!(second.receipt, first.receipt);
    assert_eq!(count_rows(&t.db, "requests").await, 1);
    assert_eq!(
        count_rows(&t.db, "audit_log").await,
        1,
        "a re-filing writes no history"
    );

    // Another sheet of the same attachment is another input.
    filing.sheet_name = "要請シート (2)".into();
    let mut tx = t.db.begin().await.unwrap();
    let third = queue::file_sheet(&mut tx, &filing).await.unwrap();
    tx.commit().await.unwrap();
    assert!(!third.already_filed);
    assert_ne!(third.record_id, first.record_id);
});

both_backends!(gmis_registered_institution_is_an_error, |t| {
    let mut tx = t.db.begin().await.unwrap();
    queue::import_gmis(
        &mut tx,
        &gmis_filing(
            "a0B5g00000Xy1AAA",
            "1313000018",
            GLOVES,
            Status::UnderReview,
            "2026-11-20T10:15:00+09:00",
            "2026-11-20",
        ),
    )
    .await
    .unwrap();
    let filing = sheet_filing(
        "1313000018",
        GLOVES,
        "2026-11-20T11:00:00+09:00",
        "2026-11-20",
        "a",
    );
    let out = queue::file_sheet(&mut tx, &filing).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(out.status, Status::HasErrors);
    assert_eq!(out.findings_added.len(), 1);
    assert_eq!(out.findings_added[0].code, "queue.gmis_registered");
    assert!(out.findings_added[0].is_error());
    assert!(message(&out.findings_added[0]).contains("G-MIS"));

    // An unknown code files cleanly.
    let mut tx = t.db.begin().await.unwrap();
    let other = queue::file_sheet(
        &mut tx,
        &sheet_filing(
            "1310000014",
            GLOVES,
            "2026-11-20T11:00:00+09:00",
            "2026-11-20",
            "b",
        ),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(other.status, Status::UnderReview);
});

both_backends!(resend_supersedes_earlier_sheet_same_item_same_batch, |t| {
    let mut tx = t.db.begin().await.unwrap();
    let first = queue::file_sheet(
        &mut tx,
        &sheet_filing(
            "1310000014",
            GLOVES,
            "2026-11-20T09:00:00+09:00",
            "2026-11-20",
            "v1",
        ),
    )
    .await
    .unwrap();
    let second = queue::file_sheet(
        &mut tx,
        &sheet_filing(
            "1310000014",
            GLOVES,
            "2026-11-20T10:00:00+09:00",
            "2026-11-20",
            "v2",
        ),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(second.superseded, vec![first.receipt.clone()]);
    assert_eq!(second.status, Status::UnderReview);
    assert_eq!(second.findings_added[0].code, "queue.supersedes");

    let mut conn = t.db.pool().acquire().await.unwrap();
    let old = queue::get(&mut conn, first.record_id).await.unwrap();
    assert_eq!(
        old.superseded_by.as_ref().map(|v| v.receipt.clone()),
        Some(second.receipt.clone())
    );
    assert_eq!(old.history.last().unwrap().action, "superseded");
    let new = queue::get(&mut conn, second.record_id).await.unwrap();
    assert_eq!(
        new.supersedes
            .iter()
            .map(|v| v.receipt.clone())
            .collect::<Vec<_>>(),
        vec![first.receipt.clone()]
    );

    let listing = queue::list(&mut conn, &ListFilter::default())
        .await
        .unwrap();
    assert_eq!(
        listing.records.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![second.record_id]
    );
    let all = queue::list(
        &mut conn,
        &ListFilter {
            include_superseded: true,
            ..ListFilter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(all.total, 2);

    // The superseded version takes no decision.
    let err = queue::set_mhlw_decision(
        &mut conn,
        first.record_id,
        Item::NonSterileGloves,
        &MhlwDecision {
            approved: Some(true),
            ..MhlwDecision::default()
        },
        "reviewer",
        "",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, queue::QueueError::Superseded { .. }),
        "{err:?}"
    );
});

both_backends!(no_supersession_across_items_or_batches, |t| {
    let mut tx = t.db.begin().await.unwrap();
    let gloves = queue::file_sheet(
        &mut tx,
        &sheet_filing(
            "1310000014",
            GLOVES,
            "2026-11-20T09:00:00+09:00",
            "2026-11-20",
            "g",
        ),
    )
    .await
    .unwrap();
    let masks = queue::file_sheet(
        &mut tx,
        &sheet_filing(
            "1310000014",
            &[Item::SurgicalMask],
            "2026-11-20T09:30:00+09:00",
            "2026-11-20",
            "m",
        ),
    )
    .await
    .unwrap();
    let next_day = queue::file_sheet(
        &mut tx,
        &sheet_filing(
            "1310000014",
            GLOVES,
            "2026-11-20T14:00:00+09:00",
            "2026-11-24",
            "n",
        ),
    )
    .await
    .unwrap();
    let other_inst = queue::file_sheet(
        &mut tx,
        &sheet_filing(
            "1310000022",
            GLOVES,
            "2026-11-20T09:40:00+09:00",
            "2026-11-20",
            "o",
        ),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    for out in [&masks, &next_day, &other_inst] {
        assert!(
            out.superseded.is_empty(),
            "{} superseded {:?}",
            out.receipt,
            out.superseded
        );
    }
    let mut conn = t.db.pool().acquire().await.unwrap();
    assert!(
        queue::get(&mut conn, gloves.record_id)
            .await
            .unwrap()
            .superseded_by
            .is_none()
    );
});

both_backends!(resend_after_completion_is_refused, |t| {
    let mut tx = t.db.begin().await.unwrap();
    let first = queue::file_sheet(
        &mut tx,
        &sheet_filing(
            "1310000014",
            GLOVES,
            "2026-11-20T09:00:00+09:00",
            "2026-11-20",
            "v1",
        ),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    approve_and_complete(&t.db, first.record_id).await;

    let mut tx = t.db.begin().await.unwrap();
    let resend = queue::file_sheet(
        &mut tx,
        &sheet_filing(
            "1310000014",
            GLOVES,
            "2026-11-20T11:00:00+09:00",
            "2026-11-20",
            "v2",
        ),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(resend.refused_because_completed);
    assert_eq!(resend.status, Status::HasErrors);
    assert!(resend.superseded.is_empty());
    assert_eq!(resend.findings_added.len(), 1);
    assert_eq!(resend.findings_added[0].code, "queue.completed_exists");
    assert!(message(&resend.findings_added[0]).contains(&first.receipt));

    let mut conn = t.db.pool().acquire().await.unwrap();
    let done = queue::get(&mut conn, first.record_id).await.unwrap();
    assert_eq!(done.status, Status::Completed);
    assert!(done.superseded_by.is_none());
    let refused = queue::get(&mut conn, resend.record_id).await.unwrap();
    assert_eq!(refused.history[0].action, "refused_completed");
});

both_backends!(earlier_distributions_are_counted, |t| {
    let code = "1310000014";
    for (i, batch) in ["2026-10-01", "2026-10-15"].iter().enumerate() {
        let mut tx = t.db.begin().await.unwrap();
        let out = queue::file_sheet(
            &mut tx,
            &sheet_filing(
                code,
                GLOVES,
                &format!("{batch}T09:00:00+09:00"),
                batch,
                &format!("d{i}"),
            ),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(out.earlier_distributions, i as i64);
        approve_and_complete(&t.db, out.record_id).await;
    }
    // A refused-only completion is no distribution.
    let mut tx = t.db.begin().await.unwrap();
    let refused = queue::file_sheet(
        &mut tx,
        &sheet_filing(code, GLOVES, "2026-11-02T09:00:00+09:00", "2026-11-02", "r"),
    )
    .await
    .unwrap();
    let decision = MhlwDecision {
        approved: Some(false),
        reason: "在庫十分".into(),
        ..MhlwDecision::default()
    };
    queue::set_mhlw_decision(
        &mut tx,
        refused.record_id,
        Item::NonSterileGloves,
        &decision,
        "reviewer",
        "",
    )
    .await
    .unwrap();
    queue::complete(&mut tx, refused.record_id, "reviewer")
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = t.db.begin().await.unwrap();
    let out = queue::file_sheet(
        &mut tx,
        &sheet_filing(
            code,
            GLOVES,
            "2026-11-20T09:00:00+09:00",
            "2026-11-20",
            "now",
        ),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(out.earlier_distributions, 2);
    let mut conn = t.db.pool().acquire().await.unwrap();
    let rec = queue::get(&mut conn, out.record_id).await.unwrap();
    assert_eq!(rec.earlier_distributions, 2);
    assert!(
        rec.lines
            .iter()
            .any(|l| l.prefecture.opinion.contains("0回")),
        "the prefecture's own words stay beside it"
    );
});

both_backends!(rolled_back_filing_leaves_nothing, |t| {
    // The mail pipeline's shape: blob, two filings, then a failure before commit.
    {
        let mut tx = t.db.begin().await.unwrap();
        blobs::put(&mut tx, b"raw message").await.unwrap();
        queue::file_sheet(
            &mut tx,
            &sheet_filing(
                "1310000014",
                GLOVES,
                "2026-11-20T09:00:00+09:00",
                "2026-11-20",
                "a",
            ),
        )
        .await
        .unwrap();
        queue::file_sheet(
            &mut tx,
            &sheet_filing(
                "1310000022",
                GLOVES,
                "2026-11-20T09:00:00+09:00",
                "2026-11-20",
                "b",
            ),
        )
        .await
        .unwrap();
        // Dropped without commit: as if the process died here.
    }
    for table in ["requests", "request_items", "audit_log", "blobs"] {
        assert_eq!(count_rows(&t.db, table).await, 0, "{table} after rollback");
    }
    // And the same input files normally afterwards.
    let mut tx = t.db.begin().await.unwrap();
    let out = queue::file_sheet(
        &mut tx,
        &sheet_filing(
            "1310000014",
            GLOVES,
            "2026-11-20T09:00:00+09:00",
            "2026-11-20",
            "a",
        ),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(!out.already_filed);
    assert_eq!(count_rows(&t.db, "requests").await, 1);
});

both_backends!(concurrent_filers_make_one_record, |t| {
    // Eight independent pools (as separate processes would have) file the
    // same input at once, several times over.
    let mut handles = Vec::new();
    for _ in 0..8 {
        handles.push(t.second_handle().await);
    }
    let filing = sheet_filing(
        "1310000014",
        GLOVES,
        "2026-11-20T09:00:00+09:00",
        "2026-11-20",
        "same",
    );
    let mut tasks = Vec::new();
    for db in handles.clone() {
        let filing = filing.clone();
        tasks.push(tokio::spawn(async move {
            let mut outs = Vec::new();
            for _ in 0..3 {
                let mut tx = db.begin().await.unwrap();
                let out = queue::file_sheet(&mut tx, &filing).await.unwrap();
                tx.commit().await.unwrap();
                outs.push(out);
            }
            outs
        }));
    }
    let mut outs = Vec::new();
    for task in tasks {
        outs.extend(task.await.unwrap());
    }
    assert_eq!(count_rows(&t.db, "requests").await, 1);
    assert_eq!(outs.iter().filter(|o| !o.already_filed).count(), 1);
    assert!(outs.iter().all(|o| o.record_id == outs[0].record_id));
    for db in handles {
        db.close().await;
    }
});

both_backends!(concurrent_resends_leave_one_current_version, |t| {
    // Different sheets for the same institution and item filed at once:
    // whatever the order, exactly one stays current, the others superseded.
    let mut tasks = Vec::new();
    for i in 0..6 {
        let db = t.second_handle().await;
        tasks.push(tokio::spawn(async move {
            let filing = sheet_filing(
                "1310000014",
                GLOVES,
                "2026-11-20T09:00:00+09:00",
                "2026-11-20",
                &format!("v{i}"),
            );
            let mut tx = db.begin().await.unwrap();
            let out = queue::file_sheet(&mut tx, &filing).await.unwrap();
            tx.commit().await.unwrap();
            db.close().await;
            out
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut conn = t.db.pool().acquire().await.unwrap();
    let current = queue::list(&mut conn, &ListFilter::default())
        .await
        .unwrap();
    assert_eq!(current.total, 1, "{:?}", current.records);
    let all = queue::list(
        &mut conn,
        &ListFilter {
            include_superseded: true,
            ..ListFilter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(all.total, 6);
    // The current version lists the five it replaced, through the chain.
    let current = queue::get(&mut conn, current.records[0].id).await.unwrap();
    assert_eq!(current.supersedes.len(), 5, "{:?}", current.supersedes);
    assert!(
        current.supersedes.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );
});

both_backends!(blobs_are_content_addressed_and_immutable, |t| {
    let mut tx = t.db.begin().await.unwrap();
    let a = blobs::put(&mut tx, b"attachment bytes").await.unwrap();
    let again = blobs::put(&mut tx, b"attachment bytes").await.unwrap();
    assert_eq!(a, again);
    assert_eq!(a, blobs::sha256_hex(b"attachment bytes"));
    assert_eq!(
        blobs::get(&mut tx, &a).await.unwrap().as_deref(),
        Some(&b"attachment bytes"[..])
    );
    assert_eq!(
        blobs::get(&mut tx, &blobs::sha256_hex(b"other"))
            .await
            .unwrap(),
        None
    );
    tx.commit().await.unwrap();
    assert_eq!(count_rows(&t.db, "blobs").await, 1);
    let err = sqlx::query("UPDATE blobs SET content = $1")
        .bind(b"forged".to_vec())
        .execute(t.db.pool())
        .await;
    assert!(err.is_err(), "blobs must not change");
});

both_backends!(writers_of_one_process_take_turns_on_sqlite_only, |t| {
    use std::future::Future;
    let first = t.db.write_turn().await;
    let second = t.db.write_turn();
    let mut second = std::pin::pin!(second);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let polled = second.as_mut().poll(&mut cx);
    match t.db.backend() {
        // One writer at a time: the second waits for the first...
        queue::Backend::Sqlite => assert!(polled.is_pending(), "a second SQLite writer must wait"),
        // (PostgreSQL locks rows, so its writers never queue here.)
        queue::Backend::Postgres => assert!(polled.is_ready(), "PostgreSQL writers must not queue"),
    }
    drop(first);
    // ...and goes as soon as the first is done.
    if polled.is_pending() {
        drop(second.await);
    }
    drop(polled);
    let _third = t.db.write_turn().await;
});
