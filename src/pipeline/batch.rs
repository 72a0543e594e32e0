//! Group intake (issue 15): a backlog is taken a batch of messages at a
//! time, with the same result as [`Intake::process`] on each in turn but
//! far fewer durable commits.
//!
//! Per batch: one transaction stores every raw message and counts every
//! attempt (the crash-loop guard of [`crate::queue::attempts`] stays: the
//! attempts are committed before anything is read); the messages are then
//! read and checked in parallel, bounded by `[readers] processes`; and one
//! transaction files them all, in arrival order, with their replies. A
//! source moves or flags each message only after that commit, so
//! exactly-once filing and answering hold as for single messages.
//!
//! Whatever is unusual goes the single-message way, which is slower but
//! says precisely what failed: a message tried before (it may be the one a
//! process died on, so it must not take its neighbours down with it
//! again), one whose analysis failed, and every message of a batch whose
//! filing transaction failed.

use super::{Analysis, Intake, IntakeError, Outcome, Recorded};
use crate::message::peek::HeaderPeek;
use crate::queue::attempts::{self, Start};
use crate::queue::blobs;
use chrono::{DateTime, FixedOffset};
use futures::StreamExt;
use tracing::Instrument;

/// One received message handed to [`Intake::process_batch`].
#[derive(Clone, Debug)]
pub struct Arrived {
    /// The message as received.
    pub raw: Vec<u8>,
    /// When it reached our mailbox (never its Date header).
    pub received_at: DateTime<FixedOffset>,
}

/// A message of a batch between its arrival and its filing.
struct Pending<'a> {
    index: usize,
    arrived: &'a Arrived,
    peek: HeaderPeek,
    sha: String,
}

impl Intake {
    /// Processes `batch` as [`Intake::process`] would process each message
    /// in turn, and returns each message's result in the same order. The
    /// caller moves or flags a message only when its result is `Ok`.
    ///
    /// Messages tried before go alone, in their place in the order; the
    /// runs of new messages between them go as groups.
    pub async fn process_batch(&self, batch: &[Arrived]) -> Vec<Result<Outcome, IntakeError>> {
        if batch.len() < 2 {
            return self.one_by_one(batch).await;
        }
        let shas: Vec<String> = batch.iter().map(|a| blobs::sha256_hex(&a.raw)).collect();
        let tried = match self.connection().await {
            Ok(mut conn) => attempts::tried_before(&mut conn, &shas).await.ok(),
            Err(_) => None,
        };
        // The database is out: each message reports it its own way.
        let Some(tried) = tried else {
            return self.one_by_one(batch).await;
        };
        let mut results = Vec::with_capacity(batch.len());
        let mut first = 0;
        for i in 0..=batch.len() {
            if i < batch.len() && !tried.contains(&shas[i]) {
                continue;
            }
            if first < i {
                results.extend(self.process_group(&batch[first..i], &shas[first..i]).await);
            }
            if let Some(a) = batch.get(i) {
                results.push(self.process(&a.raw, a.received_at).await);
            }
            first = i + 1;
        }
        results
    }

    /// New messages together (`shas` their SHA-256, in the same order): one
    /// commit counts them, one files them.
    async fn process_group(
        &self,
        batch: &[Arrived],
        shas: &[String],
    ) -> Vec<Result<Outcome, IntakeError>> {
        if batch.len() < 2 {
            return self.one_by_one(batch).await;
        }
        let started = std::time::Instant::now();
        let mut results: Vec<Option<Result<Outcome, IntakeError>>> =
            (0..batch.len()).map(|_| None).collect();
        let pending: Vec<Pending> = batch
            .iter()
            .zip(shas)
            .enumerate()
            .map(|(index, (arrived, sha))| Pending {
                index,
                arrived,
                peek: HeaderPeek::of(&arrived.raw),
                sha: sha.clone(),
            })
            .collect();
        let starts = match self.arrive_all(&pending).await {
            Ok(starts) => starts,
            // Nothing was stored: each message goes its own way, which
            // counts and reports an outage as for a single message.
            Err(_) => return self.one_by_one(batch).await,
        };
        let mut grouped = Vec::new();
        let mut alone = Vec::new();
        for (p, start) in pending.into_iter().zip(starts) {
            match start {
                Start::SetAside(why) | Start::AlreadySetAside(why) => {
                    let now = start == Start::SetAside(why);
                    results[p.index] = Some(Ok(self.set_aside(&p.peek, p.sha, why, now)));
                }
                Start::Proceed { attempt } if attempt > 1 => alone.push(p),
                Start::Proceed { .. } | Start::Handled => grouped.push(p),
            }
        }
        for (index, result) in self.read_and_file_all(grouped).await {
            results[index] = Some(result);
        }
        for p in alone {
            let result = self.after_arrival(&p).await;
            results[p.index] = Some(result);
        }
        let elapsed = started.elapsed() / u32::try_from(batch.len()).unwrap_or(u32::MAX);
        results
            .into_iter()
            .map(|r| {
                let r = r.unwrap_or_else(|| {
                    Err(IntakeError::Internal(anyhow::anyhow!(
                        "a message of the batch was left without a result"
                    )))
                });
                super::outcome::count(&r, elapsed);
                r
            })
            .collect()
    }

    /// Each message through [`Intake::process`], in order.
    async fn one_by_one(&self, batch: &[Arrived]) -> Vec<Result<Outcome, IntakeError>> {
        let mut out = Vec::with_capacity(batch.len());
        for a in batch {
            out.push(self.process(&a.raw, a.received_at).await);
        }
        out
    }

    /// Stores the raw bytes of every message and counts every attempt, in
    /// one transaction.
    async fn arrive_all(&self, pending: &[Pending<'_>]) -> Result<Vec<Start>, IntakeError> {
        let inner = &self.inner;
        let uncounted: Vec<u32> = pending
            .iter()
            .map(|p| self.take_uncounted(&p.sha))
            .collect();
        let stored = async {
            let mut tx = inner.db.begin().await?;
            let mut starts = Vec::with_capacity(pending.len());
            for (p, uncounted) in pending.iter().zip(&uncounted) {
                blobs::put(&mut tx, &p.arrived.raw).await?;
                let arrival = attempts::Arrival {
                    raw_sha256: &p.sha,
                    source: &inner.source,
                    received_at: p.arrived.received_at.to_utc(),
                    message_id: &p.peek.message_id,
                    from_address: &p.peek.from_address,
                    subject: &p.peek.subject,
                };
                starts.push(
                    attempts::start(&mut tx, &arrival, inner.intake.max_attempts, *uncounted)
                        .await?,
                );
            }
            tx.commit().await?;
            anyhow::Ok(starts)
        }
        .await;
        stored.map_err(|e| {
            // As for one message: the counts may have been committed.
            for (p, n) in pending.iter().zip(uncounted) {
                self.remember_uncounted(&p.sha, n + 1);
            }
            IntakeError::Database(e)
        })
    }

    /// A message whose attempt is counted, on its own (as
    /// [`Intake::process`] goes on after its arrival).
    async fn after_arrival(&self, p: &Pending<'_>) -> Result<Outcome, IntakeError> {
        let span = crate::observe::logging::message_span(&p.peek.message_id, &p.arrived.raw);
        async {
            match self
                .read_and_file(&p.arrived.raw, &p.sha, p.arrived.received_at)
                .await
            {
                Ok(outcome) => Ok(outcome),
                Err(e) => self.failed(&p.peek, p.sha.clone(), e).await,
            }
        }
        .instrument(span)
        .await
    }

    /// Reads and checks the messages in parallel, then files them in one
    /// transaction; the result of each by its index in the batch.
    async fn read_and_file_all(
        &self,
        grouped: Vec<Pending<'_>>,
    ) -> Vec<(usize, Result<Outcome, IntakeError>)> {
        let mut out = Vec::with_capacity(grouped.len());
        if grouped.is_empty() {
            return out;
        }
        let analysed = match self.analyse_all(&grouped).await {
            Ok(analysed) => analysed,
            Err(_) => {
                // The authorised senders could not be read: the database is
                // out; each message reports it its own way.
                for p in &grouped {
                    out.push((p.index, self.after_arrival(p).await));
                }
                return out;
            }
        };
        let mut ready = Vec::new();
        for (p, work) in grouped.iter().zip(analysed) {
            match work {
                Ok(work) => ready.push((p, work)),
                Err(e) => out.push((p.index, self.failed(&p.peek, p.sha.clone(), e).await)),
            }
        }
        match self.commit_all(&ready).await {
            Ok(outcomes) => {
                for ((p, _), outcome) in ready.iter().zip(outcomes) {
                    out.push((p.index, Ok(outcome)));
                }
            }
            Err(e) => {
                tracing::warn!(messages = ready.len(), error = %format!("{e:#}"),
                    "filing a batch failed; filing its messages one at a time");
                for (p, work) in &ready {
                    let result = match self.commit(work, &p.sha, p.arrived.received_at).await {
                        Ok(outcome) => Ok(outcome),
                        Err(e) => self.failed(&p.peek, p.sha.clone(), e).await,
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
        let parallel = self.inner.readers.processes().max(1);
        // Owned inputs: the futures borrow nothing from the batch.
        let mut jobs = Vec::with_capacity(grouped.len());
        for p in grouped {
            let this = self.clone();
            let raw = p.arrived.raw.clone();
            let received_at = p.arrived.received_at;
            let directory = directory.clone();
            let span = crate::observe::logging::message_span(&p.peek.message_id, &p.arrived.raw);
            jobs.push(async move {
                tokio::task::spawn_blocking(move || {
                    span.in_scope(|| this.analyse(&raw, received_at, &directory))
                })
                .await
                .map_err(|e| {
                    IntakeError::Internal(anyhow::anyhow!("the analysis task failed: {e}"))
                })?
                .map_err(super::AnalysisError::into_intake)
            });
        }
        let analyses = futures::stream::iter(jobs)
            .buffered(parallel)
            .collect::<Vec<_>>()
            .await;
        Ok(analyses)
    }

    /// Files every analysed message in one transaction, in order; the
    /// outcome of each. Any error leaves nothing written.
    async fn commit_all(
        &self,
        ready: &[(&Pending<'_>, Analysis)],
    ) -> Result<Vec<Outcome>, IntakeError> {
        let mut tx = self.inner.db.begin().await.map_err(IntakeError::Database)?;
        let mut recorded = Vec::with_capacity(ready.len());
        for (p, work) in ready {
            let span = crate::observe::logging::message_span(&p.peek.message_id, &p.arrived.raw);
            let r = self
                .record(&mut tx, work, &p.sha, p.arrived.received_at)
                .instrument(span)
                .await?;
            recorded.push(r);
        }
        use anyhow::Context;
        tx.commit()
            .await
            .context("cannot commit a batch of messages")
            .map_err(IntakeError::Database)?;
        let mut outcomes = Vec::with_capacity(ready.len());
        for ((p, work), r) in ready.iter().zip(recorded) {
            outcomes.push(match r {
                Recorded::Filed(outcome) => self.committed(work, outcome),
                Recorded::AlreadyThere => self.already_processed(work, &p.sha).await?,
            });
        }
        Ok(outcomes)
    }
}
