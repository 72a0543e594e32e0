//! Issue 14 point 4: `sos-intake backup` taken while a drain is filing mail,
//! then `sos-intake restore` into an empty data directory (SQLite) or an
//! empty database (PostgreSQL, through the real `pg_dump`/`pg_restore`):
//! every message committed before the backup is there, and nothing is half
//! done (each recorded mail has its raw bytes, its filed requests and its
//! reply).

mod common;
#[path = "imap_lab/mod.rs"]
mod lab;

use common::db::{TestDb, count, postgres_admin_url};
use sos_intake::mailbox::maildir::{Maildir, MaildirSource};
use sos_intake::pipeline::Shutdown;
use sos_intake::queue::Db;
use sqlx::{Connection, Executor, Row};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Mails in the drain.
const MAILS: usize = 30;

fn sos_intake(database_url: &str, data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sos-intake"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("SOS_INTAKE_DATABASE_URL", database_url)
        .current_dir(data_dir)
        .output()
        .expect("run sos-intake")
}

/// The (Message-ID, raw SHA-256) of every recorded mail.
async fn recorded(db: &Db) -> BTreeSet<(String, String)> {
    sqlx::query("SELECT message_id, raw_sha256 FROM mail_messages")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
        .collect()
}

/// Asserts that every recorded mail in `db` is whole: its blob, one reply,
/// and (accepted) its filed requests.
async fn assert_nothing_half_done(db: &Db) {
    let half = count(
        db,
        "SELECT COUNT(*) FROM mail_messages m WHERE \
           NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = m.raw_sha256) \
           OR (SELECT COUNT(*) FROM outbox o WHERE o.mail_message_id = m.id) <> 1 \
           OR (m.disposition = 'accepted' AND NOT EXISTS \
               (SELECT 1 FROM requests r WHERE r.source_message_sha256 = m.raw_sha256))",
    )
    .await;
    assert_eq!(
        half, 0,
        "every recorded mail has its blob, reply and requests"
    );
    let orphans = count(
        db,
        "SELECT COUNT(*) FROM requests r WHERE r.source_message_sha256 IS NOT NULL AND NOT EXISTS \
           (SELECT 1 FROM mail_messages m WHERE m.raw_sha256 = r.source_message_sha256)",
    )
    .await;
    assert_eq!(orphans, 0, "no request without its mail");
}

/// Fills a Maildir with `MAILS` sheet mails, drains it in the background,
/// takes a backup with the CLI midway and returns what was committed
/// before the backup started, and the drain's final state.
async fn backup_during_drain(t: &TestDb, out: &Path) -> BTreeSet<(String, String)> {
    let data = t.data_dir();
    let inbox = Maildir::open(&data.join("inbox")).unwrap();
    for n in 0..MAILS {
        inbox
            .deliver(&lab::sheet_mail(
                &format!("ops-backup-{n}@metro.tokyo.lg.jp"),
                0,
            ))
            .unwrap();
    }
    // Small batches, so the drain commits step by step and the backup
    // can fall in the middle of it.
    let mut settings = lab::settings(&data);
    settings.config.intake.batch_size = 2;
    let intake = sos_intake::pipeline::Intake::new(t.db.clone(), &settings)
        .expect("intake")
        .with_source("imap");
    let source = MaildirSource::new(inbox, intake, Duration::from_millis(50));
    let drain = tokio::spawn(async move { source.drain(&Shutdown::never()).await });
    let deadline = Instant::now() + Duration::from_secs(300);
    while count(&t.db, "SELECT COUNT(*) FROM mail_messages").await < 5 {
        assert!(Instant::now() < deadline, "the drain does not progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = recorded(&t.db).await;
    let url = t.url.clone();
    let out_arg = out.display().to_string();
    let dir = data.clone();
    let output = tokio::task::spawn_blocking(move || sos_intake(&url, &dir, &["backup", &out_arg]))
        .await
        .unwrap();
    assert!(output.status.success(), "backup: {output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("バックアップを作成しました"));
    let drained = drain.await.unwrap().unwrap();
    assert_eq!(drained.processed, MAILS);
    assert!(
        before.len() < MAILS,
        "the backup must be taken during the drain ({} of {MAILS} done before)",
        before.len()
    );
    before
}

/// Checks the restored database against the committed set and the source.
async fn check_restored(restored: &Db, before: &BTreeSet<(String, String)>, source: &Db) {
    let got = recorded(restored).await;
    let missing: Vec<_> = before.difference(&got).collect();
    assert!(
        missing.is_empty(),
        "committed before the backup but lost: {missing:?}"
    );
    assert!(got.is_subset(&recorded(source).await));
    assert_nothing_half_done(restored).await;
    assert_nothing_half_done(source).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backup_during_a_drain_restores_whole() {
    let t = TestDb::sqlite().await;
    let out = t.dir.path().join("backup.db");
    let before = backup_during_drain(&t, &out).await;

    let target = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/data/sos-intake.db", target.path().display());
    let out_arg = out.display().to_string();
    let restore = sos_intake(&url, target.path(), &["restore", &out_arg]);
    assert!(restore.status.success(), "restore: {restore:?}");
    let restored = Db::connect(&url).await.unwrap();
    check_restored(&restored, &before, &t.db).await;
    restored.close().await;

    // A second restore over the restored database is refused.
    let again = sos_intake(&url, target.path(), &["restore", &out_arg]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("既にデータベースがあります"));
    // A backup over an existing file is refused too.
    let over = sos_intake(&t.url, t.dir.path(), &["backup", &out_arg]);
    assert_eq!(over.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backup_during_a_drain_restores_whole() {
    let t = TestDb::postgres().await;
    let out = t.dir.path().join("backup.pgdump");
    let before = backup_during_drain(&t, &out).await;

    // An empty database to restore into.
    let admin = postgres_admin_url();
    let name = format!("sos_restore_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    conn.execute(format!("DROP DATABASE IF EXISTS {name}").as_str())
        .await
        .unwrap();
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let url = {
        let (base, _) = admin.rsplit_once('/').unwrap();
        format!("{base}/{name}")
    };
    let out_arg = out.display().to_string();
    let restore = sos_intake(&url, t.dir.path(), &["restore", &out_arg]);
    assert!(restore.status.success(), "restore: {restore:?}");
    let restored = Db::connect(&url).await.unwrap();
    check_restored(&restored, &before, &t.db).await;
    restored.close().await;
    let again = sos_intake(&url, t.dir.path(), &["restore", &out_arg]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "a non-empty database is refused"
    );
    conn.execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await
        .unwrap();
    conn.close().await.ok();
}
