//! The shutdown signal shared by the tasks of `serve` (mailbox sources, the
//! outbox sender, the web server): one trigger, many cheap receivers.
//!
//! It lives in `base` because both the pipeline and the layers beside and
//! below it (the outbox) wait on it; kept in `pipeline` it made `outbox`
//! import the pipeline that imports `outbox`.

use std::time::Duration;
use tokio::sync::watch;

/// A shutdown signal shared by the tasks of `serve`: each task checks it
/// between units of work (a message, a delivery pass) and sleeps on it.
#[derive(Clone, Debug)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// The side that triggers a [`Shutdown`].
#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

impl Shutdown {
    /// A new signal and its trigger.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger { tx }, Shutdown { rx })
    }

    /// A signal that never fires (tests, one-shot commands).
    pub fn never() -> Shutdown {
        // One sender kept for the whole program, so `changed` pends.
        static NEVER: std::sync::OnceLock<watch::Sender<bool>> = std::sync::OnceLock::new();
        Shutdown {
            rx: NEVER.get_or_init(|| watch::channel(false).0).subscribe(),
        }
    }

    /// True once triggered.
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Waits until triggered.
    pub async fn triggered(&mut self) {
        while !*self.rx.borrow_and_update() {
            if self.rx.changed().await.is_err() {
                // The trigger is gone: nobody can stop us any more, so pend.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Sleeps for `d`, or less when triggered meanwhile.
    pub async fn sleep(&mut self, d: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = self.triggered() => {}
        }
    }
}

impl ShutdownTrigger {
    /// Fires the signal (idempotent).
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }
}
