//! The IMAP source in batches (issue 15) against a real Dovecot on
//! loopback: a backlog appended while the gateway was down goes through
//! `Intake::process_batch` in chunks of `[intake] batch_size`, filed in
//! arrival order, each message answered once and moved to the folder of
//! its outcome only after the commit that filed it; a lone new message is
//! still handled at once; and a watcher stopped dead between the commit
//! and the moves (or told after the commit that it failed) neither files
//! nor answers anything twice when it starts again.

mod common;
#[path = "imap_lab/mod.rs"]
mod lab;

use common::db::TestDb;
use common::maillab::MailLab;
use lab::{Running, append, append_all, count, fast_options, folder_count, plain_mail, sheet_mail};
use sos_intake::config::Tls;
use sos_intake::mailbox::imap::{
    Arrived, Destination, MessageSink, Phase, SinkError, Watcher, checkpoint,
};
use sos_intake::pipeline::{Intake, Shutdown};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// A plain mail from an address no prefecture registered: quarantined,
/// never answered (→ the quarantine folder).
fn stranger_mail(n: usize) -> Vec<u8> {
    format!(
        "From: stranger{n}@example.com\r\nTo: sos-busshi@mhlw.go.jp\r\nSubject: hello {n}\r\n\
         Date: Fri, 20 Nov 2026 09:00:00 +0900\r\nMessage-ID: <stranger-{n}@example.com>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nこんにちは（{n}）。\r\n"
    )
    .into_bytes()
}

/// What a test message should become.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A valid sheet from Tokyo: filed, answered, 処理済.
    Sheet,
    /// No sheet, from Osaka: answered with an error, エラー.
    Plain,
    /// An unknown sender: quarantined, not answered, 隔離.
    Stranger,
}

impl Kind {
    fn folder(self) -> &'static str {
        match self {
            Kind::Sheet => "処理済",
            Kind::Plain => "エラー",
            Kind::Stranger => "隔離",
        }
    }

    fn answered(self) -> bool {
        self != Kind::Stranger
    }
}

/// `n` test messages cycling sheet, plain, stranger: (Message-ID, kind, raw).
fn mixed(n: usize) -> Vec<(String, Kind, Vec<u8>)> {
    (0..n)
        .map(|i| match i % 3 {
            0 => {
                let id = format!("batch-sheet-{i}@fukushi.metro.tokyo.lg.jp");
                let raw = sheet_mail(&id, 0);
                (id, Kind::Sheet, raw)
            }
            1 => (
                format!("imap-test-{i}@pref.osaka.lg.jp"),
                Kind::Plain,
                plain_mail(i),
            ),
            _ => (
                format!("stranger-{i}@example.com"),
                Kind::Stranger,
                stranger_mail(i),
            ),
        })
        .collect()
}

/// The Message-IDs (without brackets) in `folder`, in UID order.
async fn message_ids_in(server: &MailLab, folder: &str) -> Vec<String> {
    use futures::TryStreamExt;
    let mut s = lab::client(server).await;
    let wire = sos_intake::mailbox::imap::utf7::encode(folder);
    let mailbox = s.examine(&wire).await.expect("EXAMINE");
    if mailbox.exists == 0 {
        s.logout().await.ok();
        return Vec::new();
    }
    let mut found: Vec<(u32, String)> = s
        .uid_fetch("1:*", "(UID BODY.PEEK[])")
        .await
        .expect("UID FETCH")
        .try_collect::<Vec<_>>()
        .await
        .expect("UID FETCH")
        .iter()
        .map(|f| {
            let raw = String::from_utf8_lossy(f.body().unwrap_or_default()).into_owned();
            let id = raw
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("Message-ID")
                        .then(|| value.trim().trim_matches(['<', '>']).to_string())
                })
                .unwrap_or_default();
            (f.uid.unwrap_or(0), id)
        })
        .collect();
    s.logout().await.ok();
    found.sort();
    found.into_iter().map(|(_, id)| id).collect()
}

/// The pipeline with `[intake] batch_size = size` over the test database.
fn intake_with_batch(t: &TestDb, size: usize) -> Intake {
    let text = format!("{}\n[intake]\nbatch_size = {size}\n", lab::CONFIG);
    let config = sos_intake::config::Config::parse(&text).expect("test config");
    let settings = sos_intake::config::Settings::resolve(config, Some(t.dir.path().to_path_buf()));
    Intake::new(t.db.clone(), &settings)
        .expect("intake")
        .with_source("imap")
}

/// A watcher over any sink, running in the background.
struct Started<S: MessageSink + 'static> {
    watcher: Arc<Watcher<S>>,
    trigger: sos_intake::pipeline::ShutdownTrigger,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn start<S: MessageSink + 'static>(server: &MailLab, t: &TestDb, sink: S) -> Started<S> {
    let watcher = Arc::new(
        Watcher::new(&server.imap_config(Tls::Implicit), t.db.clone(), sink)
            .expect("watcher")
            .with_options(fast_options()),
    );
    let (trigger, shutdown) = Shutdown::new();
    let w = watcher.clone();
    let task = tokio::spawn(async move { w.run(shutdown).await });
    Started {
        watcher,
        trigger,
        task,
    }
}

async fn wait_status<S: MessageSink + 'static>(
    started: &Started<S>,
    what: &str,
    check: impl Fn(&sos_intake::mailbox::imap::Status) -> bool,
) {
    let status = started.watcher.status();
    lab::wait_until(Duration::from_secs(120), what, || {
        let ok = check(&status.borrow());
        async move { ok }
    })
    .await;
}

/// Every recorded message in filing order: (Message-ID, disposition,
/// replies queued for it).
async fn recorded(t: &TestDb) -> Vec<(String, String, i64)> {
    use sqlx::Row;
    sqlx::query(
        "SELECT m.message_id, m.disposition, \
         (SELECT COUNT(*) FROM outbox o WHERE o.mail_message_id = m.id) \
         FROM mail_messages m ORDER BY m.id",
    )
    .fetch_all(t.db.pool())
    .await
    .expect("mail_messages")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

/// Every message of `mail` recorded once, in order, answered once when it
/// should be, each in its folder (in arrival order there too), the inbox
/// empty, the checkpoint at the last UID and no move owed.
async fn assert_each_once_in_its_folder(
    server: &MailLab,
    t: &TestDb,
    key: &str,
    mail: &[(String, Kind, Vec<u8>)],
) {
    let rows = recorded(t).await;
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let expected: Vec<&str> = mail.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(
        ids, expected,
        "each message recorded once, in arrival order"
    );
    for ((id, disposition, replies), (_, kind, _)) in rows.iter().zip(mail) {
        let want = i64::from(kind.answered());
        assert_eq!(
            *replies, want,
            "{id} ({disposition}) answered {replies} times"
        );
    }
    let sheets = mail.iter().filter(|m| m.1 == Kind::Sheet).count();
    assert_eq!(
        count(&t.db, "SELECT COUNT(*) FROM requests").await,
        sheets as i64,
        "each sheet filed once"
    );
    assert_eq!(
        count(
            &t.db,
            "SELECT COUNT(*) FROM (SELECT source_message_sha256 FROM requests \
             GROUP BY source_message_sha256 HAVING COUNT(*) > 1) twice"
        )
        .await,
        0,
        "no message filed twice"
    );
    // Requests are numbered in the order of their mail.
    use sqlx::Row;
    let order: Vec<String> = sqlx::query(
        "SELECT m.message_id FROM requests r JOIN mail_messages m \
         ON m.raw_sha256 = r.source_message_sha256 ORDER BY r.id",
    )
    .fetch_all(t.db.pool())
    .await
    .expect("requests")
    .iter()
    .map(|r| r.get(0))
    .collect();
    let sheet_ids: Vec<String> = mail
        .iter()
        .filter(|m| m.1 == Kind::Sheet)
        .map(|m| m.0.clone())
        .collect();
    assert_eq!(order, sheet_ids, "sheets filed in arrival order");
    for kind in [Kind::Sheet, Kind::Plain, Kind::Stranger] {
        let want: Vec<String> = mail
            .iter()
            .filter(|m| m.1 == kind)
            .map(|m| m.0.clone())
            .collect();
        assert_eq!(
            message_ids_in(server, kind.folder()).await,
            want,
            "{kind:?} mail in {}, in arrival order",
            kind.folder()
        );
    }
    assert_eq!(
        folder_count(server, "INBOX").await.0,
        0,
        "the inbox is emptied"
    );
    let cp = checkpoint::load(&t.db, key)
        .await
        .expect("checkpoint")
        .expect("a checkpoint");
    assert_eq!(cp.last_uid as usize, mail.len());
    assert_eq!(
        checkpoint::pending_moves(&t.db, key, cp.uidvalidity)
            .await
            .expect("owed moves"),
        vec![],
        "no move owed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backlog_while_down_is_filed_in_batches_in_order_once_each_then_idle_is_immediate() {
    let server = MailLab::start_dovecot();
    let t = TestDb::sqlite().await;
    let mut mail = mixed(12);
    append_all(&server, "INBOX", mail.iter().map(|m| m.2.clone())).await;

    // Batches of five: the twelve waiting messages go as 5 + 5 + 2.
    let started = start(&server, &t, intake_with_batch(&t, 5));
    wait_status(&started, "12 handled, idling", |s| {
        s.handled >= 12 && s.phase == Phase::Idle
    })
    .await;
    let status = started.watcher.status().borrow().clone();
    assert_eq!(status.handled, 12);
    assert_eq!(
        status.batches, 3,
        "the backlog went in batches of five: {status:?}"
    );
    let key = started.watcher.key().to_string();
    assert_each_once_in_its_folder(&server, &t, &key, &mail).await;

    // A lone new message does not wait for a batch to fill: it is handled
    // on its own as soon as IDLE reports it.
    let id = "batch-lone@fukushi.metro.tokyo.lg.jp".to_string();
    let raw = sheet_mail(&id, 0);
    let appended = std::time::Instant::now();
    append(&server, "INBOX", &raw).await;
    wait_status(&started, "the lone message handled", |s| s.handled >= 13).await;
    eprintln!(
        "lone message: appended → handled in {:?}",
        appended.elapsed()
    );
    let status = started.watcher.status().borrow().clone();
    assert_eq!(
        status.batches, 4,
        "alone, in a batch of its own: {status:?}"
    );
    assert_eq!(status.sessions, 1, "on the same connection, woken by IDLE");
    mail.push((id, Kind::Sheet, raw));
    wait_status(&started, "idling again", |s| s.phase == Phase::Idle).await;
    assert_each_once_in_its_folder(&server, &t, &key, &mail).await;
    started.trigger.trigger();
    started.task.await.expect("task").expect("watcher");
}

/// The real pipeline, but after the first batch has committed the watcher
/// never hears back (`Hang`: the process stops dead before the checkpoint
/// and the moves) or hears a temporary failure (`Fail`: the connection
/// broke as the commit answered).
struct CommitThen {
    intake: Intake,
    hang: bool,
    committed: Arc<AtomicBool>,
    batches: Arc<AtomicUsize>,
    inbox_before_commit: Arc<AtomicUsize>,
    server: Arc<MailLab>,
}

impl MessageSink for CommitThen {
    async fn process(
        &self,
        raw: Vec<u8>,
        received_at: chrono::DateTime<chrono::FixedOffset>,
    ) -> Result<Destination, SinkError> {
        MessageSink::process(&self.intake, raw, received_at).await
    }

    async fn process_batch(&self, batch: Vec<Arrived>) -> Vec<Result<Destination, SinkError>> {
        // Nothing of the batch has left the inbox before it is filed.
        if self.batches.fetch_add(1, Ordering::SeqCst) == 0 {
            let waiting = folder_count(&self.server, "INBOX").await.0;
            self.inbox_before_commit
                .store(waiting as usize, Ordering::SeqCst);
        }
        let results = MessageSink::process_batch(&self.intake, batch).await;
        if self.committed.swap(true, Ordering::SeqCst) {
            return results;
        }
        assert!(results.iter().all(Result::is_ok), "the first batch files");
        if self.hang {
            std::future::pending::<()>().await;
        }
        results
            .into_iter()
            .map(|_| {
                Err(SinkError::Temporary(anyhow::anyhow!(
                    "the connection broke as the commit answered"
                )))
            })
            .collect()
    }

    fn batch_size(&self) -> usize {
        4
    }
}

async fn commit_then_stop(hang: bool) {
    let server = Arc::new(MailLab::start_dovecot());
    let t = TestDb::sqlite().await;
    let mail = mixed(7);
    append_all(&server, "INBOX", mail.iter().map(|m| m.2.clone())).await;
    let committed = Arc::new(AtomicBool::new(false));
    let inbox_before_commit = Arc::new(AtomicUsize::new(0));
    let sink = CommitThen {
        intake: lab::intake(&t.db, t.dir.path()),
        hang,
        committed: committed.clone(),
        batches: Arc::new(AtomicUsize::new(0)),
        inbox_before_commit: inbox_before_commit.clone(),
        server: server.clone(),
    };
    let first = start(&server, &t, sink);
    let key = first.watcher.key().to_string();
    lab::wait_until(
        Duration::from_secs(60),
        "the first batch committed",
        || async { committed.load(Ordering::SeqCst) },
    )
    .await;
    assert_eq!(
        inbox_before_commit.load(Ordering::SeqCst),
        7,
        "nothing moved before its commit"
    );
    assert_eq!(
        recorded(&t).await.len(),
        4,
        "the first batch of four is filed"
    );
    if hang {
        // Stopped dead after the commit: no checkpoint, no move; the lease
        // is left to expire as after a kill.
        first.task.abort();
        let _ = first.task.await;
        assert_eq!(folder_count(&server, "INBOX").await.0, 7);
        assert_eq!(
            checkpoint::load(&t.db, &key)
                .await
                .expect("checkpoint")
                .map_or(0, |c| c.last_uid),
            0,
            "no checkpoint past a batch whose results never came back"
        );
        // A new gateway (the real pipeline, default batches) takes over.
        let second = Running::start(&server, &t, Tls::Implicit, fast_options());
        second.wait_handled(7, Duration::from_secs(120)).await;
        second
            .wait_phase(Phase::Idle, Duration::from_secs(60))
            .await;
        second.stop().await;
    } else {
        // Told the batch failed after it committed: the watcher backs off,
        // reconnects, fetches the same messages again, and the pipeline
        // recognises the four it filed.
        wait_status(&first, "all handled, idling", |s| {
            s.handled >= 7 && s.phase == Phase::Idle
        })
        .await;
        let status = first.watcher.status().borrow().clone();
        assert!(
            status.sessions >= 2,
            "reconnected after the failure: {status:?}"
        );
        first.trigger.trigger();
        first.task.await.expect("task").expect("watcher");
    }
    assert_each_once_in_its_folder(&server, &t, &key, &mail).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_stopped_dead_between_commit_and_moves_files_and_answers_once() {
    commit_then_stop(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_reported_after_the_commit_files_and_answers_once() {
    commit_then_stop(false).await;
}
