//! Group intake (issue 15): a backlog is taken a batch of messages at a
//! time, with the same result as [`Intake::process`] on each in turn but
//! far fewer durable commits.
//!
//! A batch goes through three stages, which a source may overlap from one
//! batch to the next (the Maildir source reads batch *n + 1* while batch
//! *n* is being filed, so both cores work):
//!
//! 1. [`Intake::receive`]: one transaction stores every raw message and
//!    counts every attempt (the crash-loop guard of
//!    [`crate::queue::attempts`] stays: the attempts are committed before
//!    anything is read);
//! 2. [`Intake::read`]: the messages are read and checked in parallel,
//!    bounded by `[readers] processes` (no database write);
//! 3. [`Intake::file`]: one transaction files them all, in arrival order,
//!    with their replies.
//!
//! A source moves or flags each message only after the third stage, so
//! exactly-once filing and answering hold as for single messages.
//!
//! Whatever is unusual goes the single-message way, which is slower but
//! says precisely what failed: a message tried before (it may be the one a
//! process died on, so it must not take its neighbours down with it
//! again), one whose analysis failed, and every message of a batch whose
//! filing transaction failed. A batch holding a message tried before is
//! [`Received::in_turn`]: it is taken in the order of the single-message
//! way, and a source must not receive the next batch before filing it.

use super::{Analysis, Intake, IntakeError, Outcome};
use crate::message::peek::HeaderPeek;
use crate::queue::attempts::{self, Start};
use crate::queue::blobs;
use chrono::{DateTime, FixedOffset};
use futures::StreamExt;
use std::time::Instant;
use tracing::Instrument;

/// One received message handed to [`Intake::process_batch`].
#[derive(Clone, Debug)]
pub struct Arrived {
    /// The message as received.
    pub raw: Vec<u8>,
    /// When it reached our mailbox (never its Date header).
    pub received_at: DateTime<FixedOffset>,
}

/// A batch after [`Intake::receive`]: its raw messages stored and its
/// attempts counted (or, for a batch taken in turn, nothing done yet).
#[derive(Debug)]
pub struct Received {
    arrived: Vec<Arrived>,
    plan: Plan,
    started: Instant,
}

/// A batch after [`Intake::read`]: its messages read and checked, ready to
/// be filed by [`Intake::file`].
#[derive(Debug)]
pub struct Ready(Received);

/// How the third stage takes a batch.
enum Plan {
    /// A message at a time through [`Intake::process`]: a batch of one, or
    /// nothing could be stored (each message reports the outage its way).
    OneByOne,
    /// Holds a message tried before: runs of new messages as groups, each
    /// message tried before alone, in order, all in the third stage.
    InTurn {
        /// The SHA-256 of the messages tried before.
        tried: std::collections::HashSet<String>,
        /// The SHA-256 of every message, in order.
        shas: Vec<String>,
    },
    /// Every message new and counted in one commit.
    Counted(Vec<Member>),
}

/// A message of a counted batch.
struct Member {
    /// Its place in the batch.
    index: usize,
    peek: HeaderPeek,
    sha: String,
    state: State,
}

/// Where a member of a counted batch stands.
enum State {
    /// Its result is known (set aside at arrival).
    Done(Result<Outcome, IntakeError>),
    /// To be read and filed alone after the group (its attempt was not the
    /// first, or the group could not be read together).
    Alone,
    /// To be read with the group.
    Grouped,
    /// Read; to be filed with the group.
    Analysed(Box<Result<Analysis, IntakeError>>),
    /// Taken by the third stage.
    Taken,
}

/// A member of a batch, borrowed with its message.
struct Pending<'a> {
    index: usize,
    arrived: &'a Arrived,
    peek: &'a HeaderPeek,
    sha: &'a str,
}

impl Received {
    /// True when a message of the batch is read the single-message way in
    /// the third stage (it was tried before, the batch is a single message,
    /// or the database did not answer): the next batch must not be received
    /// (its attempts counted) before this one is filed, or a message a
    /// process keeps dying on would count attempts against it.
    pub fn in_turn(&self) -> bool {
        self.plan.in_turn()
    }
}

impl Plan {
    fn in_turn(&self) -> bool {
        match self {
            Plan::Counted(members) => members.iter().any(|m| matches!(m.state, State::Alone)),
            Plan::OneByOne | Plan::InTurn { .. } => true,
        }
    }
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Plan::OneByOne => f.write_str("OneByOne"),
            Plan::InTurn { .. } => f.write_str("InTurn"),
            Plan::Counted(members) => write!(f, "Counted({} messages)", members.len()),
        }
    }
}

impl Intake {
    /// Processes `batch` as [`Intake::process`] would process each message
    /// in turn, and returns each message's result in the same order. The
    /// caller moves or flags a message only when its result is `Ok`.
    ///
    /// The three stages one after the other; a source that overlaps them
    /// calls [`Intake::receive`], [`Intake::read`] and [`Intake::file`].
    pub async fn process_batch(&self, batch: &[Arrived]) -> Vec<Result<Outcome, IntakeError>> {
        let received = self.receive(batch.to_vec()).await;
        let read = self.read(received).await;
        self.file(read).await
    }

    /// The first stage: stores every raw message and counts every attempt
    /// in one commit. A batch holding a message tried before is only
    /// marked [`Received::in_turn`]; the database being out is reported by
    /// each message in the third stage.
    pub async fn receive(&self, batch: Vec<Arrived>) -> Received {
        let started = Instant::now();
        if batch.len() < 2 {
            return Received {
                arrived: batch,
                plan: Plan::OneByOne,
                started,
            };
        }
        let shas: Vec<String> = batch.iter().map(|a| blobs::sha256_hex(&a.raw)).collect();
        let tried = match self.connection().await {
            Ok(mut conn) => attempts::tried_before(&mut conn, &shas).await.ok(),
            Err(_) => None,
        };
        let plan = match tried {
            None => Plan::OneByOne,
            Some(tried) if shas.iter().any(|s| tried.contains(s)) => Plan::InTurn { tried, shas },
            Some(_) => self.count(&batch, shas).await,
        };
        Received {
            arrived: batch,
            plan,
            started,
        }
    }

    /// The second stage: reads and checks the counted messages in
    /// parallel (at most `[readers] processes` at once). Writes nothing.
    pub async fn read(&self, received: Received) -> Ready {
        let Received {
            arrived,
            mut plan,
            started,
        } = received;
        if let Plan::Counted(members) = &mut plan {
            self.read_members(&arrived, members).await;
        }
        Ready(Received {
            arrived,
            plan,
            started,
        })
    }

    /// The third stage: files the read messages in one transaction, in
    /// order, with their replies; each message's result in the batch's
    /// order.
    pub async fn file(&self, read: Ready) -> Vec<Result<Outcome, IntakeError>> {
        match read.0.plan {
            Plan::InTurn { tried, shas } => self.in_turn(&read.0.arrived, &tried, &shas).await,
            plan => self.file_counted(Ready(Received { plan, ..read.0 })).await,
        }
    }

    /// Gives up a read batch without filing it (the filing before it failed
    /// for an outage): its counted attempts are taken back at the messages'
    /// next start, as for an attempt an outage cut short, and the files
    /// stay where they are.
    pub fn abandon(&self, ready: Ready) {
        self.abandon_received(ready.0);
    }

    /// Gives up a received batch before it is read, as [`Intake::abandon`]
    /// a read one (a batch taken in turn may hold counted messages: one
    /// whose bytes came twice in the batch, counted as a second attempt).
    pub fn abandon_received(&self, received: Received) {
        if let Plan::Counted(members) = received.plan {
            for m in members {
                if !matches!(m.state, State::Done(_)) {
                    self.remember_uncounted(&m.sha, 1);
                }
            }
        }
    }

    /// The old order for a batch holding messages tried before: the runs of
    /// new messages between them through the three stages, each message
    /// tried before alone.
    async fn in_turn(
        &self,
        batch: &[Arrived],
        tried: &std::collections::HashSet<String>,
        shas: &[String],
    ) -> Vec<Result<Outcome, IntakeError>> {
        let mut results = Vec::with_capacity(batch.len());
        let mut first = 0;
        for i in 0..=batch.len() {
            if i < batch.len() && !tried.contains(&shas[i]) {
                continue;
            }
            if first < i {
                let run = batch[first..i].to_vec();
                let received = match run.len() {
                    1 => Received {
                        arrived: run,
                        plan: Plan::OneByOne,
                        started: Instant::now(),
                    },
                    _ => Received {
                        plan: self.count(&run, shas[first..i].to_vec()).await,
                        arrived: run,
                        started: Instant::now(),
                    },
                };
                let read = self.read(received).await;
                results.extend(self.file_counted(read).await);
            }
            if let Some(a) = batch.get(i) {
                results.push(self.process(&a.raw, a.received_at).await);
            }
            first = i + 1;
        }
        results
    }

    /// The third stage of a batch that is not taken in turn.
    async fn file_counted(&self, read: Ready) -> Vec<Result<Outcome, IntakeError>> {
        let Received {
            arrived,
            plan,
            started,
        } = read.0;
        let members = match plan {
            Plan::Counted(members) => members,
            Plan::OneByOne | Plan::InTurn { .. } => return self.one_by_one(&arrived).await,
        };
        let results = self.file_members(&arrived, members).await;
        let elapsed = started.elapsed() / u32::try_from(arrived.len()).unwrap_or(u32::MAX);
        for r in &results {
            super::outcome::count(r, elapsed);
        }
        results
    }

    /// Each message through [`Intake::process`], in order.
    async fn one_by_one(&self, batch: &[Arrived]) -> Vec<Result<Outcome, IntakeError>> {
        let mut out = Vec::with_capacity(batch.len());
        for a in batch {
            out.push(self.process(&a.raw, a.received_at).await);
        }
        out
    }

    /// Stores the raw bytes of every message of `batch` (all new; `shas`
    /// their SHA-256) and counts every attempt, in one transaction; what
    /// each message's arrival said. Nothing stored: each message goes its
    /// own way, which counts and reports an outage as for a single message.
    async fn count(&self, batch: &[Arrived], shas: Vec<String>) -> Plan {
        let mut members: Vec<Member> = batch
            .iter()
            .zip(shas)
            .enumerate()
            .map(|(index, (arrived, sha))| Member {
                index,
                peek: HeaderPeek::of(&arrived.raw),
                sha,
                state: State::Grouped,
            })
            .collect();
        let Ok(starts) = self.arrive_all(batch, &members).await else {
            return Plan::OneByOne;
        };
        for (m, start) in members.iter_mut().zip(starts) {
            m.state = match start {
                Start::SetAside(why) | Start::AlreadySetAside(why) => {
                    let now = start == Start::SetAside(why);
                    State::Done(Ok(self.set_aside(&m.peek, m.sha.clone(), why, now)))
                }
                Start::Proceed { attempt } if attempt > 1 => State::Alone,
                Start::Proceed { .. } | Start::Handled => State::Grouped,
            };
        }
        Plan::Counted(members)
    }

    /// Stores the raw bytes of every member and counts every attempt, in
    /// one transaction.
    async fn arrive_all(
        &self,
        batch: &[Arrived],
        members: &[Member],
    ) -> Result<Vec<Start>, IntakeError> {
        let inner = &self.inner;
        let uncounted: Vec<u32> = members
            .iter()
            .map(|m| self.take_uncounted(&m.sha))
            .collect();
        let stored = async {
            let _turn = inner.db.write_turn().await;
            let mut tx = inner.db.begin().await?;
            // One statement for the raw bytes, one for the attempts.
            let mut staged = crate::queue::Staged::new();
            let mut arrivals = Vec::with_capacity(members.len());
            for m in members {
                let arrived = &batch[m.index];
                staged.put_blob(&arrived.raw);
                arrivals.push(attempts::Arrival {
                    raw_sha256: &m.sha,
                    source: &inner.source,
                    received_at: arrived.received_at.to_utc(),
                    message_id: &m.peek.message_id,
                    from_address: &m.peek.from_address,
                    subject: &m.peek.subject,
                });
            }
            staged.flush(&mut tx).await?;
            let starts =
                attempts::start_all(&mut tx, &arrivals, inner.intake.max_attempts, &uncounted)
                    .await?;
            tx.commit().await?;
            anyhow::Ok(starts)
        }
        .await;
        stored.map_err(|e| {
            // As for one message: the counts may have been committed.
            for (m, n) in members.iter().zip(uncounted) {
                self.remember_uncounted(&m.sha, n + 1);
            }
            IntakeError::Database(e)
        })
    }

    /// Reads the members still grouped; when the authorised senders cannot
    /// be read (the database is out), each goes alone instead.
    async fn read_members(&self, batch: &[Arrived], members: &mut [Member]) {
        let grouped: Vec<usize> = (0..members.len())
            .filter(|&i| matches!(members[i].state, State::Grouped))
            .collect();
        if grouped.is_empty() {
            return;
        }
        let pending: Vec<Pending> = grouped
            .iter()
            .map(|&i| pending(batch, &members[i]))
            .collect();
        let analysed = self.analyse_all(&pending).await;
        drop(pending);
        match analysed {
            Ok(analysed) => {
                for (i, work) in grouped.into_iter().zip(analysed) {
                    members[i].state = State::Analysed(Box::new(work));
                }
            }
            Err(_) => {
                for i in grouped {
                    members[i].state = State::Alone;
                }
            }
        }
    }

    /// Files the members of a counted batch: those read in one
    /// transaction, then those that go alone; each result by its place in
    /// the batch.
    async fn file_members(
        &self,
        batch: &[Arrived],
        mut members: Vec<Member>,
    ) -> Vec<Result<Outcome, IntakeError>> {
        let mut results: Vec<Option<Result<Outcome, IntakeError>>> =
            (0..batch.len()).map(|_| None).collect();
        let states: Vec<State> = members
            .iter_mut()
            .map(|m| std::mem::replace(&mut m.state, State::Taken))
            .collect();
        let mut ready = Vec::new();
        let mut alone = Vec::new();
        for (m, state) in members.iter().zip(states) {
            let p = pending(batch, m);
            match state {
                State::Done(result) => results[m.index] = Some(result),
                State::Analysed(work) => match *work {
                    Ok(work) => ready.push((p, work)),
                    Err(e) => {
                        results[m.index] = Some(self.failed(p.peek, p.sha.to_string(), e).await);
                    }
                },
                State::Alone | State::Grouped | State::Taken => alone.push(p),
            }
        }
        for (index, result) in self.file_ready(&ready).await {
            results[index] = Some(result);
        }
        for p in alone {
            let result = self.after_arrival(&p).await;
            results[p.index] = Some(result);
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(IntakeError::Internal(anyhow::anyhow!(
                        "a message of the batch was left without a result"
                    )))
                })
            })
            .collect()
    }

    /// A message whose attempt is counted, on its own (as
    /// [`Intake::process`] goes on after its arrival).
    async fn after_arrival(&self, p: &Pending<'_>) -> Result<Outcome, IntakeError> {
        let span = crate::observe::logging::message_span(&p.peek.message_id, &p.arrived.raw);
        async {
            match self
                .read_and_file(&p.arrived.raw, p.sha, p.arrived.received_at)
                .await
            {
                Ok(outcome) => Ok(outcome),
                Err(e) => self.failed(p.peek, p.sha.to_string(), e).await,
            }
        }
        .instrument(span)
        .await
    }

    /// Files the read messages in one transaction; when that fails, each
    /// one alone, so each says what failed. The result of each by its
    /// index in the batch.
    async fn file_ready(
        &self,
        ready: &[(Pending<'_>, Analysis)],
    ) -> Vec<(usize, Result<Outcome, IntakeError>)> {
        let mut out = Vec::with_capacity(ready.len());
        if ready.is_empty() {
            return out;
        }
        match self.commit_all(ready).await {
            Ok(outcomes) => {
                for ((p, _), outcome) in ready.iter().zip(outcomes) {
                    out.push((p.index, Ok(outcome)));
                }
            }
            Err(e) => {
                tracing::warn!(messages = ready.len(), error = %format!("{e:#}"),
                    "filing a batch failed; filing its messages one at a time");
                for (p, work) in ready {
                    let result = match self.commit(work, p.sha, p.arrived.received_at).await {
                        Ok(outcome) => Ok(outcome),
                        Err(e) => self.failed(p.peek, p.sha.to_string(), e).await,
                    };
                    out.push((p.index, result));
                }
            }
        }
        out
    }

    /// Every message analysed (off the runtime, at most `[readers]
    /// processes` at once); the error is the database's when the
    /// authorised senders cannot be read.
    async fn analyse_all(
        &self,
        grouped: &[Pending<'_>],
    ) -> Result<Vec<Result<Analysis, IntakeError>>, IntakeError> {
        let authorised = {
            let mut conn = self.connection().await?;
            crate::queue::senders::authorised(&mut conn)
                .await
                .map_err(IntakeError::Database)?
        };
        let directory = std::sync::Arc::new(self.inner.directory.with_authorised(&authorised));
        // Twice as many analyses as reader processes: while a reader
        // parses one message, the gateway side of another (decoding the
        // answer, checking the sheet, making the annotated copy) runs, so
        // neither waits for the other; the pool itself still runs at most
        // `processes` readers (in process, `processes` is the number of
        // cores: the analyses are then all CPU, twice the cores at most).
        let parallel = self.inner.readers.processes().max(1) * 2;
        // Owned inputs: the futures borrow nothing from the batch.
        let mut jobs = Vec::with_capacity(grouped.len());
        for p in grouped {
            let this = self.clone();
            let raw = p.arrived.raw.clone();
            let received_at = p.arrived.received_at;
            let directory = directory.clone();
            let span = crate::observe::logging::message_span(&p.peek.message_id, &p.arrived.raw);
            let index = jobs.len();
            jobs.push(async move {
                let analysis = tokio::task::spawn_blocking(move || {
                    span.in_scope(|| this.analyse(&raw, received_at, &directory))
                })
                .await
                .map_err(|e| {
                    IntakeError::Internal(anyhow::anyhow!("the analysis task failed: {e}"))
                })
                .and_then(|r| r.map_err(super::AnalysisError::into_intake));
                (index, analysis)
            });
        }
        // Unordered: a slow message (a large workbook) does not hold the
        // slots of those after it; the results are put back in order.
        let mut analyses = futures::stream::iter(jobs)
            .buffer_unordered(parallel)
            .collect::<Vec<_>>()
            .await;
        analyses.sort_unstable_by_key(|(index, _)| *index);
        Ok(analyses.into_iter().map(|(_, a)| a).collect())
    }

    /// Files every analysed message in one transaction, in order; the
    /// outcome of each. Any error leaves nothing written.
    async fn commit_all(
        &self,
        ready: &[(Pending<'_>, Analysis)],
    ) -> Result<Vec<Outcome>, IntakeError> {
        let turn = self.inner.db.write_turn().await;
        let mut tx = self.inner.db.begin().await.map_err(IntakeError::Database)?;
        let mut staged = crate::queue::Staged::new();
        // Per message: its place in `filed`, or None when it was there.
        let mut places = Vec::with_capacity(ready.len());
        let mut filed = Vec::with_capacity(ready.len());
        let rows: Vec<_> = ready
            .iter()
            .map(|(p, work)| (work, p.sha, p.arrived.received_at))
            .collect();
        let ids = self.insert_messages(&mut tx, &rows).await?;
        for ((p, work), id) in ready.iter().zip(ids) {
            let Some(id) = id else {
                places.push(None);
                continue;
            };
            let span = crate::observe::logging::message_span(&p.peek.message_id, &p.arrived.raw);
            let one = self
                .record(
                    (&mut tx, &mut staged),
                    id,
                    work,
                    p.sha,
                    p.arrived.received_at,
                )
                .instrument(span)
                .await?;
            filed.push(one);
            places.push(Some(filed.len() - 1));
        }
        self.close((&mut tx, &mut staged), &mut filed).await?;
        use anyhow::Context;
        tx.commit()
            .await
            .context("cannot commit a batch of messages")
            .map_err(IntakeError::Database)?;
        drop(turn);
        self.inner.db.note_filed(ready.len());
        let mut filed = filed.into_iter().map(Some).collect::<Vec<_>>();
        let mut outcomes = Vec::with_capacity(ready.len());
        for ((p, work), place) in ready.iter().zip(places) {
            outcomes.push(match place.and_then(|i| filed[i].take()) {
                Some((outcome, _)) => self.committed(work, outcome),
                None => self.already_processed(work, p.sha).await?,
            });
        }
        Ok(outcomes)
    }
}

/// A member of a batch, borrowed with its message.
fn pending<'a>(batch: &'a [Arrived], m: &'a Member) -> Pending<'a> {
    Pending {
        index: m.index,
        arrived: &batch[m.index],
        peek: &m.peek,
        sha: &m.sha,
    }
}
