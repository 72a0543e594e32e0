//! The IMAP source's database state on SQLite and PostgreSQL: checkpoints
//! that never move backwards, owed folder moves, and the lease that lets
//! exactly one gateway watch a mailbox.

mod common;

use sos_intake::mailbox::imap::checkpoint::{self, Checkpoint, PendingMove};
use sos_intake::mailbox::imap::lease::{Lease, Progress, current_holder};
use std::time::Duration;

const KEY: &str = "test@localhost:993/INBOX";

both_backends!(checkpoint_never_moves_backwards, |t| {
    assert_eq!(checkpoint::load(&t.db, KEY).await.unwrap(), None);
    checkpoint::reset(&t.db, KEY, 7).await.unwrap();
    assert_eq!(
        checkpoint::load(&t.db, KEY).await.unwrap(),
        Some(Checkpoint {
            uidvalidity: 7,
            last_uid: 0
        })
    );
    checkpoint::record_handled(&t.db, KEY, 7, 5, None)
        .await
        .unwrap();
    // A late record of an older UID (a retried message) keeps the position.
    checkpoint::record_handled(&t.db, KEY, 7, 3, None)
        .await
        .unwrap();
    assert_eq!(
        checkpoint::load(&t.db, KEY).await.unwrap(),
        Some(Checkpoint {
            uidvalidity: 7,
            last_uid: 5
        })
    );
    // Another mailbox is separate.
    assert_eq!(
        checkpoint::load(&t.db, "other@h:1/INBOX").await.unwrap(),
        None
    );
    // UIDs up to 2^32-1 fit.
    checkpoint::record_handled(&t.db, KEY, u32::MAX, u32::MAX, None)
        .await
        .unwrap();
    assert_eq!(
        checkpoint::load(&t.db, KEY).await.unwrap(),
        Some(Checkpoint {
            uidvalidity: u32::MAX,
            last_uid: u32::MAX
        })
    );
});

both_backends!(
    owed_moves_are_kept_until_done_and_dropped_on_uidvalidity_change,
    |t| {
        checkpoint::reset(&t.db, KEY, 7).await.unwrap();
        checkpoint::record_handled(&t.db, KEY, 7, 1, Some("処理済"))
            .await
            .unwrap();
        checkpoint::record_handled(&t.db, KEY, 7, 2, Some("エラー"))
            .await
            .unwrap();
        checkpoint::move_done(&t.db, KEY, 7, 1).await.unwrap();
        checkpoint::move_failed(&t.db, KEY, 7, 2).await.unwrap();
        assert_eq!(
            checkpoint::pending_moves(&t.db, KEY, 7).await.unwrap(),
            vec![PendingMove {
                uid: 2,
                folder: "エラー".into(),
                attempts: 1
            }]
        );
        assert_eq!(
            checkpoint::load(&t.db, KEY)
                .await
                .unwrap()
                .unwrap()
                .last_uid,
            2
        );
        // A new UIDVALIDITY: old UIDs mean nothing, the owed move goes too.
        checkpoint::reset(&t.db, KEY, 8).await.unwrap();
        assert_eq!(
            checkpoint::pending_moves(&t.db, KEY, 7).await.unwrap(),
            vec![]
        );
        assert_eq!(
            checkpoint::load(&t.db, KEY).await.unwrap(),
            Some(Checkpoint {
                uidvalidity: 8,
                last_uid: 0
            })
        );
    }
);

both_backends!(lease_has_one_holder_until_it_expires_or_is_released, |t| {
    let other = t.second_handle().await;
    let a = Lease::new(t.db.clone(), "imap:x", Duration::from_millis(1500));
    let b = Lease::new(other, "imap:x", Duration::from_millis(1500));
    assert_ne!(a.holder(), b.holder());
    assert!(a.try_acquire().await.unwrap());
    assert!(!b.try_acquire().await.unwrap(), "held by a");
    assert!(
        a.try_acquire().await.unwrap(),
        "re-taking one's own lease renews it"
    );
    assert!(a.renew().await.unwrap());
    let h = current_holder(&t.db, "imap:x").await.unwrap().unwrap();
    assert_eq!(h.holder, a.holder());
    assert!(h.remaining_ms > 0 && h.remaining_ms <= 1500, "{h:?}");

    // a stops renewing (a crash): once expired, b takes over and a's renewal fails.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert!(
        b.try_acquire().await.unwrap(),
        "expired lease is taken over"
    );
    assert!(
        !a.renew().await.unwrap(),
        "the old holder learns it lost the lease"
    );
    assert!(!a.try_acquire().await.unwrap());

    // A graceful stop hands over at once.
    b.release().await.unwrap();
    assert!(a.try_acquire().await.unwrap());
    // Another mailbox's lease is independent.
    let z = Lease::new(t.second_handle().await, "imap:z", Duration::from_secs(5));
    assert!(z.try_acquire().await.unwrap());
});

both_backends!(keep_returns_when_the_lease_is_taken_over, |t| {
    let a = Lease::new(t.db.clone(), "imap:y", Duration::from_secs(30));
    assert!(a.try_acquire().await.unwrap());
    // Someone forcibly takes it (an operator, or a holder whose clock ran on).
    sqlx::query("UPDATE imap_leases SET holder = 'intruder' WHERE name = 'imap:y'")
        .execute(t.db.pool())
        .await
        .unwrap();
    let progress = Progress::new(Duration::from_secs(60));
    tokio::time::timeout(
        Duration::from_secs(5),
        a.keep(Duration::from_millis(100), &progress),
    )
    .await
    .expect("keep notices the lost lease");
});

both_backends!(
    a_stuck_worker_stops_renewing_and_another_gateway_takes_over,
    |t| {
        let ttl = Duration::from_millis(800);
        let a = Lease::new(t.db.clone(), "imap:stall", ttl);
        let b = Lease::new(t.second_handle().await, "imap:stall", ttl);
        assert!(a.try_acquire().await.unwrap());
        let progress = Progress::new(Duration::from_millis(300));
        // Idle (not busy with a message) is progress: keep goes on renewing.
        assert!(
            tokio::time::timeout(
                Duration::from_millis(1500),
                a.keep(Duration::from_millis(100), &progress)
            )
            .await
            .is_err(),
            "an idle worker keeps its lease"
        );
        assert!(!b.try_acquire().await.unwrap(), "still held by a");
        // Busy with one message past the stall time: keep gives up...
        let busy = progress.busy();
        tokio::time::timeout(
            Duration::from_secs(5),
            a.keep(Duration::from_millis(100), &progress),
        )
        .await
        .expect("keep gives the lease up when the worker is stuck");
        assert!(progress.stalled().is_some());
        // ...and once the lease expires the other gateway takes the mailbox.
        tokio::time::sleep(ttl + Duration::from_millis(200)).await;
        assert!(
            b.try_acquire().await.unwrap(),
            "taken over from the stuck gateway"
        );
        drop(busy);
        assert!(progress.stalled().is_none());
    }
);

both_backends!(only_one_of_many_racing_gateways_gets_the_lease, |t| {
    let mut handles = Vec::new();
    for _ in 0..8 {
        let db = t.second_handle().await;
        handles.push(tokio::spawn(async move {
            let lease = Lease::new(db, "imap:race", Duration::from_secs(30));
            lease.try_acquire().await.unwrap()
        }));
    }
    let mut won = 0;
    for h in handles {
        if h.await.unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
});
