//! The IMAP source against a real Dovecot on loopback (the mail lab):
//! catch-up of a backlog, IDLE, a server killed and restarted mid-IDLE, a
//! UIDVALIDITY reset, servers without MOVE / UIDPLUS / IDLE, refused moves,
//! unreadable messages, a hung server, a database outage, a message over
//! the size limit. Every test runs the real pipeline (`Intake`) on a fresh
//! database. 25 MB messages are in `imap_large.rs` (their memory figures
//! need a process of their own).

mod common;
#[path = "imap_lab/mod.rs"]
mod lab;

use common::db::TestDb;
use common::maillab::MailLab;
use lab::{
    Running, append, append_all, count, deliver_to_maildir, fast_options, folder_count, intake,
    messages, plain_mail, replies, sheet_mail, wait_until,
};
use sos_intake::config::Tls;
use sos_intake::mailbox::imap::{Phase, WatchOptions, Watcher, checkpoint, lease};
use sos_intake::pipeline::{Intake, Shutdown};
use std::sync::Arc;
use std::time::Duration;

/// Waits (up to the usual 30 s) until the watcher idles on the inbox.
async fn wait_idle(running: &Running) {
    running
        .wait_phase(Phase::Idle, Duration::from_secs(30))
        .await;
}

/// The stored checkpoint of mailbox `key` (there must be one) and the
/// folder moves still owed under its UIDVALIDITY.
async fn checkpoint_and_owed_moves(
    t: &TestDb,
    key: &str,
) -> (checkpoint::Checkpoint, Vec<checkpoint::PendingMove>) {
    let cp = checkpoint::load(&t.db, key)
        .await
        .unwrap()
        .expect("checkpoint");
    let owed = checkpoint::pending_moves(&t.db, key, cp.uidvalidity)
        .await
        .unwrap();
    (cp, owed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backlog_of_1000_is_caught_up_once_each() {
    let server = MailLab::start_dovecot();
    append_all(&server, "INBOX", (0..1000).map(plain_mail)).await;
    assert_eq!(folder_count(&server, "INBOX").await.0, 1000);
    let t = TestDb::sqlite().await;
    let running = Running::start(&server, &t, Tls::Implicit, fast_options());
    running.wait_handled(1000, Duration::from_secs(300)).await;
    wait_idle(&running).await;
    let key = running.watcher.key().to_string();
    running.stop().await;

    assert_eq!(messages(&t).await, 1000, "each message filed once");
    assert_eq!(replies(&t).await, 1000, "each message answered once");
    assert_eq!(
        count(
            &t.db,
            "SELECT COUNT(DISTINCT message_id) FROM mail_messages"
        )
        .await,
        1000
    );
    assert_eq!(
        folder_count(&server, "INBOX").await,
        (0, 0),
        "the inbox is emptied by moves"
    );
    assert_eq!(
        folder_count(&server, "エラー").await.0,
        1000,
        "no-sheet mail goes to the error folder"
    );
    let (cp, owed) = checkpoint_and_owed_moves(&t, &key).await;
    assert_eq!(cp.last_uid, 1000);
    assert_eq!(owed, vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_appended_while_idling_is_handled_by_idle_not_polling() {
    let server = MailLab::start_dovecot();
    let t = TestDb::sqlite().await;
    // Polling and IDLE renewal are an hour away: only the server's IDLE
    // notification can wake the watcher in time.
    let options = WatchOptions {
        poll_interval: Duration::from_secs(3600),
        idle_renew: Duration::from_secs(3600),
        ..fast_options()
    };
    let running = Running::start(&server, &t, Tls::Starttls, options);
    wait_idle(&running).await;
    let started = std::time::Instant::now();
    append(
        &server,
        "INBOX",
        &sheet_mail("idle-1@fukushi.metro.tokyo.lg.jp", 0),
    )
    .await;
    running.wait_handled(1, Duration::from_secs(20)).await;
    eprintln!("appended → handled in {:?}", started.elapsed());
    wait_idle(&running).await;
    assert_eq!(
        running.status().sessions,
        1,
        "handled on the same connection"
    );
    // This watcher holds the mailbox's lease while it runs and hands it
    // back when it stops, so another gateway can take over at once.
    let lease = format!("imap:{}", running.watcher.key());
    let holder = lease::current_holder(&t.db, &lease)
        .await
        .unwrap()
        .expect("held");
    assert!(holder.remaining_ms > 0, "{holder:?}");
    running.stop().await;
    assert_eq!(
        lease::current_holder(&t.db, &lease).await.unwrap(),
        None,
        "released on shutdown"
    );

    assert_eq!(
        count(
            &t.db,
            "SELECT COUNT(*) FROM mail_messages WHERE disposition = 'accepted'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&t.db, "SELECT COUNT(*) FROM requests").await,
        1,
        "the sheet is filed"
    );
    assert_eq!(replies(&t).await, 1);
    assert_eq!(
        folder_count(&server, "処理済").await.0,
        1,
        "accepted mail goes to the done folder"
    );
    assert_eq!(folder_count(&server, "INBOX").await.0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_idle_is_reconnected_and_mail_meanwhile_is_handled() {
    let mut server = MailLab::start_dovecot();
    let t = TestDb::sqlite().await;
    let running = Running::start(&server, &t, Tls::Implicit, fast_options());
    wait_idle(&running).await;
    append(&server, "INBOX", &plain_mail(1)).await;
    running.wait_handled(1, Duration::from_secs(20)).await;
    wait_idle(&running).await;

    server.crash_dovecot();
    // The watcher notices and retries against a closed port.
    running
        .wait_phase(Phase::Backoff, Duration::from_secs(30))
        .await;
    deliver_to_maildir(&server, "1700000000.M1P1.lab", &plain_mail(2));
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.start_dovecot_again();
    running.wait_handled(2, Duration::from_secs(30)).await;
    wait_idle(&running).await;
    append(&server, "INBOX", &plain_mail(3)).await;
    running.wait_handled(3, Duration::from_secs(20)).await;
    let status = running.status();
    running.stop().await;

    assert!(status.sessions >= 2, "reconnected: {status:?}");
    assert!(status.last_error.is_some());
    assert_eq!(messages(&t).await, 3, "each message once");
    assert_eq!(replies(&t).await, 3);
    assert_eq!(folder_count(&server, "エラー").await.0, 3);
    assert_eq!(folder_count(&server, "INBOX").await.0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uidvalidity_reset_rescans_without_filing_twice() {
    let mut server = MailLab::start_dovecot();
    let t = TestDb::sqlite().await;
    append_all(
        &server,
        "INBOX",
        [plain_mail(1), plain_mail(2), plain_mail(3)],
    )
    .await;
    let running = Running::start(&server, &t, Tls::Implicit, fast_options());
    running.wait_handled(3, Duration::from_secs(30)).await;
    wait_idle(&running).await;
    let key = running.watcher.key().to_string();
    running.stop().await;
    let before = checkpoint::load(&t.db, &key)
        .await
        .unwrap()
        .expect("checkpoint");
    assert_eq!(before.last_uid, 3);

    // The server loses its INBOX index (a restore, a migration): UIDs start
    // again at 1 under a new UIDVALIDITY. Message 2 comes back (restored
    // from a backup, already handled) and message 4 is new; both get UIDs
    // at or below the old checkpoint.
    server.stop_dovecot();
    lab::forget_inbox_uids(&server);
    server.start_dovecot_again();
    server.doveadm(&[
        "mailbox",
        "update",
        "-u",
        "test",
        "--uid-validity",
        "4242",
        "INBOX",
    ]);
    append_all(&server, "INBOX", [plain_mail(2), plain_mail(4)]).await;

    let running = Running::start(&server, &t, Tls::Implicit, fast_options());
    running.wait_handled(2, Duration::from_secs(30)).await;
    wait_idle(&running).await;
    running.stop().await;

    let after = checkpoint::load(&t.db, &key)
        .await
        .unwrap()
        .expect("checkpoint");
    assert_eq!(after.uidvalidity, 4242);
    assert_eq!(after.last_uid, 2);
    assert_eq!(
        messages(&t).await,
        4,
        "message 2 is recognised, message 4 is new"
    );
    assert_eq!(replies(&t).await, 4, "message 2 is not answered again");
    assert_eq!(folder_count(&server, "INBOX").await.0, 0);
    assert_eq!(
        folder_count(&server, "エラー").await.0,
        5,
        "the restored copy is filed with the others"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_without_move_gets_copy_deleted_and_uid_expunge() {
    let server = MailLab::start_dovecot_without(&["MOVE"]);
    let t = TestDb::sqlite().await;
    append_all(
        &server,
        "INBOX",
        [
            plain_mail(1),
            sheet_mail("nomove@fukushi.metro.tokyo.lg.jp", 0),
        ],
    )
    .await;
    let running = Running::start(&server, &t, Tls::Implicit, fast_options());
    running.wait_handled(2, Duration::from_secs(30)).await;
    wait_idle(&running).await;
    running.stop().await;
    assert_eq!(
        folder_count(&server, "INBOX").await,
        (0, 0),
        "copied, flagged and expunged by UID"
    );
    assert_eq!(folder_count(&server, "エラー").await.0, 1);
    assert_eq!(folder_count(&server, "処理済").await.0, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_without_move_or_uidplus_keeps_the_flagged_original() {
    // Without UIDPLUS a plain EXPUNGE would also remove mail someone else
    // flagged: the original stays, flagged \Deleted, and is not handled again.
    let server = MailLab::start_dovecot_without(&["MOVE", "UIDPLUS"]);
    let t = TestDb::sqlite().await;
    append(&server, "INBOX", &plain_mail(1)).await;
    let running = Running::start(&server, &t, Tls::Implicit, fast_options());
    running.wait_handled(1, Duration::from_secs(30)).await;
    wait_idle(&running).await;
    append(&server, "INBOX", &plain_mail(2)).await;
    running.wait_handled(2, Duration::from_secs(30)).await;
    wait_idle(&running).await;
    running.stop().await;
    assert_eq!(
        folder_count(&server, "INBOX").await,
        (2, 2),
        "both originals kept, flagged"
    );
    assert_eq!(folder_count(&server, "エラー").await.0, 2);
    assert_eq!(messages(&t).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_without_idle_is_polled() {
    let server = MailLab::start_dovecot_without(&["IDLE"]);
    let t = TestDb::sqlite().await;
    let running = Running::start(&server, &t, Tls::Implicit, fast_options());
    running
        .wait_phase(Phase::Polling, Duration::from_secs(30))
        .await;
    append(&server, "INBOX", &plain_mail(1)).await;
    running.wait_handled(1, Duration::from_secs(30)).await;
    assert_ne!(running.status().phase, Phase::Idle);
    running.stop().await;
    assert_eq!(folder_count(&server, "エラー").await.0, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_server_times_out_and_is_reconnected_when_it_answers_again() {
    let server = MailLab::start_dovecot();
    let t = TestDb::sqlite().await;
    // A server silent for a second while idling is checked with DONE; a
    // command unanswered for two seconds ends the session.
    let options = WatchOptions {
        idle_silence: Duration::from_secs(1),
        command_timeout: Duration::from_secs(2),
        ..fast_options()
    };
    let running = Running::start(&server, &t, Tls::Implicit, options);
    wait_idle(&running).await;

    server.pause_dovecot();
    running
        .wait_phase(Phase::Backoff, Duration::from_secs(30))
        .await;
    let error = running.status().last_error.unwrap_or_default();
    assert!(error.contains("時間切れ"), "{error}");
    // Mail delivered locally meanwhile; the server comes back.
    deliver_to_maildir(&server, "1700000001.M2P2.lab", &plain_mail(1));
    server.resume_dovecot();
    running.wait_handled(1, Duration::from_secs(60)).await;
    wait_idle(&running).await;
    let status = running.status();
    running.stop().await;
    assert!(status.sessions >= 2, "{status:?}");
    assert_eq!(messages(&t).await, 1);
    assert_eq!(folder_count(&server, "エラー").await.0, 1);
}

/// Deletes `folder` on the server (as a careless administrator might).
async fn delete_folder(server: &MailLab, folder: &str) {
    let mut s = lab::client(server).await;
    s.delete(sos_intake::mailbox::imap::utf7::encode(folder))
        .await
        .expect("DELETE");
    s.logout().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_move_is_retried_and_never_handles_the_mail_again() {
    // An ASCII folder (the server's NO is read as such) and the Japanese
    // default (Dovecot's NO carries raw UTF-8 the client cannot parse, so
    // the session ends and the move is retried after reconnecting).
    for done in ["Done", "処理済"] {
        let server = MailLab::start_dovecot();
        let t = TestDb::sqlite().await;
        let mut config = server.imap_config(Tls::Implicit);
        config.done_folder = done.to_string();
        let watcher = Watcher::new(&config, t.db.clone(), intake(&t.db, t.dir.path()))
            .expect("watcher")
            .with_options(fast_options());
        let watcher = Arc::new(watcher);
        let status = watcher.status();
        let (trigger, shutdown) = Shutdown::new();
        let w = watcher.clone();
        let task = tokio::spawn(async move { w.run(shutdown).await });
        let phase = |p: Phase| {
            let status = status.clone();
            move || {
                let status = status.clone();
                async move { status.borrow().phase == p }
            }
        };
        wait_until(Duration::from_secs(30), "idle", phase(Phase::Idle)).await;
        delete_folder(&server, done).await;
        append(
            &server,
            "INBOX",
            &sheet_mail(
                &format!("refused-{}@fukushi.metro.tokyo.lg.jp", done.len()),
                0,
            ),
        )
        .await;
        wait_until(Duration::from_secs(30), "moved after all", || async {
            folder_count(&server, done).await.0 == 1
        })
        .await;
        wait_until(Duration::from_secs(30), "idle again", phase(Phase::Idle)).await;
        trigger.trigger();
        task.await.unwrap().unwrap();
        assert_eq!(folder_count(&server, "INBOX").await.0, 0, "{done}");
        assert_eq!(messages(&t).await, 1, "{done}: handled once");
        assert_eq!(replies(&t).await, 1, "{done}: answered once");
        let (_, owed) = checkpoint_and_owed_moves(&t, watcher.key()).await;
        assert_eq!(owed, vec![]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_time_is_the_internaldate_not_the_date_header() {
    let server = MailLab::start_dovecot();
    let t = TestDb::sqlite().await;
    // The Date header says 20 Nov 09:00 +0900; the server received it on
    // 2 Nov at 12:59:58 JST (an APPEND with an explicit INTERNALDATE).
    let mut s = lab::client(&server).await;
    s.append(
        "INBOX",
        None,
        Some("\"02-Nov-2026 12:59:58 +0900\""),
        sheet_mail("internaldate@fukushi.metro.tokyo.lg.jp", 0),
    )
    .await
    .expect("APPEND");
    s.logout().await.ok();
    let running = Running::start(&server, &t, Tls::Implicit, fast_options());
    running.wait_handled(1, Duration::from_secs(30)).await;
    running.stop().await;
    use sqlx::Row;
    let row = sqlx::query(
        "SELECT m.received_at, r.received_at, r.batch_date FROM mail_messages m, requests r",
    )
    .fetch_one(t.db.pool())
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>(0), "2026-11-02T03:59:58.000000Z");
    assert_eq!(row.get::<String, _>(1), "2026-11-02T03:59:58.000000Z");
    // Before 13:00 on a business day (Monday 2 Nov): that day's batch.
    assert_eq!(row.get::<String, _>(2), "2026-11-02");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_server_cannot_read_does_not_block_the_inbox() {
    let server = MailLab::start_dovecot();
    let t = TestDb::sqlite().await;
    append_all(
        &server,
        "INBOX",
        [plain_mail(1), plain_mail(2), plain_mail(3)],
    )
    .await;
    // Message 2's file becomes unreadable to Dovecot: FETCH fails with
    // "Internal error" and the server hangs up, every time.
    let maildir = server.maildir(common::maillab::USER);
    let mut broken = 0;
    for sub in ["new", "cur"] {
        for entry in std::fs::read_dir(maildir.join(sub))
            .into_iter()
            .flatten()
            .flatten()
        {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            if text.lines().any(|l| l == "Subject: test 2") {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o000))
                    .unwrap();
                broken += 1;
            }
        }
    }
    assert_eq!(broken, 1);
    let running = Running::start(&server, &t, Tls::Implicit, fast_options());
    running.wait_handled(2, Duration::from_secs(60)).await;
    running
        .wait_phase(Phase::Idle, Duration::from_secs(60))
        .await;
    let key = running.watcher.key().to_string();
    let status = running.status();
    running.stop().await;
    assert!(status.sessions >= 3, "retried before skipping: {status:?}");
    assert_eq!(messages(&t).await, 2, "messages 1 and 3 are filed");
    assert_eq!(replies(&t).await, 2);
    assert_eq!(
        checkpoint::load(&t.db, &key)
            .await
            .unwrap()
            .unwrap()
            .last_uid,
        3
    );
    let kept = folder_count(&server, "INBOX").await.0 + folder_count(&server, "エラー").await.0;
    assert_eq!(kept, 3, "the unreadable message is kept on the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_delays_mail_and_loses_none() {
    use sqlx::{Connection, Executor};
    let server = MailLab::start_dovecot();
    let t = TestDb::postgres().await;
    let running = Running::start(&server, &t, Tls::Implicit, fast_options());
    wait_idle(&running).await;
    // For three seconds every connection to the queue database is cut as
    // soon as it appears (a failover, a restart), while mail arrives.
    let name = t
        .url
        .rsplit('/')
        .next()
        .unwrap_or("")
        .split('?')
        .next()
        .unwrap_or("")
        .to_string();
    let admin = common::db::postgres_admin_url();
    let cutter = tokio::spawn(async move {
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("admin connection");
        let until = std::time::Instant::now() + Duration::from_secs(3);
        while std::time::Instant::now() < until {
            conn.execute(
                format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                )
                .as_str(),
            )
            .await
            .expect("terminate");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    for i in 0..5 {
        append(&server, "INBOX", &plain_mail(i)).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    cutter.await.unwrap();
    running.wait_handled(5, Duration::from_secs(90)).await;
    running
        .wait_phase(Phase::Idle, Duration::from_secs(60))
        .await;
    let status = running.status();
    running.stop().await;
    eprintln!("after the outage: {status:?}");
    assert_eq!(messages(&t).await, 5, "each message filed once");
    assert_eq!(replies(&t).await, 5, "each answered once");
    assert_eq!(folder_count(&server, "INBOX").await.0, 0);
    assert_eq!(folder_count(&server, "エラー").await.0, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_over_the_size_limit_is_fetched_partly_and_kept_whole_on_the_server() {
    const LIMIT: u64 = 200_000;
    let server = MailLab::start_dovecot();
    let t = TestDb::sqlite().await;
    let raw = sheet_mail("huge@fukushi.metro.tokyo.lg.jp", 1_000_000);
    append(&server, "INBOX", &raw).await;
    // CONFIG ends inside its [mail] table.
    let text = format!("{}max_message_bytes = {LIMIT}\n", lab::CONFIG);
    let settings = sos_intake::config::Settings::resolve(
        sos_intake::config::Config::parse(&text).expect("config"),
        Some(t.dir.path().to_path_buf()),
    );
    let intake = Intake::new(t.db.clone(), &settings)
        .expect("intake")
        .with_source("imap");
    let watcher = Watcher::new(&server.imap_config(Tls::Implicit), t.db.clone(), intake)
        .expect("watcher")
        .with_options(WatchOptions {
            max_fetch_bytes: LIMIT + 1,
            ..fast_options()
        });
    let watcher = Arc::new(watcher);
    let status = watcher.status();
    let (trigger, shutdown) = Shutdown::new();
    let w = watcher.clone();
    let task = tokio::spawn(async move { w.run(shutdown).await });
    wait_until(Duration::from_secs(30), "handled", || {
        let status = status.clone();
        async move { status.borrow().handled >= 1 }
    })
    .await;
    trigger.trigger();
    task.await.unwrap().unwrap();

    use sqlx::Row;
    let row = sqlx::query(
        "SELECT b.size, m.summary FROM mail_messages m JOIN blobs b ON b.sha256 = m.raw_sha256",
    )
    .fetch_one(t.db.pool())
    .await
    .unwrap();
    let stored: i64 = row.get(0);
    assert_eq!(stored as u64, LIMIT + 1, "only the limit (+1) was fetched");
    assert_eq!(replies(&t).await, 1, "answered (too large)");
    // The whole message is still on the server, in its folder.
    let mut s = lab::client(&server).await;
    let mut found = 0;
    for folder in ["処理済", "エラー", "隔離"] {
        let wire = sos_intake::mailbox::imap::utf7::encode(folder);
        if s.examine(&wire).await.map(|m| m.exists).unwrap_or(0) == 1 {
            use futures::TryStreamExt;
            let fetched: Vec<_> = s
                .fetch("1", "RFC822.SIZE")
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            assert_eq!(fetched[0].size, Some(raw.len() as u32));
            found += 1;
        }
    }
    assert_eq!(found, 1, "the message is in one folder, whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_that_cannot_be_created_does_not_stop_the_intake() {
    // Dovecot refuses '/' in a Maildir++ folder name: the error folder can
    // never exist. Mail is still filed and answered, once; what cannot be
    // moved stays in the inbox, handled.
    let server = MailLab::start_dovecot();
    let t = TestDb::sqlite().await;
    let mut config = server.imap_config(Tls::Implicit);
    config.error_folder = "エラー/不可".to_string();
    let watcher = Watcher::new(&config, t.db.clone(), intake(&t.db, t.dir.path()))
        .expect("watcher")
        .with_options(fast_options());
    let watcher = Arc::new(watcher);
    let status = watcher.status();
    let (trigger, shutdown) = Shutdown::new();
    let w = watcher.clone();
    let task = tokio::spawn(async move { w.run(shutdown).await });
    append_all(
        &server,
        "INBOX",
        [plain_mail(1), sheet_mail("ok@fukushi.metro.tokyo.lg.jp", 0)],
    )
    .await;
    let s = status.clone();
    wait_until(Duration::from_secs(30), "both handled", || {
        let s = s.clone();
        async move { s.borrow().handled >= 2 && s.borrow().phase == Phase::Idle }
    })
    .await;
    // New mail keeps coming in the same session.
    append(&server, "INBOX", &plain_mail(3)).await;
    let s = status.clone();
    wait_until(Duration::from_secs(30), "the third handled", || {
        let s = s.clone();
        async move { s.borrow().handled >= 3 && s.borrow().phase == Phase::Idle }
    })
    .await;
    let last_error = status.borrow().last_error.clone().unwrap_or_default();
    trigger.trigger();
    task.await.unwrap().unwrap();
    assert!(
        last_error.contains("「エラー/不可」を作成できません"),
        "{last_error}"
    );
    assert_eq!(messages(&t).await, 3, "each filed once");
    assert_eq!(replies(&t).await, 3, "each answered once");
    assert_eq!(
        folder_count(&server, "処理済").await.0,
        1,
        "the accepted one is filed away"
    );
    assert_eq!(
        folder_count(&server, "INBOX").await.0,
        2,
        "the others stay, handled"
    );
}
