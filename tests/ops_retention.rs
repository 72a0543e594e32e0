//! Issue 14 point 5: `sos-intake purge` on both backends. Only requests
//! that are 受付完了 with a batch older than `[retention]` lose their raw
//! mail, attached sheet and personal fields; a mail shared with a request
//! still under review stays; recent batches stay; `--dry-run` changes
//! nothing; every purge is in the audit history; the 受付完了 decisions and
//! the database guards stay.

mod common;

use common::db::{TestDb, count, sheet_filing};
use sos_intake::queue::{self, Db, blobs};
use sos_intake::request::{Item, MhlwDecision};
use std::path::Path;
use std::process::{Command, Output};

const OLD_BATCH: &str = "2026-01-05";

fn purge(t: &TestDb, config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sos-intake"))
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(t.data_dir())
        .arg("purge")
        .args(args)
        .env("SOS_INTAKE_DATABASE_URL", &t.url)
        .output()
        .unwrap()
}

/// Files a sheet for `code` in `batch` from raw mail `mail` with attachment
/// `sheet` (both stored as blobs), completed when `complete`. Returns the
/// record id and receipt.
async fn filed(
    db: &Db,
    code: &str,
    batch: &str,
    mail: &str,
    sheet: &str,
    complete: bool,
) -> (i64, String) {
    let mut tx = db.begin().await.unwrap();
    let mail_sha = blobs::put(&mut tx, mail.as_bytes()).await.unwrap();
    let sheet_sha = blobs::put(&mut tx, sheet.as_bytes()).await.unwrap();
    let mut filing = sheet_filing(
        code,
        &[Item::NonSterileGloves],
        &format!("{batch}T09:00:00+09:00"),
        batch,
        sheet,
    );
    filing.source_message_sha256 = Some(mail_sha);
    filing.attachment_sha256 = Some(sheet_sha);
    let out = queue::file_sheet(&mut tx, &filing).await.unwrap();
    if complete {
        let approve = MhlwDecision {
            approved: Some(true),
            quantity: Some(2000),
            ship_date: chrono::NaiveDate::from_ymd_opt(2026, 1, 9),
            reason: String::new(),
        };
        queue::set_mhlw_decision(
            &mut tx,
            out.record_id,
            Item::NonSterileGloves,
            &approve,
            "reviewer",
            "",
        )
        .await
        .unwrap();
        queue::complete(&mut tx, out.record_id, "reviewer")
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    (out.record_id, out.receipt)
}

async fn content_len(db: &Db, data: &str) -> i64 {
    let sha = blobs::sha256_hex(data.as_bytes());
    count(
        db,
        &format!("SELECT LENGTH(content) FROM blobs WHERE sha256 = '{sha}'"),
    )
    .await
}

async fn contact(db: &Db, id: i64) -> i64 {
    count(db, &format!("SELECT LENGTH(institution_contact) + LENGTH(institution_phone) FROM requests WHERE id = {id}")).await
}

both_backends!(purge_removes_only_what_is_past_retention, |t| {
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    // A and B came in one mail; B is still under review, so the mail stays.
    let (a, receipt_a) = filed(&t.db, "1310000014", OLD_BATCH, "mail-ab", "sheet-a", true).await;
    let (b, _) = filed(&t.db, "1310000022", OLD_BATCH, "mail-ab", "sheet-b", false).await;
    // C is completed but recent.
    let (c, _) = filed(&t.db, "1310000030", &today, "mail-c", "sheet-c", true).await;
    // D is completed and old, alone in its mail.
    let (d, receipt_d) = filed(&t.db, "1312345679", OLD_BATCH, "mail-d", "sheet-d", true).await;

    let config = t.dir.path().join("retention.toml");
    std::fs::write(
        &config,
        "[retention]\nraw_mail_days = 30\npersonal_fields_days = 30\n",
    )
    .unwrap();

    // --dry-run lists, changes nothing.
    let dry = purge(&t, &config, &["--dry-run"]);
    assert!(dry.status.success(), "{dry:?}");
    let text = String::from_utf8(dry.stdout).unwrap();
    assert!(text.contains("--dry-run"), "{text}");
    assert!(
        text.contains(&format!("{receipt_a}: 担当者名・電話番号")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{receipt_d}: 受信メール原本")),
        "{text}"
    );
    assert_eq!(text.matches("担当者名").count(), 2, "{text}");
    assert_eq!(text.matches("受信メール原本").count(), 1, "{text}");
    assert_eq!(text.matches("添付シート").count(), 2, "{text}");
    assert!(contact(&t.db, a).await > 0);
    assert!(content_len(&t.db, "sheet-a").await > 0);
    assert_eq!(
        count(
            &t.db,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'retention_purged'"
        )
        .await,
        0
    );

    // The purge.
    let run = purge(&t, &config, &[]);
    assert!(run.status.success(), "{run:?}");
    for id in [a, d] {
        assert_eq!(contact(&t.db, id).await, 0);
    }
    for id in [b, c] {
        assert!(contact(&t.db, id).await > 0);
    }
    for gone in ["sheet-a", "mail-d", "sheet-d"] {
        assert_eq!(content_len(&t.db, gone).await, 0, "{gone}");
    }
    for kept in ["mail-ab", "sheet-b", "mail-c", "sheet-c"] {
        assert!(content_len(&t.db, kept).await > 0, "{kept}");
    }
    // 受付完了 and the decisions stay.
    assert_eq!(
        count(&t.db, &format!("SELECT COUNT(*) FROM requests r JOIN request_items i ON i.request_id = r.id \
            WHERE r.id IN ({a}, {d}) AND r.status = '受付完了' AND i.mhlw_approved = 1 AND i.mhlw_quantity = 2000")).await,
        2
    );
    // Audited: A personal + attachment, D personal + mail + attachment.
    assert_eq!(count(&t.db, &format!("SELECT COUNT(*) FROM audit_log WHERE action = 'retention_purged' AND request_id = {a}")).await, 2);
    assert_eq!(count(&t.db, &format!("SELECT COUNT(*) FROM audit_log WHERE action = 'retention_purged' AND request_id = {d}")).await, 3);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM audit_log WHERE action = 'retention_purged' AND actor = 'retention' AND reason LIKE '%30 日%'").await, 5);

    // The guards still hold for anything else.
    let frozen = sqlx::query(&format!(
        "UPDATE requests SET institution_name = 'x' WHERE id = {a}"
    ))
    .execute(t.db.pool())
    .await;
    assert!(frozen.is_err(), "a 受付完了 record stays frozen");
    let again = sqlx::query(&format!(
        "UPDATE requests SET institution_contact = 'x', personal_purged_at = 'y' WHERE id = {a}"
    ))
    .execute(t.db.pool())
    .await;
    assert!(again.is_err(), "personal fields cannot come back");
    let sha = blobs::sha256_hex(b"mail-ab");
    let blob = sqlx::query(&format!("UPDATE blobs SET size = 1 WHERE sha256 = '{sha}'"))
        .execute(t.db.pool())
        .await;
    assert!(blob.is_err(), "blobs stay unchangeable");

    // Nothing left; and without [retention] nothing is done.
    let twice = purge(&t, &config, &[]);
    assert!(
        String::from_utf8(twice.stdout)
            .unwrap()
            .contains("保持期間を過ぎたものはありません")
    );
    let plain = t.dir.path().join("plain.toml");
    std::fs::write(&plain, "").unwrap();
    let off = purge(&t, &plain, &["--dry-run"]);
    assert!(
        String::from_utf8(off.stdout)
            .unwrap()
            .contains("[retention] が設定されていない")
    );
});
