//! The Maildir source: `<data_dir>/inbox` with `new/`, `cur/` and `tmp/`,
//! the embedded default inbox. A real MTA (or `scripts/demo.sh`) delivers
//! into `new/`; the worker processes each file through
//! [`Intake::process`] and then moves it to `cur/` with the `S` (seen) flag.
//! Nothing is ever deleted.
//!
//! The receipt time is the file's modification time, which is when the MTA
//! finished delivering it. A crash between the database commit and the move
//! is harmless: the file is processed again on restart and the
//! Message-ID + SHA-256 key turns that into [`Disposition::AlreadyProcessed`].
//!
//! No single file stops the inbox: a message the pipeline cannot process is
//! set aside by the pipeline as 処理不能 and moved to `cur/` like any other;
//! a file that cannot even be read is skipped (after `[intake]
//! max_attempts` scans, until the next start) while the scan goes on. Only
//! a temporary failure of the database or the disk stops a scan, with
//! back-off.

use crate::base::shutdown::Shutdown;
use crate::pipeline::{Arrived, Disposition, Intake, IntakeError, Outcome, Ready, Received};
use anyhow::Context;
use chrono::{DateTime, FixedOffset, Utc};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// A Maildir on disk.
#[derive(Clone, Debug)]
pub struct Maildir {
    root: PathBuf,
}

impl Maildir {
    /// Opens the Maildir at `root`, creating `cur/`, `new/` and `tmp/`.
    pub fn open(root: &Path) -> anyhow::Result<Maildir> {
        for sub in ["cur", "new", "tmp"] {
            let dir = root.join(sub);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        Ok(Maildir {
            root: root.to_path_buf(),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The messages waiting in `new/`, oldest delivery first.
    pub fn waiting(&self) -> anyhow::Result<Vec<PathBuf>> {
        let dir = self.root.join("new");
        let mut found = Vec::new();
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
        {
            let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_file() {
                found.push((
                    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    entry.path(),
                ));
            }
        }
        found.sort();
        Ok(found.into_iter().map(|(_, p)| p).collect())
    }

    /// Moves a handled message from `new/` to `cur/` with the seen flag.
    pub fn mark_seen(&self, path: &Path) -> anyhow::Result<PathBuf> {
        let name = path
            .file_name()
            .context("a Maildir entry without a name")?
            .to_string_lossy();
        // Maildir info: `:2,` then flags in ASCII order; keep any already there.
        let base = name.split(':').next().unwrap_or(&name);
        let target = self.root.join("cur").join(format!("{base}:2,S"));
        std::fs::rename(path, &target)
            .with_context(|| format!("cannot move {} to {}", path.display(), target.display()))?;
        Ok(target)
    }

    /// Delivers `raw` the Maildir way (write to `tmp/`, then rename into
    /// `new/`), for tests, the demo and tools. Returns the new path.
    pub fn deliver(&self, raw: &[u8]) -> anyhow::Result<PathBuf> {
        use std::io::Write;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        // Microseconds zero-padded: files delivered within one tick of the
        // file system's clock share an mtime and are taken in name order.
        let name = format!(
            "{}.M{:06}P{}Q{}.sos-intake",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = self.root.join("tmp").join(&name);
        let mut file = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        file.write_all(raw)
            .and_then(|_| file.sync_all())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        let target = self.root.join("new").join(&name);
        std::fs::rename(&tmp, &target)
            .with_context(|| format!("cannot deliver {}", target.display()))?;
        Ok(target)
    }
}

/// When a file reached the mailbox: its modification time, in JST.
pub fn delivery_time(path: &Path) -> anyhow::Result<DateTime<FixedOffset>> {
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .with_context(|| format!("cannot read the delivery time of {}", path.display()))?;
    Ok(crate::base::time::in_jst(&DateTime::<Utc>::from(modified)))
}

/// What one scan of `new/` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    /// Messages processed (including ones found already processed).
    pub processed: usize,
    /// Of those, already processed before (a crash before the move).
    pub already_processed: usize,
    /// Messages left in `new/` after a permanent failure (retried after a
    /// restart; the raw bytes are kept in the database).
    pub failed: usize,
}

/// Watches a Maildir and feeds every new message to the pipeline.
#[derive(Debug)]
pub struct MaildirSource {
    maildir: Maildir,
    intake: Intake,
    poll: Duration,
    /// Files that failed permanently in this run; not retried until restart.
    failed: std::sync::Mutex<HashSet<PathBuf>>,
    /// Failed reads per file in this run.
    unreadable: std::sync::Mutex<std::collections::HashMap<PathBuf, u32>>,
    /// Reads of one file before it is skipped (`[intake] max_attempts`).
    max_attempts: u32,
}

impl MaildirSource {
    /// A source over `maildir`, polling every `poll`.
    pub fn new(maildir: Maildir, intake: Intake, poll: Duration) -> MaildirSource {
        MaildirSource {
            max_attempts: intake.max_attempts(),
            maildir,
            intake: intake.with_source("maildir"),
            poll,
            failed: Default::default(),
            unreadable: Default::default(),
        }
    }

    /// Processes every message waiting in `new/`, stopping early (between
    /// batches) on shutdown. A temporary failure (database down) stops the
    /// scan and is returned, so the caller backs off and the message is
    /// tried again.
    ///
    /// The batches overlap: while batch *n* is read and checked, batch
    /// *n − 1* is filed and then batch *n + 1* taken from the disk and
    /// received (its attempts counted), so the reader processes work while
    /// the database does and the writer never waits for the files. A batch
    /// taken in turn (it holds a message tried before, or a single message)
    /// overlaps nothing, and nothing after it is received before it is
    /// filed. (A group whose reading failed — the database did not give the
    /// authorised senders — is filed message by message too, but the batch
    /// after it was received while it was read: should the process die
    /// then, that batch's messages carry one attempt more, as do those of a
    /// batch overlapping a filing the process dies in.)
    ///
    /// Every batch received is filed before the scan returns, even on
    /// shutdown, unless a filing failed for an outage: the batch read ahead
    /// is then left in `new/`, its attempts taken back.
    pub async fn drain(&self, shutdown: &Shutdown) -> Result<Drained, IntakeError> {
        let mut drained = Drained::default();
        let mut temporary = None;
        let waiting = self.maildir.waiting().map_err(IntakeError::Storage)?;
        let mut chunks = waiting.chunks(self.intake.batch_size());
        // The batch read and waiting for its filing, with its files.
        let mut ahead: Option<(Vec<&PathBuf>, Ready)> = None;
        // The batch received and waiting to be read, with its files.
        let mut next: Option<(Vec<&PathBuf>, Received)> = None;
        loop {
            if next.is_none() {
                next = self.receive_next(&mut chunks, shutdown, &temporary).await;
            }
            let Some((paths, received)) = next.take() else {
                break;
            };
            if received.in_turn() {
                if let Some((before, read)) = ahead.take() {
                    self.file(before, read, &mut drained, &mut temporary).await;
                    if temporary.is_some() {
                        // Mostly nothing of this batch is counted yet; what
                        // is (bytes repeated within it) is taken back.
                        self.intake.abandon_received(received);
                        break;
                    }
                }
                let read = self.intake.read(received).await;
                self.file(paths, read, &mut drained, &mut temporary).await;
                continue;
            }
            let (read, following) = match ahead.take() {
                Some((before, filing)) => {
                    tokio::join!(self.intake.read(received), async {
                        self.file(before, filing, &mut drained, &mut temporary)
                            .await;
                        self.receive_next(&mut chunks, shutdown, &temporary).await
                    })
                }
                None => tokio::join!(
                    self.intake.read(received),
                    self.receive_next(&mut chunks, shutdown, &temporary)
                ),
            };
            ahead = Some((paths, read));
            next = following;
        }
        self.finish(ahead, &mut drained, &mut temporary).await;
        temporary.map_or(Ok(drained), Err)
    }

    /// The next chunk of `chunks` taken from the disk and received; `None`
    /// when there is none left, on shutdown, or after an outage.
    async fn receive_next<'p>(
        &self,
        chunks: &mut std::slice::Chunks<'p, PathBuf>,
        shutdown: &Shutdown,
        temporary: &Option<IntakeError>,
    ) -> Option<(Vec<&'p PathBuf>, Received)> {
        if shutdown.is_triggered() || temporary.is_some() {
            return None;
        }
        let (paths, arrived) = self.take(chunks.next()?).await;
        Some((paths, self.intake.receive(arrived).await))
    }

    /// Files the batch a scan read ahead and did not file yet. After an
    /// outage it is left in `new/`, its attempts taken back: filing it
    /// would wait out the outage message by message. (The batch received
    /// after it is never left over: `receive_next` receives nothing on
    /// shutdown or after an outage, and a batch received is always read.)
    async fn finish(
        &self,
        ahead: Option<(Vec<&PathBuf>, Ready)>,
        drained: &mut Drained,
        temporary: &mut Option<IntakeError>,
    ) {
        if let Some((paths, read)) = ahead {
            if temporary.is_some() {
                self.intake.abandon(read);
            } else {
                self.file(paths, read, drained, temporary).await;
            }
        }
    }

    /// The files of `chunk` not skipped and still there, with their bytes.
    async fn take<'p>(&self, chunk: &'p [PathBuf]) -> (Vec<&'p PathBuf>, Vec<Arrived>) {
        let mut paths = Vec::with_capacity(chunk.len());
        let mut arrived = Vec::with_capacity(chunk.len());
        for path in chunk {
            if self
                .failed
                .lock()
                .map(|f| f.contains(path))
                .unwrap_or(false)
            {
                continue;
            }
            if let Some(a) = self.read(path).await {
                paths.push(path);
                arrived.push(a);
            }
        }
        (paths, arrived)
    }

    /// Files a read batch and settles its files (see [`Self::settle`]).
    async fn file(
        &self,
        paths: Vec<&PathBuf>,
        read: Ready,
        drained: &mut Drained,
        temporary: &mut Option<IntakeError>,
    ) {
        let results = self.intake.file(read).await;
        self.settle(paths, results, drained, temporary);
    }

    /// Moves each file processed to `cur/` and counts it; the first
    /// temporary failure is kept in `temporary`.
    fn settle(
        &self,
        paths: Vec<&PathBuf>,
        results: Vec<Result<Outcome, IntakeError>>,
        drained: &mut Drained,
        temporary: &mut Option<IntakeError>,
    ) {
        for (path, result) in paths.into_iter().zip(results) {
            match result.and_then(|outcome| self.seen(path, outcome)) {
                Ok(Some(outcome)) => {
                    drained.processed += 1;
                    if outcome.disposition == Disposition::AlreadyProcessed {
                        drained.already_processed += 1;
                    }
                }
                Ok(None) => {}
                Err(e) if e.is_temporary() => {
                    if temporary.is_none() {
                        *temporary = Some(e);
                    }
                }
                Err(e) => {
                    tracing::error!("{}: {e}; left in new/ until the next start", path.display());
                    if let Ok(mut f) = self.failed.lock() {
                        f.insert(path.clone());
                    }
                    drained.failed += 1;
                }
            }
        }
    }

    /// The file's bytes and delivery time; `None` when it is gone (another
    /// worker took it) or cannot be read (counted; see [`Self::unreadable`]).
    async fn read(&self, path: &Path) -> Option<Arrived> {
        let received_at = match delivery_time(path) {
            Ok(t) => t,
            Err(_) if !path.exists() => return None,
            Err(e) => {
                self.unreadable(path, &std::io::Error::other(format!("{e:#}")));
                return None;
            }
        };
        match tokio::fs::read(path).await {
            Ok(raw) => Some(Arrived { raw, received_at }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            // One file we cannot read (permissions, a directory, an I/O
            // error on its blocks) is that file's trouble, not the inbox's:
            // it is skipped, and the scan goes on with the others.
            Err(e) => {
                self.unreadable(path, &e);
                None
            }
        }
    }

    /// Moves a processed file to `cur/`; `None` when it is gone already
    /// (another worker moved it after processing it too).
    fn seen(&self, path: &Path, outcome: Outcome) -> Result<Option<Outcome>, IntakeError> {
        match self.maildir.mark_seen(path) {
            Ok(_) => Ok(Some(outcome)),
            Err(_) if !path.exists() => Ok(None),
            Err(e) => Err(IntakeError::Storage(e)),
        }
    }

    fn unreadable(&self, path: &Path, err: &std::io::Error) {
        let mut counts = self
            .unreadable
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = counts.entry(path.to_path_buf()).or_insert(0);
        *count += 1;
        if *count >= self.max_attempts {
            tracing::error!(file = %path.display(), error = %err, attempts = *count,
                "cannot read this inbox file; skipped until the next start (left in new/)");
            if let Ok(mut f) = self.failed.lock() {
                f.insert(path.to_path_buf());
            }
        } else {
            tracing::warn!(file = %path.display(), error = %err, attempts = *count, "cannot read this inbox file; will try again");
        }
    }

    /// Drains `new/` every poll interval until `shutdown`; after a temporary
    /// failure waits with capped exponential back-off.
    pub async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let mut backoff = self.poll;
        let monitor = crate::observe::monitor::global();
        while !shutdown.is_triggered() {
            let drained = self.drain(&shutdown).await;
            monitor.maildir_polled(
                "maildir",
                drained.as_ref().map(|_| ()).map_err(|e| e.to_string()),
            );
            match drained {
                Ok(d) => {
                    if d.processed > 0 {
                        tracing::info!(
                            processed = d.processed,
                            already = d.already_processed,
                            failed = d.failed,
                            "inbox drained"
                        );
                    }
                    backoff = self.poll;
                    shutdown.sleep(self.poll).await;
                }
                Err(e) => {
                    backoff = (backoff * 2).min(Duration::from_secs(60)).max(self.poll);
                    tracing::warn!("inbox: {e}; retrying in {backoff:?}");
                    shutdown.sleep(backoff).await;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliver_then_mark_seen_keeps_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::open(&dir.path().join("inbox")).unwrap();
        let p1 = md.deliver(b"Subject: a\r\n\r\n1").unwrap();
        let p2 = md.deliver(b"Subject: b\r\n\r\n2").unwrap();
        assert_eq!(md.waiting().unwrap().len(), 2);
        let seen = md.mark_seen(&p1).unwrap();
        assert!(seen.to_string_lossy().ends_with(":2,S"));
        assert_eq!(std::fs::read(&seen).unwrap(), b"Subject: a\r\n\r\n1");
        assert_eq!(md.waiting().unwrap(), vec![p2]);
    }
}
