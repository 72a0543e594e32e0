//! A 受付完了 record never changes again, by any path: filing, G-MIS import,
//! decisions, batch moves, and hand-typed SQL against the database (the
//! triggers of both migrations). Also the decision rules that lead there.

mod common;

use chrono::NaiveDate;
use common::db::{gmis_filing, sheet_filing};
use sos_intake::queue::{self, GmisChange, QueueError, RequestRecord};
use sos_intake::request::{Item, MhlwDecision, Status};

const GLOVES: &[Item] = &[Item::NonSterileGloves];

fn approve() -> MhlwDecision {
    MhlwDecision {
        approved: Some(true),
        quantity: Some(2000),
        ship_date: NaiveDate::from_ymd_opt(2026, 11, 25),
        reason: String::new(),
    }
}

/// Files a clean sheet, decides it and completes it; returns the record.
async fn completed_record(db: &queue::Db) -> RequestRecord {
    let mut tx = db.begin().await.unwrap();
    let out = queue::file_sheet(
        &mut tx,
        &sheet_filing(
            "1310000014",
            GLOVES,
            "2026-11-20T09:00:00+09:00",
            "2026-11-20",
            "done",
        ),
    )
    .await
    .unwrap();
    queue::set_mhlw_decision(
        &mut tx,
        out.record_id,
        Item::NonSterileGloves,
        &approve(),
        "reviewer",
        "在庫逼迫",
    )
    .await
    .unwrap();
    queue::complete(&mut tx, out.record_id, "reviewer")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut conn = db.pool().acquire().await.unwrap();
    queue::get(&mut conn, out.record_id).await.unwrap()
}

async fn reread(db: &queue::Db, id: i64) -> RequestRecord {
    let mut conn = db.pool().acquire().await.unwrap();
    queue::get(&mut conn, id).await.unwrap()
}

/// The record and its lines are as they were (history may only grow
/// elsewhere; here it must not grow either).
async fn assert_unchanged(db: &queue::Db, before: &RequestRecord) {
    let after = reread(db, before.id).await;
    assert_eq!(after.status, Status::Completed);
    assert_eq!(after.lines, before.lines);
    assert_eq!(after.batch_date, before.batch_date);
    assert_eq!(after.findings, before.findings);
    assert_eq!(after.updated_at, before.updated_at);
    assert_eq!(after.superseded_by, before.superseded_by);
    assert_eq!(after.history.len(), before.history.len());
}

both_backends!(completion_needs_every_requested_item_decided, |t| {
    let mut tx = t.db.begin().await.unwrap();
    let out = queue::file_sheet(
        &mut tx,
        &sheet_filing(
            "1310000014",
            &[Item::NonSterileGloves, Item::SurgicalMask],
            "2026-11-20T09:00:00+09:00",
            "2026-11-20",
            "two",
        ),
    )
    .await
    .unwrap();
    let err = queue::complete(&mut tx, out.record_id, "reviewer")
        .await
        .unwrap_err();
    match &err {
        QueueError::Undecided { items, .. } => {
            assert_eq!(items, &vec![Item::SurgicalMask, Item::NonSterileGloves])
        }
        other => panic!("expected Undecided, got {other:?}"),
    }
    // Approved without a ship date is not a complete decision.
    let partial = MhlwDecision {
        approved: Some(true),
        quantity: Some(100),
        ship_date: None,
        reason: String::new(),
    };
    queue::set_mhlw_decision(
        &mut tx,
        out.record_id,
        Item::NonSterileGloves,
        &partial,
        "reviewer",
        "",
    )
    .await
    .unwrap();
    let refuse = MhlwDecision {
        approved: Some(false),
        reason: "在庫が1ヶ月分以上".into(),
        ..MhlwDecision::default()
    };
    queue::set_mhlw_decision(
        &mut tx,
        out.record_id,
        Item::SurgicalMask,
        &refuse,
        "reviewer",
        "",
    )
    .await
    .unwrap();
    let err = queue::complete(&mut tx, out.record_id, "reviewer")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, QueueError::Undecided { items, .. } if items == &vec![Item::NonSterileGloves]),
        "{err:?}"
    );
    queue::set_mhlw_decision(
        &mut tx,
        out.record_id,
        Item::NonSterileGloves,
        &approve(),
        "reviewer",
        "",
    )
    .await
    .unwrap();
    queue::complete(&mut tx, out.record_id, "kosei.hanako")
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let rec = reread(&t.db, out.record_id).await;
    assert_eq!(rec.status, Status::Completed);
    assert_eq!(rec.completed_by.as_deref(), Some("kosei.hanako"));
    let gloves = rec
        .lines
        .iter()
        .find(|l| l.item == Item::NonSterileGloves)
        .unwrap();
    assert_eq!(gloves.mhlw, approve());
    let actions: Vec<&str> = rec.history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["filed", "decided", "decided", "decided", "completed"]
    );
});

both_backends!(decisions_are_validated_and_audited, |t| {
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
    let negative = MhlwDecision {
        approved: Some(true),
        quantity: Some(-1),
        ..MhlwDecision::default()
    };
    assert!(matches!(
        queue::set_mhlw_decision(
            &mut tx,
            out.record_id,
            Item::NonSterileGloves,
            &negative,
            "r",
            ""
        )
        .await,
        Err(QueueError::InvalidDecision(_))
    ));
    let no_reason = MhlwDecision {
        approved: Some(false),
        ..MhlwDecision::default()
    };
    assert!(matches!(
        queue::set_mhlw_decision(
            &mut tx,
            out.record_id,
            Item::NonSterileGloves,
            &no_reason,
            "r",
            ""
        )
        .await,
        Err(QueueError::InvalidDecision(_))
    ));
    // The sheet has a line for every item, but a G-MIS request only for
    // the ones it asks for.
    let g = queue::import_gmis(
        &mut tx,
        &gmis_filing(
            "REC1",
            "0110113719",
            GLOVES,
            Status::UnderReview,
            "2026-11-20T09:00:00+09:00",
            "2026-11-20",
        ),
    )
    .await
    .unwrap();
    assert!(matches!(
        queue::set_mhlw_decision(&mut tx, g.record_id, Item::N95Mask, &approve(), "r", "").await,
        Err(QueueError::ItemNotInRequest {
            item: Item::N95Mask,
            ..
        })
    ));
    queue::set_mhlw_decision(
        &mut tx,
        out.record_id,
        Item::NonSterileGloves,
        &approve(),
        "kosei.taro",
        "院内感染",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let rec = reread(&t.db, out.record_id).await;
    let last = rec.history.last().unwrap();
    assert_eq!(
        (
            last.actor.as_str(),
            last.action.as_str(),
            last.reason.as_str()
        ),
        ("kosei.taro", "decided", "院内感染")
    );
    assert_eq!(last.detail["to"]["quantity"], 2000);
    assert_eq!(last.detail["from"]["approved"], serde_json::Value::Null);
});

both_backends!(error_records_take_no_decision, |t| {
    let mut filing = sheet_filing(
        "1310000014",
        GLOVES,
        "2026-11-20T09:00:00+09:00",
        "2026-11-20",
        "err",
    );
    filing.findings.push(sos_intake::validation::Finding {
        severity: sos_intake::validation::Severity::Error,
        code: "x".into(),
        cell: None,
        field: "f".into(),
        value: String::new(),
        message: "m".into(),
        fact: None,
    });
    let mut tx = t.db.begin().await.unwrap();
    let out = queue::file_sheet(&mut tx, &filing).await.unwrap();
    let err = queue::set_mhlw_decision(
        &mut tx,
        out.record_id,
        Item::NonSterileGloves,
        &approve(),
        "r",
        "",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, QueueError::NotInReview { .. }), "{err:?}");
    assert!(matches!(
        queue::complete(&mut tx, out.record_id, "r").await,
        Err(QueueError::NotInReview { .. })
    ));
    assert!(matches!(
        queue::complete(&mut tx, 999_999, "r").await,
        Err(QueueError::NotFound(_))
    ));
});

both_backends!(move_batch_needs_reason_and_is_audited, |t| {
    let mut tx = t.db.begin().await.unwrap();
    let out = queue::file_sheet(
        &mut tx,
        &sheet_filing(
            "1310000014",
            GLOVES,
            "2026-11-20T14:00:00+09:00",
            "2026-11-24",
            "late",
        ),
    )
    .await
    .unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    assert!(matches!(
        queue::move_batch(&mut tx, out.record_id, today, "r", "  ").await,
        Err(QueueError::ReasonRequired)
    ));
    queue::move_batch(
        &mut tx,
        out.record_id,
        today,
        "kosei.taro",
        "院内感染のため電話連絡あり",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let rec = reread(&t.db, out.record_id).await;
    assert_eq!(rec.batch_date, today);
    assert_eq!(rec.batch_reason, "院内感染のため電話連絡あり");
    let last = rec.history.last().unwrap();
    assert_eq!(last.action, "batch_moved");
    assert_eq!(last.reason, "院内感染のため電話連絡あり");
    assert_eq!(last.detail["batch_date"]["from"], "2026-11-24");
    assert_eq!(last.detail["batch_date"]["to"], "2026-11-20");
});

both_backends!(completed_record_refuses_decisions_and_moves, |t| {
    let done = completed_record(&t.db).await;
    let mut tx = t.db.begin().await.unwrap();
    let change = MhlwDecision {
        approved: Some(true),
        quantity: Some(9999),
        ..approve()
    };
    let err = queue::set_mhlw_decision(&mut tx, done.id, Item::NonSterileGloves, &change, "r", "")
        .await
        .unwrap_err();
    assert!(matches!(err, QueueError::Completed { .. }), "{err:?}");
    assert!(err.to_string().contains("受付完了"));
    let err = queue::move_batch(
        &mut tx,
        done.id,
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        "r",
        "理由",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, QueueError::Completed { .. }), "{err:?}");
    let err = queue::complete(&mut tx, done.id, "r").await.unwrap_err();
    assert!(matches!(err, QueueError::Completed { .. }), "{err:?}");
    // The transaction is still usable after the refusals.
    tx.commit().await.unwrap();
    assert_unchanged(&t.db, &done).await;
});

both_backends!(completed_record_is_not_superseded_by_filing, |t| {
    let done = completed_record(&t.db).await;
    let mut tx = t.db.begin().await.unwrap();
    let out = queue::file_sheet(
        &mut tx,
        &sheet_filing(
            "1310000014",
            GLOVES,
            "2026-11-20T11:00:00+09:00",
            "2026-11-20",
            "again",
        ),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(out.refused_because_completed);
    assert_unchanged(&t.db, &done).await;
});

both_backends!(completed_gmis_record_is_not_touched_by_import, |t| {
    let mut tx = t.db.begin().await.unwrap();
    let first = gmis_filing(
        "a0B5g00000Xy1AAA",
        "1313000018",
        GLOVES,
        Status::UnderReview,
        "2026-11-20T10:15:00+09:00",
        "2026-11-20",
    );
    let created = queue::import_gmis(&mut tx, &first).await.unwrap();
    queue::set_mhlw_decision(
        &mut tx,
        created.record_id,
        Item::NonSterileGloves,
        &approve(),
        "r",
        "",
    )
    .await
    .unwrap();
    queue::complete(&mut tx, created.record_id, "r")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let before = reread(&t.db, created.record_id).await;

    let mut later = first.clone();
    later.lines[0].prefecture.total_quantity = Some(99_999);
    later.institution.name = "改名病院".into();
    let mut tx = t.db.begin().await.unwrap();
    let again = queue::import_gmis(&mut tx, &later).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(again.change, GmisChange::KeptCompleted);
    assert_unchanged(&t.db, &before).await;
    assert_eq!(
        reread(&t.db, created.record_id).await.institution.name,
        before.institution.name
    );
});

both_backends!(gmis_request_arriving_completed_is_frozen, |t| {
    let mut tx = t.db.begin().await.unwrap();
    let g = gmis_filing(
        "REC-DONE",
        "1313000018",
        GLOVES,
        Status::Completed,
        "2026-11-20T10:15:00+09:00",
        "2026-11-20",
    );
    let created = queue::import_gmis(&mut tx, &g).await.unwrap();
    tx.commit().await.unwrap();
    let rec = reread(&t.db, created.record_id).await;
    assert_eq!(rec.status, Status::Completed);
    assert_eq!(
        rec.lines.len(),
        1,
        "lines are stored before the record is frozen"
    );
    let err = sqlx::query("UPDATE request_items SET pref_total_quantity = 1 WHERE request_id = $1")
        .bind(created.record_id)
        .execute(t.db.pool())
        .await;
    assert!(err.is_err());
});

both_backends!(completed_record_resists_direct_sql, |t| {
    let done = completed_record(&t.db).await;
    let id = done.id;
    let attempts: Vec<(&str, sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>>)> = vec![
        ("update status", sqlx::query("UPDATE requests SET status = 'エラー有り' WHERE id = $1").bind(id)),
        ("update batch", sqlx::query("UPDATE requests SET batch_date = '2030-01-01' WHERE id = $1").bind(id)),
        ("update name", sqlx::query("UPDATE requests SET institution_name = 'x' WHERE id = $1").bind(id)),
        ("delete record", sqlx::query("DELETE FROM requests WHERE id = $1").bind(id)),
        ("update line", sqlx::query("UPDATE request_items SET mhlw_quantity = 1 WHERE request_id = $1").bind(id)),
        ("delete line", sqlx::query("DELETE FROM request_items WHERE request_id = $1").bind(id)),
        (
            "insert line",
            sqlx::query(
                "INSERT INTO request_items (request_id, item, position, requested) VALUES ($1, 'n95_mask', 1, 1)",
            )
            .bind(id),
        ),
    ];
    for (what, query) in attempts {
        let result = query.execute(t.db.pool()).await;
        let err = result.err().unwrap_or_else(|| {
            panic!("{what}: the database accepted a change to a 受付完了 record")
        });
        assert!(
            queue::is_completed_violation(&err),
            "{what}: unexpected error {err}"
        );
    }
    if t.backend_name() == "postgres" {
        // TRUNCATE skips row triggers; a statement trigger refuses it.
        for table in ["requests CASCADE", "request_items", "audit_log"] {
            let result = sqlx::query(&format!("TRUNCATE {table}"))
                .execute(t.db.pool())
                .await;
            assert!(result.is_err(), "TRUNCATE {table} was accepted");
        }
    }
    // Moving a line of another record onto the completed one is refused too.
    let mut tx = t.db.begin().await.unwrap();
    let other = queue::file_sheet(
        &mut tx,
        &sheet_filing(
            "1310000022",
            GLOVES,
            "2026-11-20T09:00:00+09:00",
            "2026-11-20",
            "o",
        ),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let moved = sqlx::query(
        "UPDATE request_items SET request_id = $1 WHERE request_id = $2 AND item = 'surgical_mask'",
    )
    .bind(id)
    .bind(other.record_id)
    .execute(t.db.pool())
    .await;
    assert!(moved.is_err(), "a line moved onto a 受付完了 record");
    assert_unchanged(&t.db, &done).await;
});

both_backends!(audit_history_is_append_only, |t| {
    let done = completed_record(&t.db).await;
    assert!(
        sqlx::query("UPDATE audit_log SET actor = 'someone else'")
            .execute(t.db.pool())
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM audit_log")
            .execute(t.db.pool())
            .await
            .is_err()
    );
    assert_eq!(reread(&t.db, done.id).await.history, done.history);
});
