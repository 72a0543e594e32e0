//! Group intake (issue 15): a Maildir backlog taken in batches files and
//! answers each message exactly as one at a time would — in arrival order,
//! once each, a message tried before in its place. (That a message a
//! process died on does not take its neighbours' attempts with it across
//! restarts is shown by `kill_restart`, which failed before tried messages
//! went alone.) Every test runs on SQLite and PostgreSQL.

mod common;

use common::db::count;
use sos_intake::config::{Config, Settings};
use sos_intake::mailbox::maildir::{Maildir, MaildirSource};
use sos_intake::pipeline::{Arrived, Disposition, Intake, Shutdown};
use sos_intake::queue::blobs::sha256_hex;
use sqlx::Row;
use std::path::Path;
use std::time::Duration;

const TOKYO: &str = "sos@fukushi.metro.tokyo.lg.jp";

fn settings(dir: &Path, batch_size: usize) -> Settings {
    let text = format!(
        "[prefectures]\n\"東京都\" = [\"{TOKYO}\"]\n[mail]\nreply_rate_limit_per_hour = 1000\n\
         [intake]\nmax_attempts = 3\nbatch_size = {batch_size}\n"
    );
    Settings::resolve(Config::parse(&text).unwrap(), Some(dir.to_path_buf()))
}

/// Mail `n` from Tokyo with the valid sample sheet.
fn mail(n: usize) -> Vec<u8> {
    use base64::Engine;
    let sheet = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/sheets/valid.xlsx"
    ))
    .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(sheet);
    format!(
        "From: {TOKYO}\r\nTo: sos-busshi@mhlw.go.jp\r\nSubject: batch {n}\r\nMessage-ID: <batch-{n}@tokyo>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\r\n送付します {n}\r\n--b\r\n\
         Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"sheet-{n}.xlsx\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b--\r\n"
    )
    .into_bytes()
}

/// Delivers `mails` ([`delivered`]) and drains them with batches of
/// `batch_size`; every file must end in `cur/`.
async fn drain(t: &common::db::TestDb, mails: &[Vec<u8>], batch_size: usize) -> usize {
    let source = delivered(t, mails, batch_size);
    let drained = source.drain(&Shutdown::never()).await.unwrap();
    assert_eq!(drained.failed, 0);
    assert_eq!(
        std::fs::read_dir(t.data_dir().join("inbox/new"))
            .unwrap()
            .count(),
        0,
        "every file moved to cur/"
    );
    drained.processed
}

/// Delivers `mails` in order, a couple of milliseconds apart (the Maildir
/// is read in delivery-time order), to a Maildir source taking batches of
/// `batch_size`.
fn delivered(t: &common::db::TestDb, mails: &[Vec<u8>], batch_size: usize) -> MaildirSource {
    let inbox = Maildir::open(&t.data_dir().join("inbox")).unwrap();
    for raw in mails {
        inbox.deliver(raw).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let intake = Intake::new(t.db.clone(), &settings(&t.data_dir(), batch_size)).unwrap();
    MaildirSource::new(inbox, intake, Duration::from_millis(50))
}

/// Leaves message `n` (`raw`) as a process that died reading it would:
/// its blob stored, one attempt counted, never finished.
async fn tried_before(t: &common::db::TestDb, n: usize, raw: &[u8]) {
    let mut tx = t.db.begin().await.unwrap();
    sos_intake::queue::blobs::put(&mut tx, raw).await.unwrap();
    let arrival = sos_intake::queue::attempts::Arrival {
        raw_sha256: &sha256_hex(raw),
        source: "maildir",
        received_at: chrono::Utc::now(),
        message_id: &format!("<batch-{n}@tokyo>"),
        from_address: TOKYO,
        subject: &format!("batch {n}"),
    };
    sos_intake::queue::attempts::start(&mut tx, &arrival, 3, 0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// The Message-IDs of the recorded mails, in the order they were filed.
async fn filing_order(t: &common::db::TestDb) -> Vec<String> {
    sqlx::query("SELECT message_id FROM mail_messages ORDER BY id")
        .fetch_all(t.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect()
}

both_backends!(a_backlog_is_filed_in_arrival_order_once_each, |t| {
    let mails: Vec<Vec<u8>> = (0..10).map(mail).collect();
    // Batches of four: two full ones and a partial one.
    assert_eq!(drain(&t, &mails, 4).await, 10);
    let expected: Vec<String> = (0..10).map(|n| format!("batch-{n}@tokyo")).collect();
    assert_eq!(filing_order(&t).await, expected);
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM requests").await, 10);
    assert_eq!(
        count(&t.db, "SELECT COUNT(*) FROM outbox WHERE kind = 'reply'").await,
        10,
        "one reply each"
    );
    // Receipt numbers follow the order too.
    let receipts: Vec<String> = sqlx::query("SELECT receipt FROM requests ORDER BY id")
        .fetch_all(t.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    let mut sorted = receipts.clone();
    sorted.sort();
    assert_eq!(receipts, sorted);
    assert_eq!(
        count(
            &t.db,
            "SELECT COUNT(*) FROM intake_attempts WHERE state = 'done' AND attempts = 1"
        )
        .await,
        10,
        "each counted once and finished"
    );
});

both_backends!(
    a_message_tried_before_is_filed_in_its_place_with_one_more_attempt,
    |t| {
        let mails: Vec<Vec<u8>> = (0..6).map(mail).collect();
        // Message 3 was being read when a process died (its attempt counted,
        // never finished): its blob and attempt row are there already.
        tried_before(&t, 3, &mails[3]).await;
        assert_eq!(drain(&t, &mails, 32).await, 6);
        let expected: Vec<String> = (0..6).map(|n| format!("batch-{n}@tokyo")).collect();
        assert_eq!(filing_order(&t).await, expected, "still in arrival order");
        let mut attempts = Vec::new();
        for raw in &mails {
            let row =
                sqlx::query("SELECT state, attempts FROM intake_attempts WHERE raw_sha256 = $1")
                    .bind(sha256_hex(raw))
                    .fetch_one(t.db.pool())
                    .await
                    .unwrap();
            attempts.push((row.get::<String, _>(0), row.get::<i64, _>(1)));
        }
        let expected: Vec<(String, i64)> = (0..6)
            .map(|n| ("done".to_string(), if n == 3 { 2 } else { 1 }))
            .collect();
        assert_eq!(attempts, expected);
    }
);

both_backends!(
    the_same_bytes_twice_in_one_batch_are_filed_and_answered_once,
    |t| {
        let intake = Intake::new(t.db.clone(), &settings(&t.data_dir(), 32)).unwrap();
        let now = chrono::Utc::now().fixed_offset();
        let batch: Vec<Arrived> = [mail(1), mail(2), mail(1)]
            .into_iter()
            .map(|raw| Arrived {
                raw,
                received_at: now,
            })
            .collect();
        let results = intake.process_batch(&batch).await;
        let dispositions: Vec<Disposition> = results
            .into_iter()
            .map(|r| r.unwrap().disposition)
            .collect();
        assert_eq!(
            dispositions,
            [
                Disposition::Accepted,
                Disposition::Accepted,
                Disposition::AlreadyProcessed
            ]
        );
        assert_eq!(count(&t.db, "SELECT COUNT(*) FROM requests").await, 2);
        assert_eq!(count(&t.db, "SELECT COUNT(*) FROM outbox").await, 2);
    }
);

/// When each message's attempt was first counted, and when it was filed.
async fn counted_and_filed(t: &common::db::TestDb, raw: &[u8]) -> (String, String) {
    let row = sqlx::query(
        "SELECT a.first_at, m.processed_at FROM intake_attempts a \
         JOIN mail_messages m ON m.raw_sha256 = a.raw_sha256 WHERE a.raw_sha256 = $1",
    )
    .bind(sha256_hex(raw))
    .fetch_one(t.db.pool())
    .await
    .unwrap();
    (row.get(0), row.get(1))
}

both_backends!(
    the_next_batch_is_read_while_one_is_filed_but_never_across_a_message_tried_before,
    |t| {
        let mails: Vec<Vec<u8>> = (0..16).map(mail).collect();
        // Message 9 was being read when a process died: the third batch
        // (8–11) holds it and is taken in turn.
        tried_before(&t, 9, &mails[9]).await;
        assert_eq!(drain(&t, &mails, 4).await, 16);
        let expected: Vec<String> = (0..16).map(|n| format!("batch-{n}@tokyo")).collect();
        assert_eq!(filing_order(&t).await, expected);
        let mut times = Vec::new();
        for raw in &mails {
            times.push(counted_and_filed(&t, raw).await);
        }
        // The second batch (4–7) was received (its attempts counted) before
        // the first (0–3) was filed: they overlapped.
        assert!(
            times[4].0 < times[3].1,
            "message 4 must be counted before message 3 is filed: counted {}, filed {}",
            times[4].0,
            times[3].1
        );
        // Nothing of the fourth batch (12–15) was counted before the third
        // was filed: had it been, a process dying on message 9 again would
        // count an attempt against each of them.
        for n in 12..16 {
            assert!(
                times[n].0 > times[11].1,
                "message {n} must be counted after message 11 was filed: counted {}, filed {}",
                times[n].0,
                times[11].1
            );
        }
    }
);

both_backends!(
    after_an_outage_the_batch_read_ahead_is_left_in_new_with_its_attempt_taken_back,
    |t| {
        // The database refuses message 1 (a trigger): filing the first batch
        // (0–3) hits an outage while the second (4–7) is already counted and
        // read. The scan stops without filing the second (each message would
        // wait out the outage), and leaves it in new/.
        t.refuse_subject("refuse_one", "batch 1").await;
        let mails: Vec<Vec<u8>> = (0..8).map(mail).collect();
        let source = delivered(&t, &mails, 4);
        let err = source.drain(&Shutdown::never()).await.unwrap_err();
        assert!(err.is_temporary(), "{err}");
        let waiting = std::fs::read_dir(t.data_dir().join("inbox/new"))
            .unwrap()
            .count();
        assert_eq!(waiting, 5, "message 1 and the whole second batch wait");
        assert_eq!(
            filing_order(&t).await,
            ["batch-0@tokyo", "batch-2@tokyo", "batch-3@tokyo"]
        );
        // The outage ends: everything is filed, and the second batch's
        // messages carry one attempt each, not two.
        t.stop_refusing("refuse_one").await;
        let drained = source.drain(&Shutdown::never()).await.unwrap();
        assert_eq!(drained.processed, 5);
        assert_eq!(count(&t.db, "SELECT COUNT(*) FROM requests").await, 8);
        for raw in &mails[4..] {
            let attempts: i64 =
                sqlx::query("SELECT attempts FROM intake_attempts WHERE raw_sha256 = $1")
                    .bind(sha256_hex(raw))
                    .fetch_one(t.db.pool())
                    .await
                    .unwrap()
                    .get(0);
            assert_eq!(attempts, 1);
        }
    }
);

both_backends!(
    a_drain_stopped_midway_files_every_batch_it_counted_and_leaves_the_rest_uncounted,
    |t| {
        // Shutdown comes while the drain runs. Batches overlap (one read
        // while the one before is filed and the one after it received), so
        // when the scan stops, up to two batches are counted but not filed:
        // both must be filed before it returns, or their messages would
        // carry an attempt too many into the next scan.
        let mails: Vec<Vec<u8>> = (0..40).map(mail).collect();
        let source = delivered(&t, &mails, 4);
        let (trigger, shutdown) = Shutdown::new();
        let stopper = async {
            while count(&t.db, "SELECT COUNT(*) FROM requests").await == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            trigger.trigger();
        };
        let (drained, ()) = tokio::join!(source.drain(&shutdown), stopper);
        let drained = drained.unwrap();
        assert!(
            drained.processed < 40,
            "the drain stopped early ({} processed)",
            drained.processed
        );
        let counted = count(&t.db, "SELECT COUNT(*) FROM intake_attempts").await;
        let filed = count(&t.db, "SELECT COUNT(*) FROM requests").await;
        assert_eq!(
            counted, filed,
            "every message counted is filed when the scan returns"
        );
        assert_eq!(filed as usize, drained.processed);
        let waiting = std::fs::read_dir(t.data_dir().join("inbox/new"))
            .unwrap()
            .count();
        assert_eq!(waiting, 40 - drained.processed);
        // The next scan files the rest, each with its first attempt.
        let rest = source.drain(&Shutdown::never()).await.unwrap();
        assert_eq!(rest.processed, waiting);
        assert_eq!(count(&t.db, "SELECT COUNT(*) FROM requests").await, 40);
        assert_eq!(
            count(
                &t.db,
                "SELECT COUNT(*) FROM intake_attempts WHERE attempts = 1 AND state = 'done'"
            )
            .await,
            40
        );
    }
);

/// When PostgreSQL last analysed `table` (`None`: never, as far as the
/// statistics collector has told).
async fn analysed(t: &common::db::TestDb, table: &str) -> Option<String> {
    sqlx::query(
        "SELECT CAST(GREATEST(last_analyze, last_autoanalyze) AS TEXT) FROM pg_stat_user_tables \
         WHERE relname = $1",
    )
    .bind(table)
    .fetch_one(t.db.pool())
    .await
    .unwrap()
    .get(0)
}

// Multi-threaded, as `both_backends!`: `TestDb`'s drop closes the pool
// from another thread, which waits on the refresh's connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_growing_queue_on_postgresql_gets_fresh_planner_statistics() {
    // The foreign-key checks' plans PostgreSQL caches per connection were
    // made while the fresh tables held a few rows (sequential scans): the
    // 1,000th message filed refreshes the statistics, so they are made
    // again. Before, the checks read the whole growing table until
    // autovacuum came by.
    let t = common::db::TestDb::postgres().await;
    assert_eq!(analysed(&t, "blobs").await, None);
    t.db.note_filed(999);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(analysed(&t, "blobs").await, None, "not before 1,000");
    t.db.note_filed(1);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    for table in [
        "blobs",
        "mail_messages",
        "intake_attempts",
        "requests",
        "outbox",
    ] {
        while analysed(&t, table).await.is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "{table} was not analysed after 1,000 messages"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
