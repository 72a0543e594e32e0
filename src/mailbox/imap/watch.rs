//! The watcher: while this gateway holds the mailbox's lease, stay connected,
//! catch up by UID, hand each message to the pipeline, file it into its
//! folder, and wait for more with IDLE (or polling). Every failure ends the
//! session; the next one starts after a capped exponential back-off and
//! catches up from the checkpoint, so nothing appended meanwhile is missed.

use super::checkpoint;
use super::connect::{self, Endpoint, ImapError, ImapSession};
use super::lease::{Lease, Progress};
use super::utf7;
use super::{Destination, MessageSink, SinkError};
use crate::base::shutdown::Shutdown;
use crate::config::ImapConfig;
use crate::queue::Db;
use async_imap::extensions::idle::IdleResponse;
use async_imap::types::Capability;
use async_imap::types::UnsolicitedResponse;
use chrono::{DateTime, FixedOffset, Utc};
use futures::TryStreamExt;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::{Instant, timeout};

/// Tunables of the watcher. Defaults suit production; tests shorten them.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// IDLE is ended and re-issued after this long (RFC 2177: before 29
    /// minutes). Servers send keep-alives while idling, so the library's
    /// silence timeout alone would never re-issue it.
    pub idle_renew: Duration,
    /// While idling, this long without a byte from the server (not even a
    /// keep-alive) counts as a dead connection.
    pub idle_silence: Duration,
    /// Polling interval when the server has no IDLE.
    pub poll_interval: Duration,
    /// Time allowed for one ordinary command.
    pub command_timeout: Duration,
    /// Time allowed for fetching one message (25 MB on a slow link).
    pub fetch_timeout: Duration,
    /// First reconnect delay; doubles up to `backoff_max`.
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// How long a lease lasts without renewal (take-over time after a crash).
    pub lease_ttl: Duration,
    /// How often the holder renews (and a stand-by gateway retries).
    pub lease_renew: Duration,
    /// Honour the server's MOVE capability (false forces COPY + \Deleted).
    pub use_move: bool,
    /// At most this many bytes of a message are fetched (a partial fetch):
    /// the pipeline's `max_message_bytes` + 1, so a message over the limit
    /// reaches it just over the limit (headers only, answered "too large")
    /// and never fills memory. The whole message stays on the server.
    pub max_fetch_bytes: u64,
    /// One message keeping the worker busy longer than this means it is
    /// stuck: the lease is no longer renewed (`[intake] stall_secs`).
    pub stall_after: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            idle_renew: Duration::from_secs(25 * 60),
            idle_silence: Duration::from_secs(5 * 60),
            poll_interval: Duration::from_secs(30),
            command_timeout: Duration::from_secs(60),
            fetch_timeout: Duration::from_secs(10 * 60),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(60),
            lease_ttl: Duration::from_secs(6),
            lease_renew: Duration::from_millis(1500),
            use_move: true,
            max_fetch_bytes: crate::config::MailConfig::default().max_message_bytes + 1,
            stall_after: Duration::from_secs(crate::config::IntakeConfig::default().stall_secs),
        }
    }
}

impl WatchOptions {
    /// The defaults with the configuration's polling interval.
    pub fn from_config(config: &ImapConfig) -> WatchOptions {
        WatchOptions {
            poll_interval: Duration::from_secs(config.poll_interval_secs.max(1)),
            ..Default::default()
        }
    }
}

/// What the watcher is doing now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Not started yet.
    Starting,
    /// Another gateway holds the lease; waiting to take over.
    Standby,
    /// Connecting and logging in.
    Connecting,
    /// Handling the messages above the checkpoint.
    CatchingUp,
    /// Waiting in IDLE.
    Idle,
    /// Waiting between polls (server without IDLE).
    Polling,
    /// Waiting before reconnecting after a failure.
    Backoff,
    /// Stopped (shutdown).
    Stopped,
}

/// The watcher's state, published for tests and diagnostics.
#[derive(Clone, Debug)]
pub struct Status {
    /// The current phase.
    pub phase: Phase,
    /// Messages handed to the pipeline and recorded, since start.
    pub handled: u64,
    /// Batches handed to the pipeline (a lone message is a batch of one),
    /// since start.
    pub batches: u64,
    /// Sessions started (logins), since start.
    pub sessions: u64,
    /// The last failure, in plain words.
    pub last_error: Option<String>,
}

/// The server's capabilities that change what we do.
#[derive(Clone, Copy, Debug)]
struct Caps {
    idle: bool,
    mv: bool,
    uidplus: bool,
}

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
enum SessionEnd {
    /// The server or the network failed.
    #[error(transparent)]
    Imap(#[from] ImapError),
    /// The pipeline asked to try again later.
    #[error("{0}")]
    Pipeline(SinkError),
    /// Our own database failed.
    #[error("database: {0:#}")]
    Db(anyhow::Error),
}

/// Watches one mailbox, handing each message to `S`.
pub struct Watcher<S> {
    endpoint: Endpoint,
    mailbox: String,
    done_folder: String,
    error_folder: String,
    quarantine_folder: String,
    key: String,
    db: Db,
    sink: S,
    options: WatchOptions,
    status: tokio::sync::watch::Sender<Status>,
    /// A move was refused in this session: re-create the folders and retry
    /// the owed moves after the current catch-up.
    moves_owed: AtomicBool,
    /// The message whose fetch failed last, and how many times in a row:
    /// `(uidvalidity, uid, failures)`.
    fetch_failures: std::sync::Mutex<(u32, u32, u32)>,
    /// Busy with one message since when: the lease is renewed only while
    /// this makes progress.
    progress: Progress,
}

/// A fetched message.
struct Fetched {
    raw: Vec<u8>,
    received_at: DateTime<FixedOffset>,
}

impl<S: MessageSink> Watcher<S> {
    /// A watcher for `[imap]`, recording its checkpoint in `db`.
    pub fn new(config: &ImapConfig, db: Db, sink: S) -> Result<Watcher<S>, ImapError> {
        let endpoint = Endpoint::from_config(config)?;
        let key = checkpoint_key(&endpoint, &config.mailbox);
        if let Some(source) = &endpoint.oauth {
            source.report_as(&key, "imap");
        }
        let (status, _) = tokio::sync::watch::channel(Status {
            phase: Phase::Starting,
            handled: 0,
            batches: 0,
            sessions: 0,
            last_error: None,
        });
        Ok(Watcher {
            endpoint,
            mailbox: config.mailbox.clone(),
            done_folder: config.done_folder.clone(),
            error_folder: config.error_folder.clone(),
            quarantine_folder: config.quarantine_folder.clone(),
            key,
            db,
            sink,
            options: WatchOptions::from_config(config),
            status,
            moves_owed: AtomicBool::new(false),
            fetch_failures: std::sync::Mutex::new((0, 0, 0)),
            progress: Progress::new(WatchOptions::default().stall_after),
        })
    }

    /// Replaces the tunables.
    pub fn with_options(mut self, options: WatchOptions) -> Watcher<S> {
        self.progress = Progress::new(options.stall_after);
        self.options = options;
        self
    }

    /// The checkpoint key of the watched mailbox (`user@host:port/mailbox`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// A receiver of the watcher's status.
    pub fn status(&self) -> tokio::sync::watch::Receiver<Status> {
        self.status.subscribe()
    }

    fn set_phase(&self, phase: Phase) {
        self.status.send_modify(|s| s.phase = phase);
    }

    fn folder(&self, destination: Destination) -> &str {
        match destination {
            Destination::Done => &self.done_folder,
            Destination::Error => &self.error_folder,
            Destination::Quarantine => &self.quarantine_folder,
        }
    }

    /// Runs until `shutdown`: waits for the lease, watches while holding it,
    /// stands by again when it is lost. Releases the lease on shutdown.
    pub async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let lease = Lease::new(
            self.db.clone(),
            format!("imap:{}", self.key),
            self.options.lease_ttl,
        );
        loop {
            self.set_phase(Phase::Standby);
            tokio::select! {
                _ = lease.acquire(self.options.lease_renew) => {}
                _ = shutdown.triggered() => break,
            }
            tracing::info!(mailbox = %self.key, holder = %lease.holder(), "this gateway now watches the IMAP mailbox");
            let mut session_shutdown = shutdown.clone();
            tokio::select! {
                _ = self.watch_while_held(&mut session_shutdown) => {
                    // Returns only on shutdown.
                    break;
                }
                _ = lease.keep(self.options.lease_renew, &self.progress) => {
                    tracing::warn!(mailbox = %self.key, "lost the IMAP lease; standing by");
                }
            }
        }
        if let Err(err) = lease.release().await {
            tracing::warn!(error = %format!("{err:#}"), "could not release the IMAP lease");
        }
        self.set_phase(Phase::Stopped);
        Ok(())
    }

    /// Catches up once and returns (`sos-intake serve --once`): takes the
    /// lease (or does nothing when another gateway watches), handles every
    /// message above the checkpoint, files them, logs out and releases the
    /// lease. Returns how many messages were handled.
    pub async fn run_once(&self) -> anyhow::Result<u64> {
        let lease = Lease::new(
            self.db.clone(),
            format!("imap:{}", self.key),
            self.options.lease_ttl,
        );
        if !lease.try_acquire().await? {
            tracing::info!(mailbox = %self.key, "another gateway watches the IMAP mailbox; nothing to do");
            return Ok(0);
        }
        let before = self.status.borrow().handled;
        let work = async {
            let connected = connect::connect(&self.endpoint).await?;
            let mut session = connected.session;
            let caps = self.capabilities(&mut session).await?;
            self.folders_or_complain(&mut session).await?;
            let uidvalidity = self.select(&mut session).await?;
            let last_uid = self.starting_point(uidvalidity).await?;
            self.retry_pending_moves(&mut session, uidvalidity, caps)
                .await?;
            self.catch_up(
                &mut session,
                uidvalidity,
                last_uid,
                caps,
                &Shutdown::never(),
            )
            .await?;
            if self.moves_owed.swap(false, Ordering::SeqCst) {
                self.folders_or_complain(&mut session).await?;
                self.retry_pending_moves(&mut session, uidvalidity, caps)
                    .await?;
            }
            self.logout(session).await;
            Ok::<(), SessionEnd>(())
        };
        let result = tokio::select! {
            r = work => r.map_err(|e| anyhow::anyhow!("{e}")),
            _ = lease.keep(self.options.lease_renew, &self.progress) => {
                Err(anyhow::anyhow!("lost the IMAP lease to another gateway"))
            }
        };
        if let Err(err) = lease.release().await {
            tracing::warn!(error = %format!("{err:#}"), "could not release the IMAP lease");
        }
        result?;
        Ok(self.status.borrow().handled - before)
    }

    /// Sessions one after another, with back-off between failures, until
    /// shutdown.
    async fn watch_while_held(&self, shutdown: &mut Shutdown) {
        let mut backoff = Backoff::new(self.options.backoff_min, self.options.backoff_max);
        loop {
            if shutdown.is_triggered() {
                return;
            }
            match self.session(&mut backoff, shutdown).await {
                Ok(()) => return,
                Err(end) => {
                    let delay = backoff.next_delay();
                    let text = end.to_string();
                    let attention = matches!(&end, SessionEnd::Imap(e) if e.needs_attention());
                    let english = match &end {
                        SessionEnd::Imap(e) => e.english(),
                        _ => None,
                    };
                    if let Some(english) = english {
                        // OAuth failures: the step in English too.
                        tracing::error!(mailbox = %self.key, retry_in = ?delay, english = %english, "IMAP: {text}");
                    } else if attention {
                        tracing::error!(mailbox = %self.key, retry_in = ?delay, "IMAP: {text}");
                    } else {
                        tracing::warn!(mailbox = %self.key, retry_in = ?delay, "IMAP session ended: {text}");
                    }
                    self.status.send_modify(|s| {
                        s.phase = Phase::Backoff;
                        s.last_error = Some(text);
                    });
                    shutdown.sleep(delay).await;
                }
            }
        }
    }

    /// One connection: log in, select, catch up, wait, catch up… Ok on
    /// shutdown, Err when anything fails.
    async fn session(
        &self,
        backoff: &mut Backoff,
        shutdown: &mut Shutdown,
    ) -> Result<(), SessionEnd> {
        self.set_phase(Phase::Connecting);
        let connected = connect::connect(&self.endpoint).await?;
        self.status.send_modify(|s| s.sessions += 1);
        let mut session = connected.session;
        let caps = self.capabilities(&mut session).await?;
        self.folders_or_complain(&mut session).await?;
        let uidvalidity = self.select(&mut session).await?;
        let mut last_uid = self.starting_point(uidvalidity).await?;
        self.retry_pending_moves(&mut session, uidvalidity, caps)
            .await?;
        // Whether the last search was an extra one, made for mail announced
        // in a search's response or at the start of IDLE, that found
        // nothing (see below).
        let mut searched_again = false;
        loop {
            let before = last_uid;
            last_uid = self
                .catch_up(&mut session, uidvalidity, last_uid, caps, shutdown)
                .await?;
            if last_uid != before {
                // It found mail: the next announcement may be real again.
                searched_again = false;
            }
            if self.moves_owed.swap(false, Ordering::SeqCst) {
                // A refused move (e.g. someone deleted the folder): make the
                // folders again and retry, a few times at most.
                self.folders_or_complain(&mut session).await?;
                self.retry_pending_moves(&mut session, uidvalidity, caps)
                    .await?;
            }
            if shutdown.is_triggered() {
                self.logout(session).await;
                return Ok(());
            }
            // Caught up on a working connection: the next failure starts
            // the back-off from the beginning again.
            backoff.reset();
            // New mail announced during or after the last search (in its
            // response, or with a MOVE's): it was not in that search, and
            // IDLE would not announce it again, so search once more. Not
            // twice in a row without finding mail: a server that says
            // EXISTS with every response must not keep us searching.
            let announced = announced_new_mail(|| session.unsolicited_responses.try_recv().ok());
            if announced && !searched_again {
                searched_again = true;
                continue;
            }
            let (next, stop) = if caps.idle {
                let (next, end) = self.idle(session, shutdown, !searched_again).await?;
                searched_again = end == IdleEnd::Announced;
                (next, end == IdleEnd::Stop)
            } else {
                searched_again = false;
                self.poll(session, shutdown).await?
            };
            session = next;
            if stop {
                self.logout(session).await;
                return Ok(());
            }
        }
    }

    async fn logout(&self, mut session: ImapSession) {
        let _ = timeout(self.options.command_timeout, session.logout()).await;
    }

    async fn command<T>(
        &self,
        what: &str,
        fut: impl Future<Output = async_imap::error::Result<T>>,
    ) -> Result<T, ImapError> {
        self.timed(self.options.command_timeout, what, fut).await
    }

    async fn timed<T>(
        &self,
        limit: Duration,
        what: &str,
        fut: impl Future<Output = async_imap::error::Result<T>>,
    ) -> Result<T, ImapError> {
        match timeout(limit, fut).await {
            Ok(r) => r.map_err(ImapError::from_imap),
            Err(_) => Err(self.endpoint.timed_out(what)),
        }
    }

    async fn capabilities(&self, session: &mut ImapSession) -> Result<Caps, ImapError> {
        let caps = self.command("CAPABILITY", session.capabilities()).await?;
        let has = |name: &str| caps.has(&Capability::Atom(name.into()));
        Ok(Caps {
            idle: has("IDLE"),
            mv: has("MOVE") && self.options.use_move,
            uidplus: has("UIDPLUS"),
        })
    }

    /// Checks that the watched mailbox exists (asking with LIST: Dovecot's
    /// NO to a SELECT of a missing Japanese name carries raw UTF-8 that the
    /// client cannot parse) and creates the target folders that do not.
    async fn ensure_folders(&self, session: &mut ImapSession) -> Result<(), ImapError> {
        let existing = list_folders(session, self.options.command_timeout, &self.endpoint).await?;
        if !has_mailbox(&existing, &self.mailbox) {
            return Err(ImapError::MailboxMissing {
                mailbox: self.mailbox.clone(),
                detail: "LIST にありません".into(),
            });
        }
        let mut wanted = vec![
            self.done_folder.as_str(),
            self.error_folder.as_str(),
            self.quarantine_folder.as_str(),
        ];
        wanted.dedup();
        // A folder that cannot be made does not keep the others from being made.
        let mut refused = None;
        for folder in wanted {
            if existing.contains(folder) {
                continue;
            }
            let wire = utf7::encode(folder);
            match timeout(self.options.command_timeout, session.create(&wire)).await {
                Ok(Ok(())) => tracing::info!(folder, "created IMAP folder"),
                // Someone else created it meanwhile ([ALREADYEXISTS]).
                Ok(Err(async_imap::error::Error::No(s)))
                    if s.to_ascii_lowercase().contains("exist") => {}
                Ok(Err(async_imap::error::Error::No(s) | async_imap::error::Error::Bad(s))) => {
                    refused.get_or_insert(ImapError::FolderCreate {
                        folder: folder.to_string(),
                        detail: connect::server_words(&s),
                    });
                }
                Ok(Err(e)) => return Err(ImapError::from_imap(e)),
                Err(_) => {
                    return Err(self.endpoint.timed_out("CREATE"));
                }
            }
        }
        refused.map_or(Ok(()), Err)
    }

    /// [`Self::ensure_folders`], but a folder that cannot be created does not
    /// stop the intake: answering mail matters more than filing it away.
    /// The failure is logged loudly and the moves stay owed.
    async fn folders_or_complain(&self, session: &mut ImapSession) -> Result<(), ImapError> {
        match self.ensure_folders(session).await {
            Err(err @ ImapError::FolderCreate { .. }) => {
                tracing::error!(mailbox = %self.key, "IMAP: {err}");
                self.status
                    .send_modify(|s| s.last_error = Some(err.to_string()));
                Ok(())
            }
            other => other,
        }
    }

    async fn select(&self, session: &mut ImapSession) -> Result<u32, ImapError> {
        let wire = utf7::encode(&self.mailbox);
        let mailbox = match timeout(self.options.command_timeout, session.select(&wire)).await {
            Ok(Ok(m)) => m,
            Ok(Err(async_imap::error::Error::No(s))) => {
                return Err(ImapError::MailboxMissing {
                    mailbox: self.mailbox.clone(),
                    detail: connect::server_words(&s),
                });
            }
            Ok(Err(e)) => return Err(ImapError::from_imap(e)),
            Err(_) => {
                return Err(self.endpoint.timed_out("SELECT"));
            }
        };
        mailbox.uid_validity.ok_or(ImapError::NoUidValidity)
    }

    /// The last UID already handled under `uidvalidity`; 0 on the first
    /// start or after the server changed UIDVALIDITY (a full rescan).
    async fn starting_point(&self, uidvalidity: u32) -> Result<u32, SessionEnd> {
        let stored = checkpoint::load(&self.db, &self.key)
            .await
            .map_err(SessionEnd::Db)?;
        match stored {
            Some(c) if c.uidvalidity == uidvalidity => Ok(c.last_uid),
            other => {
                if let Some(old) = other {
                    tracing::warn!(
                        mailbox = %self.key, old = old.uidvalidity, new = uidvalidity,
                        "UIDVALIDITY changed: rescanning the whole mailbox (already handled mail is recognised by its key)"
                    );
                }
                checkpoint::reset(&self.db, &self.key, uidvalidity)
                    .await
                    .map_err(SessionEnd::Db)?;
                Ok(0)
            }
        }
    }

    async fn retry_pending_moves(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        caps: Caps,
    ) -> Result<(), SessionEnd> {
        let owed = checkpoint::pending_moves(&self.db, &self.key, uidvalidity)
            .await
            .map_err(SessionEnd::Db)?;
        for m in owed {
            if m.attempts >= MAX_MOVE_ATTEMPTS {
                tracing::error!(uid = m.uid, folder = %m.folder, "giving up moving a handled message; it stays in the inbox (handled, not handled again)");
                checkpoint::move_done(&self.db, &self.key, uidvalidity, m.uid)
                    .await
                    .map_err(SessionEnd::Db)?;
                continue;
            }
            self.move_messages(session, uidvalidity, &[m.uid], &m.folder, caps)
                .await?;
        }
        Ok(())
    }

    /// Handles every message above `last_uid`, repeating the search until
    /// none is left; returns the new last UID. The waiting messages go to
    /// the pipeline in batches of up to its batch size; a lone new message
    /// goes at once, alone.
    async fn catch_up(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        mut last_uid: u32,
        caps: Caps,
        shutdown: &Shutdown,
    ) -> Result<u32, SessionEnd> {
        let batch_size = self.sink.batch_size().max(1);
        loop {
            // Whatever the server announced so far is covered by this
            // search; what it announces from now on is looked at before
            // IDLE (in `session`).
            announced_new_mail(|| session.unsolicited_responses.try_recv().ok());
            let query = format!("UID {}:*", last_uid.saturating_add(1));
            let found = self
                .command("UID SEARCH", session.uid_search(&query))
                .await?;
            // `n:*` always matches the highest UID, even one below n.
            let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > last_uid).collect();
            if uids.is_empty() {
                return Ok(last_uid);
            }
            uids.sort_unstable();
            self.set_phase(Phase::CatchingUp);
            let mut waiting = uids.as_slice();
            while !waiting.is_empty() {
                if shutdown.is_triggered() {
                    return Ok(last_uid);
                }
                let taken = self
                    .handle_batch(session, uidvalidity, waiting, batch_size, caps, shutdown)
                    .await?;
                // Never skip a UID: the checkpoint of a later batch would
                // pass it.
                let Some(uid) = taken.checked_sub(1).and_then(|i| waiting.get(i)) else {
                    return Ok(last_uid);
                };
                last_uid = last_uid.max(*uid);
                waiting = waiting.get(taken..).unwrap_or_default();
            }
        }
    }

    /// The first messages of `waiting` (at most `batch_size`, and not many
    /// more than [`MAX_BATCH_BYTES`]): fetch each, the pipeline on them
    /// together, then one checkpoint for all, then the moves, one per
    /// folder. Returns how many UIDs of `waiting` were handled; an error
    /// after the handled ones are recorded and moved.
    async fn handle_batch(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        waiting: &[u32],
        batch_size: usize,
        caps: Caps,
        shutdown: &Shutdown,
    ) -> Result<usize, SessionEnd> {
        // Fetched in order; `None`: expunged by someone else between
        // SEARCH and FETCH (handled, nothing to file).
        let mut fetched: Vec<(u32, Option<Fetched>)> = Vec::new();
        let mut bytes = 0usize;
        let mut fetch_error = None;
        for &uid in waiting.iter().take(batch_size) {
            if bytes >= MAX_BATCH_BYTES || (shutdown.is_triggered() && !fetched.is_empty()) {
                break;
            }
            let result = self
                .timed(
                    self.options.fetch_timeout,
                    "UID FETCH",
                    fetch_one(session, uid, self.options.max_fetch_bytes),
                )
                .await;
            match result {
                Ok(Fetch::Message(m)) => {
                    bytes = bytes.saturating_add(m.raw.len());
                    fetched.push((uid, Some(m)));
                }
                Ok(Fetch::Gone) => fetched.push((uid, None)),
                Ok(Fetch::NoBody) => {
                    let err = ImapError::NoBody { uid };
                    fetch_error = Some((uid, err));
                    break;
                }
                Err(err) => {
                    fetch_error = Some((uid, err));
                    break;
                }
            }
        }
        // Those recorded are moved even when the pipeline failed on a later
        // one (their moves are owed in the database either way).
        let (handled, filed) = self.file_fetched(uidvalidity, fetched).await;
        let moved = self
            .move_handled(session, uidvalidity, &handled, caps)
            .await;
        match fetch_error {
            // The messages before the one that cannot be fetched are
            // recorded (and moved, unless the connection broke); the fetch
            // failure is counted only then, since giving that message up
            // advances the checkpoint past it.
            Some((uid, err)) if filed.is_ok() => {
                let end = self.fetch_failed(uidvalidity, uid, err).await;
                moved?;
                Err(end)
            }
            _ => {
                filed?;
                moved?;
                Ok(handled.len())
            }
        }
    }

    /// The pipeline on the fetched messages, then the checkpoint of those
    /// it handled (in one transaction). Returns the handled UIDs with their
    /// folders (`None`: nothing to move), and the error that ends the
    /// session: a temporary failure of the pipeline (the message it names
    /// and every later one stay unhandled, fetched again next time; those
    /// that were filed meanwhile are recognised by the pipeline's key), or
    /// the database's.
    async fn file_fetched(
        &self,
        uidvalidity: u32,
        fetched: Vec<(u32, Option<Fetched>)>,
    ) -> (Vec<(u32, Option<String>)>, Result<(), SessionEnd>) {
        let mut order = Vec::with_capacity(fetched.len());
        let mut batch = Vec::with_capacity(fetched.len());
        for (uid, message) in fetched {
            let size = message.as_ref().map(|m| m.raw.len());
            order.push((uid, size));
            if let Some(m) = message {
                batch.push(super::Arrived {
                    raw: m.raw,
                    received_at: m.received_at,
                });
            }
        }
        let sent = batch.len();
        let results = if batch.is_empty() {
            Vec::new()
        } else {
            let busy = self.progress.busy();
            let results = self.sink.process_batch(batch).await;
            drop(busy);
            self.status.send_modify(|s| s.batches += 1);
            results
        };
        let mut results = results.into_iter();
        let mut handled = Vec::with_capacity(order.len());
        let mut temporary = None;
        for (uid, size) in order {
            let Some(size) = size else {
                handled.push((uid, None));
                continue;
            };
            let destination = match results.next() {
                Some(Ok(d)) => d,
                Some(Err(SinkError::Permanent(e))) => {
                    tracing::error!(uid, size, error = %format!("{e:#}"), "the pipeline cannot handle this message; filing it in the error folder");
                    Destination::Error
                }
                Some(Err(SinkError::Temporary(e))) => {
                    temporary = Some(SessionEnd::Pipeline(SinkError::Temporary(e)));
                    break;
                }
                None => {
                    temporary = Some(SessionEnd::Pipeline(SinkError::Temporary(anyhow::anyhow!(
                        "the pipeline returned {sent} messages' results short"
                    ))));
                    break;
                }
            };
            let folder = self.folder(destination).to_string();
            tracing::debug!(uid, size, folder = %folder, "handled IMAP message");
            handled.push((uid, Some(folder)));
        }
        let notes: Vec<(u32, Option<&str>)> = handled
            .iter()
            .map(|(uid, folder)| (*uid, folder.as_deref()))
            .collect();
        if let Err(e) =
            checkpoint::record_handled_all(&self.db, &self.key, uidvalidity, &notes).await
        {
            return (Vec::new(), Err(SessionEnd::Db(e)));
        }
        let messages = handled.iter().filter(|(_, f)| f.is_some()).count() as u64;
        self.status.send_modify(|s| s.handled += messages);
        (handled, temporary.map_or(Ok(()), Err))
    }

    /// Moves the handled messages that have a folder, one command per
    /// folder, in the order the folders first appear.
    async fn move_handled(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        handled: &[(u32, Option<String>)],
        caps: Caps,
    ) -> Result<(), SessionEnd> {
        let mut by_folder: Vec<(&str, Vec<u32>)> = Vec::new();
        for (uid, folder) in handled {
            let Some(folder) = folder else { continue };
            match by_folder.iter_mut().find(|(f, _)| *f == folder.as_str()) {
                Some((_, uids)) => uids.push(*uid),
                None => by_folder.push((folder, vec![*uid])),
            }
        }
        for (folder, uids) in by_folder {
            self.move_messages(session, uidvalidity, &uids, folder, caps)
                .await?;
        }
        Ok(())
    }

    /// A fetch of `uid` failed (the server cannot read the message and
    /// hangs up, or sends no body). After [`MAX_FETCH_FAILURES`] failures in
    /// a row the message is given up: recorded as handled and owed a move to
    /// the error folder, so one unreadable message never blocks the inbox.
    /// It stays on the server. Returns the error that ends the session.
    async fn fetch_failed(&self, uidvalidity: u32, uid: u32, err: ImapError) -> SessionEnd {
        let failures = {
            let mut last = self
                .fetch_failures
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if last.0 == uidvalidity && last.1 == uid {
                last.2 += 1;
            } else {
                *last = (uidvalidity, uid, 1);
            }
            last.2
        };
        if failures < MAX_FETCH_FAILURES {
            return err.into();
        }
        tracing::error!(
            uid,
            failures,
            error = %err,
            "the server cannot give this message; skipping it (left on the server, filed in the error folder)"
        );
        let folder = self.error_folder.clone();
        if let Err(e) =
            checkpoint::record_handled(&self.db, &self.key, uidvalidity, uid, Some(&folder)).await
        {
            return SessionEnd::Db(e);
        }
        self.moves_owed.store(true, Ordering::SeqCst);
        err.into()
    }

    /// Moves handled messages (`uids`, ascending) to `folder` with one
    /// command; a refusal is noted and retried on the next connection, a
    /// broken connection ends the session.
    async fn move_messages(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        uids: &[u32],
        folder: &str,
        caps: Caps,
    ) -> Result<(), SessionEnd> {
        if uids.is_empty() {
            return Ok(());
        }
        let wire = utf7::encode(folder);
        let set = uid_set(uids);
        let result = timeout(self.options.command_timeout, async {
            if caps.mv {
                session.uid_mv(&set, &wire).await
            } else {
                copy_and_delete(session, &set, &wire, caps.uidplus).await
            }
        })
        .await;
        match result {
            Ok(Ok(())) => checkpoint::move_done_all(&self.db, &self.key, uidvalidity, uids)
                .await
                .map_err(SessionEnd::Db),
            Ok(Err(async_imap::error::Error::No(s) | async_imap::error::Error::Bad(s))) => {
                let s = connect::server_words(&s);
                tracing::warn!(uids = %set, folder, reply = %s, "the server refused to move handled messages; will retry");
                self.moves_owed.store(true, Ordering::SeqCst);
                checkpoint::move_failed_all(&self.db, &self.key, uidvalidity, uids)
                    .await
                    .map_err(SessionEnd::Db)
            }
            Ok(Err(e)) => Err(ImapError::from_imap(e).into()),
            Err(_) => Err(self.endpoint.timed_out("MOVE").into()),
        }
    }

    /// IDLE until the server reports a change, the renewal time, silence,
    /// or shutdown. Returns the session and why the IDLE ended. New mail
    /// announced while IDLE was starting ends it at once when `may_skip`
    /// (the session loop allows one extra search in a row).
    async fn idle(
        &self,
        session: ImapSession,
        shutdown: &mut Shutdown,
        may_skip: bool,
    ) -> Result<(ImapSession, IdleEnd), SessionEnd> {
        // The session loop has just looked at what came before.
        let unsolicited = session.unsolicited_responses.clone();
        let mut handle = session.idle();
        self.command("IDLE", handle.init()).await?;
        self.set_phase(Phase::Idle);
        let deadline = Instant::now() + self.options.idle_renew;
        // Mail reported while IDLE was starting went to the unsolicited
        // channel, not to the idle stream: catch up at once.
        let announced = announced_new_mail(|| unsolicited.try_recv().ok());
        let mut end = IdleEnd::Again;
        if announced && may_skip {
            end = IdleEnd::Announced;
        } else {
            let (wait, _interrupt) = handle.wait_with_timeout(self.options.idle_silence);
            tokio::select! {
                r = wait => match r {
                    Ok(IdleResponse::NewData(_)) => {}
                    Ok(IdleResponse::Timeout) => {
                        tracing::debug!("IMAP server silent while idling; checking the connection");
                    }
                    // Only our own interrupt or the end of the stream end the
                    // wait this way; we never interrupt, so the server hung up.
                    Ok(IdleResponse::ManualInterrupt) => {
                        return Err(ImapError::Network {
                            addr: self.endpoint.addr(),
                            detail: "IDLE 中に接続が切れました".into(),
                        }.into());
                    }
                    Err(e) => return Err(ImapError::from_imap(e).into()),
                },
                _ = tokio::time::sleep_until(deadline) => {}
                _ = shutdown.triggered() => end = IdleEnd::Stop,
            }
        }
        let session = self.command("DONE", handle.done()).await?;
        Ok((session, end))
    }

    /// Waits one polling interval, then NOOP (which also reports new mail).
    async fn poll(
        &self,
        mut session: ImapSession,
        shutdown: &mut Shutdown,
    ) -> Result<(ImapSession, bool), SessionEnd> {
        self.set_phase(Phase::Polling);
        shutdown.sleep(self.options.poll_interval).await;
        if shutdown.is_triggered() {
            return Ok((session, true));
        }
        self.command("NOOP", session.noop()).await?;
        Ok((session, false))
    }
}

use std::future::Future;

/// Why [`Watcher::idle`] returned.
#[derive(Clone, Copy, PartialEq)]
enum IdleEnd {
    /// Shutdown.
    Stop,
    /// New mail announced as IDLE started: search at once.
    Announced,
    /// Woken by the server, silence or renewal: search, then IDLE again.
    Again,
}

/// Empties a channel of unsolicited responses (`next` takes one); true
/// when one of them says that mail arrived (EXISTS or RECENT). The others
/// (EXPUNGE of our own moves, flag changes) need nothing.
fn announced_new_mail(mut next: impl FnMut() -> Option<UnsolicitedResponse>) -> bool {
    let mut new_mail = false;
    while let Some(response) = next() {
        new_mail |= matches!(
            response,
            UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)
        );
    }
    new_mail
}

/// Moves after this many refusals are given up (logged; the message stays
/// in the inbox and is not handled again).
const MAX_MOVE_ATTEMPTS: u32 = 5;

/// Fetches of one message that may fail in a row before it is skipped.
const MAX_FETCH_FAILURES: u32 = 3;

/// A batch stops taking messages once it holds this many bytes, so a
/// backlog of large messages is not all in memory at once (a message over
/// it goes in a batch of its own, or with the ones fetched before it).
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// The watcher's checkpoint and lease key for a mailbox.
pub fn checkpoint_key(endpoint: &Endpoint, mailbox: &str) -> String {
    format!(
        "{}@{}:{}/{}",
        endpoint.user, endpoint.host, endpoint.port, mailbox
    )
}

/// The folders on the server, decoded from modified UTF-7.
pub(crate) async fn list_folders(
    session: &mut ImapSession,
    limit: Duration,
    endpoint: &Endpoint,
) -> Result<HashSet<String>, ImapError> {
    let names = timeout(limit, async {
        let stream = session.list(Some(""), Some("*")).await?;
        stream.try_collect::<Vec<_>>().await
    })
    .await
    .map_err(|_| endpoint.timed_out("LIST"))?
    .map_err(ImapError::from_imap)?;
    Ok(names
        .iter()
        .map(|n| utf7::decode(n.name()).unwrap_or_else(|| n.name().to_string()))
        .collect())
}

/// True when `folders` (decoded names) holds `mailbox`; INBOX is
/// case-insensitive (RFC 3501 §5.1).
pub(crate) fn has_mailbox(folders: &HashSet<String>, mailbox: &str) -> bool {
    folders.contains(mailbox)
        || (mailbox.eq_ignore_ascii_case("INBOX")
            && folders.iter().any(|f| f.eq_ignore_ascii_case("INBOX")))
}

/// What a fetch of one UID gave.
enum Fetch {
    /// The message.
    Message(Fetched),
    /// No such message any more (expunged meanwhile).
    Gone,
    /// The server answered for the UID but without the message's bytes.
    NoBody,
}

/// `UID FETCH uid (UID INTERNALDATE BODY.PEEK[]<0.limit>)`: the message
/// (up to `limit` bytes), one at a time so at most one message is in
/// memory; PEEK leaves \Seen alone.
async fn fetch_one(
    session: &mut ImapSession,
    uid: u32,
    limit: u64,
) -> async_imap::error::Result<Fetch> {
    let query = format!("(UID INTERNALDATE BODY.PEEK[]<0.{limit}>)");
    let mut stream = session.uid_fetch(uid.to_string(), &query).await?;
    let mut found = Fetch::Gone;
    while let Some(fetch) = stream.try_next().await? {
        // Unsolicited FETCH responses (flag changes) for other messages may
        // be interleaved; keep only ours.
        if fetch.uid != Some(uid) || matches!(found, Fetch::Message(_)) {
            continue;
        }
        found = match fetch.body() {
            Some(body) => {
                // INTERNALDATE is when the server received it; a server
                // that omits it gets our clock, never the Date header.
                let received_at = fetch
                    .internal_date()
                    .unwrap_or_else(|| Utc::now().fixed_offset());
                Fetch::Message(Fetched {
                    raw: body.to_vec(),
                    received_at,
                })
            }
            None => Fetch::NoBody,
        };
    }
    Ok(found)
}

/// Without MOVE: copy, flag \Deleted, and expunge exactly these UIDs
/// (`set`, UIDPLUS). Without UIDPLUS the flag stays and nothing is
/// expunged, since a plain EXPUNGE would also remove other messages someone
/// flagged.
async fn copy_and_delete(
    session: &mut ImapSession,
    set: &str,
    folder_wire: &str,
    uidplus: bool,
) -> async_imap::error::Result<()> {
    session.uid_copy(set, folder_wire).await?;
    {
        let stream = session.uid_store(set, "+FLAGS.SILENT (\\Deleted)").await?;
        stream.try_collect::<Vec<_>>().await?;
    }
    if uidplus {
        let stream = session.uid_expunge(set).await?;
        stream.try_collect::<Vec<_>>().await?;
    }
    Ok(())
}

/// An IMAP sequence set for ascending `uids`, runs written as ranges:
/// `[3, 4, 5, 9]` → `3:5,9`.
fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while let Some(&first) = uids.get(i) {
        let mut last = first;
        while uids.get(i + 1) == Some(&last.saturating_add(1)) {
            last += 1;
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if last == first {
            out.push_str(&first.to_string());
        } else {
            out.push_str(&format!("{first}:{last}"));
        }
        i += 1;
    }
    out
}

/// Capped exponential back-off with a little jitter, so several gateways
/// do not reconnect in lock-step.
#[derive(Debug)]
struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            current: min,
        }
    }

    fn next_delay(&mut self) -> Duration {
        let base = self.current;
        self.current = (self.current * 2).min(self.max);
        let jitter = rand::random::<f64>() * 0.2;
        base.mul_f64(1.0 - jitter).max(Duration::from_millis(10))
    }

    fn reset(&mut self) {
        self.current = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
        let delays: Vec<_> = (0..6).map(|_| b.next_delay()).collect();
        assert!(delays[0] <= Duration::from_millis(100) && delays[0] >= Duration::from_millis(80));
        assert!(delays[3] <= Duration::from_millis(800) && delays[3] >= Duration::from_millis(640));
        assert!(delays[5] <= Duration::from_millis(800) && delays[5] >= Duration::from_millis(640));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn uid_sets_write_runs_as_ranges() {
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[7]), "7");
        assert_eq!(uid_set(&[3, 4, 5, 9]), "3:5,9");
        assert_eq!(uid_set(&[1, 3, 5]), "1,3,5");
        assert_eq!(uid_set(&[1, 2, 4, 5, 6, u32::MAX]), "1:2,4:6,4294967295");
        assert_eq!(uid_set(&[u32::MAX - 1, u32::MAX]), "4294967294:4294967295");
    }

    #[test]
    fn idle_is_renewed_before_29_minutes() {
        let o = WatchOptions::default();
        assert!(o.idle_renew < Duration::from_secs(29 * 60));
        assert!(o.idle_silence < o.idle_renew);
    }
}
