//! Attempts at each received message (`intake_attempts`), and the messages
//! set aside as 処理不能 (dead letters).
//!
//! The pipeline counts an attempt in its own committed transaction before it
//! reads a message. A process that dies while reading (an abort, the kernel's
//! OOM killer, a power cut) therefore leaves the count behind, and after
//! `max_attempts` such starts the message is set aside instead of being read
//! again: one message can never put a gateway into a crash loop. A message
//! that fails permanently, or fails `max_attempts` times, is set aside too.
//! The raw bytes stay in `blobs`; an admin can try a set-aside message again
//! from the web UI ([`reset_for_retry`]).

use crate::queue::db::{now_text, time_text};
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

/// Why a message was set aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetAsideReason {
    /// Processing failed in a way retrying cannot fix (the message cannot
    /// be read or stored).
    Permanent,
    /// Processing failed `max_attempts` times in a row.
    RepeatedFailure,
    /// The process stopped (died) while processing it `max_attempts` times.
    Interrupted,
}

impl SetAsideReason {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            SetAsideReason::Permanent => "permanent",
            SetAsideReason::RepeatedFailure => "repeated_failure",
            SetAsideReason::Interrupted => "interrupted",
        }
    }

    /// Reads a stored code.
    pub fn parse(code: &str) -> Option<SetAsideReason> {
        [
            SetAsideReason::Permanent,
            SetAsideReason::RepeatedFailure,
            SetAsideReason::Interrupted,
        ]
        .into_iter()
        .find(|r| r.as_str() == code)
    }
}

/// A message as it arrives, before it is read.
#[derive(Clone, Debug)]
pub struct Arrival<'a> {
    /// The blob key of the raw bytes (already stored).
    pub raw_sha256: &'a str,
    /// `maildir`, `imap`, `ingest`, `retry`, ...
    pub source: &'a str,
    /// When it reached our mailbox.
    pub received_at: DateTime<Utc>,
    /// From a bounded look at the header block (may be empty).
    pub message_id: &'a str,
    /// Likewise.
    pub from_address: &'a str,
    /// Likewise.
    pub subject: &'a str,
}

/// What to do with an arriving message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// Read it: this is attempt number `attempt` (1 for the first).
    Proceed {
        /// The attempt now counted.
        attempt: i64,
    },
    /// It was handled before; read it again only to find the earlier
    /// outcome (nothing is counted).
    Handled,
    /// It has just been set aside (too many interrupted attempts).
    SetAside(SetAsideReason),
    /// It was set aside before and waits for an admin.
    AlreadySetAside(SetAsideReason),
}

/// Counts an attempt at `arrival`, in its own committed transaction
/// (`conn` must not be inside one), and says whether to read it. A message
/// whose earlier `max_attempts` attempts never finished is set aside now.
/// `uncounted` attempts made earlier by this process failed through an
/// outage and could not be taken back then: they are taken back now.
pub async fn start(
    conn: &mut AnyConnection,
    arrival: &Arrival<'_>,
    max_attempts: u32,
    uncounted: u32,
) -> anyhow::Result<Start> {
    if uncounted > 0 {
        forgive(conn, arrival.raw_sha256, uncounted).await?;
    }
    let now = now_text();
    // Insert-or-count in one statement, so two gateways racing on the same
    // bytes both count.
    sqlx::query(
        "INSERT INTO intake_attempts (raw_sha256, source, received_at, message_id, from_address, subject, attempts, state, first_at, last_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, 'processing', $7, $7) \
         ON CONFLICT (raw_sha256) DO UPDATE SET \
           attempts = CASE WHEN intake_attempts.state = 'processing' THEN intake_attempts.attempts + 1 ELSE intake_attempts.attempts END, \
           source = CASE WHEN intake_attempts.state = 'processing' THEN $2 ELSE intake_attempts.source END, \
           last_at = $7",
    )
    .bind(arrival.raw_sha256)
    .bind(arrival.source)
    .bind(time_text(arrival.received_at))
    .bind(&*crate::text::strip_controls(arrival.message_id))
    .bind(&*crate::text::strip_controls(arrival.from_address))
    .bind(&*crate::text::strip_controls(arrival.subject))
    .bind(&now)
    .execute(&mut *conn)
    .await
    .context("cannot count the attempt at a message")?;
    let row = sqlx::query(
        "SELECT state, attempts, reason_code FROM intake_attempts WHERE raw_sha256 = $1",
    )
    .bind(arrival.raw_sha256)
    .fetch_one(&mut *conn)
    .await
    .context("cannot read the attempts at a message")?;
    let counted = Counted {
        state: row.try_get("state")?,
        attempts: row.try_get("attempts")?,
        reason: row.try_get("reason_code")?,
    };
    decide(conn, arrival.raw_sha256, counted, max_attempts).await
}

/// [`start`] for several arrivals at once, in one transaction of the
/// caller: the attempts of all of them counted in one statement (issue 15),
/// with the same result for each as [`start`] in turn. Arrivals sharing
/// their bytes are counted one by one, as [`start`] would.
pub async fn start_all(
    conn: &mut AnyConnection,
    arrivals: &[Arrival<'_>],
    max_attempts: u32,
    uncounted: &[u32],
) -> anyhow::Result<Vec<Start>> {
    let mut shas: Vec<&str> = arrivals.iter().map(|a| a.raw_sha256).collect();
    shas.sort_unstable();
    shas.dedup();
    if shas.len() != arrivals.len() || arrivals.len() != uncounted.len() {
        let mut starts = Vec::with_capacity(arrivals.len());
        for (i, arrival) in arrivals.iter().enumerate() {
            let n = uncounted.get(i).copied().unwrap_or(0);
            starts.push(start(conn, arrival, max_attempts, n).await?);
        }
        return Ok(starts);
    }
    for (arrival, n) in arrivals.iter().zip(uncounted) {
        if *n > 0 {
            forgive(conn, arrival.raw_sha256, *n).await?;
        }
    }
    let now = now_text();
    let mut counted = std::collections::HashMap::with_capacity(arrivals.len());
    const COLUMNS: usize = 8;
    for chunk in arrivals.chunks(1000) {
        // Each new row starts at one attempt, processing, first tried
        // when last tried.
        let values = super::db::Params::on(conn).rows(chunk.len(), COLUMNS, ", 1, 'processing'");
        let sql = format!(
            "INSERT INTO intake_attempts (raw_sha256, source, received_at, message_id, from_address, subject, last_at, \
             first_at, attempts, state) VALUES {} \
             ON CONFLICT (raw_sha256) DO UPDATE SET \
               attempts = CASE WHEN intake_attempts.state = 'processing' THEN intake_attempts.attempts + 1 ELSE intake_attempts.attempts END, \
               source = CASE WHEN intake_attempts.state = 'processing' THEN excluded.source ELSE intake_attempts.source END, \
               last_at = excluded.last_at \
             RETURNING raw_sha256, state, attempts, reason_code",
            values
        );
        let mut query = sqlx::query(&sql);
        for a in chunk {
            query = query
                .bind(a.raw_sha256)
                .bind(a.source)
                .bind(time_text(a.received_at))
                .bind(crate::text::strip_controls(a.message_id).into_owned())
                .bind(crate::text::strip_controls(a.from_address).into_owned())
                .bind(crate::text::strip_controls(a.subject).into_owned())
                .bind(now.as_str())
                .bind(now.as_str());
        }
        let rows = query
            .fetch_all(&mut *conn)
            .await
            .context("cannot count the attempts at messages")?;
        for row in rows {
            let sha: String = row.try_get("raw_sha256")?;
            let c = Counted {
                state: row.try_get("state")?,
                attempts: row.try_get("attempts")?,
                reason: row.try_get("reason_code")?,
            };
            counted.insert(sha, c);
        }
    }
    let mut starts = Vec::with_capacity(arrivals.len());
    for a in arrivals {
        let c = counted
            .remove(a.raw_sha256)
            .context("an attempt was not counted")?;
        starts.push(decide(conn, a.raw_sha256, c, max_attempts).await?);
    }
    Ok(starts)
}

/// An attempts row as counted.
struct Counted {
    state: String,
    attempts: i64,
    reason: String,
}

/// What the counted attempts at `raw_sha256` mean (see [`start`]).
async fn decide(
    conn: &mut AnyConnection,
    raw_sha256: &str,
    counted: Counted,
    max_attempts: u32,
) -> anyhow::Result<Start> {
    let Counted {
        state,
        attempts,
        reason,
    } = counted;
    match state.as_str() {
        "done" => Ok(Start::Handled),
        "dead" => Ok(Start::AlreadySetAside(
            SetAsideReason::parse(&reason).unwrap_or(SetAsideReason::Permanent),
        )),
        _ if attempts > i64::from(max_attempts.max(1)) => {
            // Every earlier attempt started and none ended: the process died
            // on it (or failed without being able to say so).
            let why = if reason.is_empty() {
                SetAsideReason::Interrupted
            } else {
                SetAsideReason::RepeatedFailure
            };
            // This start is not an attempt: the message is not read.
            sqlx::query("UPDATE intake_attempts SET attempts = attempts - 1 WHERE raw_sha256 = $1")
                .bind(raw_sha256)
                .execute(&mut *conn)
                .await
                .context("cannot count the attempts at a message")?;
            set_aside(conn, raw_sha256, why, "").await?;
            Ok(Start::SetAside(why))
        }
        _ => Ok(Start::Proceed { attempt: attempts }),
    }
}

/// Which of `shas` were tried before and are not done (still being tried,
/// or set aside): a batch leaves them to go one at a time, so a message a
/// process died on never takes its neighbours' attempts with it again.
pub async fn tried_before(
    conn: &mut AnyConnection,
    shas: &[String],
) -> anyhow::Result<std::collections::HashSet<String>> {
    if shas.is_empty() {
        return Ok(Default::default());
    }
    let marks = super::db::Params::on(conn).list(shas.len());
    let sql = format!(
        "SELECT raw_sha256 FROM intake_attempts WHERE state <> 'done' AND raw_sha256 IN ({marks})"
    );
    let mut query = sqlx::query(&sql);
    for sha in shas {
        query = query.bind(sha);
    }
    let rows = query
        .fetch_all(&mut *conn)
        .await
        .context("cannot read the earlier attempts at messages")?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(anyhow::Error::from))
        .collect()
}

/// Records that the current attempt failed with `error`. A `permanent`
/// failure, or the `max_attempts`-th, sets the message aside; returns the
/// reason when it did.
pub async fn failed(
    conn: &mut AnyConnection,
    raw_sha256: &str,
    error: &str,
    permanent: bool,
    max_attempts: u32,
) -> anyhow::Result<Option<SetAsideReason>> {
    let error = crate::text::strip_controls(error);
    let row = sqlx::query(
        "UPDATE intake_attempts SET last_error = $1, reason_code = $2, last_at = $3 WHERE raw_sha256 = $4 RETURNING attempts",
    )
    .bind(truncate(&error, 2000))
    .bind(SetAsideReason::RepeatedFailure.as_str())
    .bind(now_text())
    .bind(raw_sha256)
    .fetch_optional(&mut *conn)
    .await
    .context("cannot record a failed attempt")?;
    let attempts: i64 = match row {
        Some(r) => r.try_get(0)?,
        None => 0,
    };
    let why = if permanent {
        SetAsideReason::Permanent
    } else if attempts >= i64::from(max_attempts.max(1)) {
        SetAsideReason::RepeatedFailure
    } else {
        return Ok(None);
    };
    set_aside(conn, raw_sha256, why, &error).await?;
    Ok(Some(why))
}

/// Takes back `n` attempts at a message that is still being tried (they
/// failed through an outage, not because of the message).
pub async fn forgive(conn: &mut AnyConnection, raw_sha256: &str, n: u32) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE intake_attempts SET attempts = CASE WHEN attempts > $1 THEN attempts - $1 ELSE 0 END \
         WHERE raw_sha256 = $2 AND state = 'processing'",
    )
    .bind(i64::from(n))
    .bind(raw_sha256)
    .execute(&mut *conn)
    .await
    .context("cannot take back an attempt")?;
    Ok(())
}

/// Marks the message handled; call inside the transaction that files it.
pub async fn finished(conn: &mut AnyConnection, raw_sha256: &str) -> anyhow::Result<()> {
    sqlx::query("UPDATE intake_attempts SET state = 'done', last_at = $1 WHERE raw_sha256 = $2")
        .bind(now_text())
        .bind(raw_sha256)
        .execute(&mut *conn)
        .await
        .context("cannot mark the message handled")?;
    Ok(())
}

/// Marks the attempts at every message of `raw_sha256s` finished, in one
/// statement per hundred messages (a batch's filing transaction).
pub async fn finished_all(conn: &mut AnyConnection, raw_sha256s: &[&str]) -> anyhow::Result<()> {
    let now = now_text();
    for chunk in raw_sha256s.chunks(100) {
        let mut params = super::db::Params::on(conn);
        let sql = format!(
            "UPDATE intake_attempts SET state = 'done', last_at = {} WHERE raw_sha256 IN ({})",
            params.next(),
            params.list(chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(&now);
        for sha in chunk {
            query = query.bind(*sha);
        }
        query
            .execute(&mut *conn)
            .await
            .context("cannot mark the messages handled")?;
    }
    Ok(())
}

async fn set_aside(
    conn: &mut AnyConnection,
    raw_sha256: &str,
    why: SetAsideReason,
    error: &str,
) -> anyhow::Result<()> {
    let now = now_text();
    sqlx::query(
        "UPDATE intake_attempts SET state = 'dead', reason_code = $1, \
         last_error = CASE WHEN $2 = '' THEN last_error ELSE $2 END, dead_at = $3, last_at = $3 \
         WHERE raw_sha256 = $4",
    )
    .bind(why.as_str())
    .bind(truncate(error, 2000))
    .bind(&now)
    .bind(raw_sha256)
    .execute(&mut *conn)
    .await
    .context("cannot set the message aside")?;
    Ok(())
}

/// One message set aside as 処理不能, for the staff list.
#[derive(Clone, Debug, Serialize)]
pub struct DeadLetter {
    /// The blob key of the raw bytes (also the row's key).
    pub raw_sha256: String,
    /// Where it came from the last time it was tried.
    pub source: String,
    /// When it reached our mailbox (UTC text).
    pub received_at: String,
    /// What a bounded look at its header block found.
    pub message_id: String,
    /// Likewise.
    pub from_address: String,
    /// Likewise.
    pub subject: String,
    /// Attempts counted.
    pub attempts: i64,
    /// Why it was set aside.
    pub reason: SetAsideReason,
    /// The last error, as logged.
    pub last_error: String,
    /// When it was set aside (UTC text).
    pub dead_at: String,
}

/// The columns of a [`DeadLetter`], over the messages set aside.
const DEAD_LETTER_SELECT: &str = "SELECT raw_sha256, source, received_at, message_id, from_address, subject, attempts, \
     reason_code, last_error, dead_at FROM intake_attempts WHERE state = 'dead'";

/// The messages set aside and not yet tried again, newest first (at most
/// `limit`).
pub async fn dead_letters(conn: &mut AnyConnection, limit: i64) -> anyhow::Result<Vec<DeadLetter>> {
    let rows = sqlx::query(&format!(
        "{DEAD_LETTER_SELECT} ORDER BY dead_at DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .context("cannot list the messages set aside")?;
    rows.iter().map(dead_letter).collect()
}

/// One set-aside message, if `raw_sha256` names one.
pub async fn dead_letter_of(
    conn: &mut AnyConnection,
    raw_sha256: &str,
) -> anyhow::Result<Option<DeadLetter>> {
    let row = sqlx::query(&format!("{DEAD_LETTER_SELECT} AND raw_sha256 = $1"))
        .bind(raw_sha256)
        .fetch_optional(&mut *conn)
        .await
        .context("cannot read a message set aside")?;
    row.as_ref().map(dead_letter).transpose()
}

fn dead_letter(row: &sqlx::any::AnyRow) -> anyhow::Result<DeadLetter> {
    let reason: String = row.try_get("reason_code")?;
    Ok(DeadLetter {
        raw_sha256: row.try_get("raw_sha256")?,
        source: row.try_get("source")?,
        received_at: row.try_get("received_at")?,
        message_id: row.try_get("message_id")?,
        from_address: row.try_get("from_address")?,
        subject: row.try_get("subject")?,
        attempts: row.try_get("attempts")?,
        reason: SetAsideReason::parse(&reason).unwrap_or(SetAsideReason::Permanent),
        last_error: row.try_get("last_error")?,
        dead_at: row
            .try_get::<Option<String>, _>("dead_at")?
            .unwrap_or_default(),
    })
}

/// Puts a set-aside message back to be tried (attempts from zero) on
/// behalf of `actor`; its receipt time, for processing it again. None when
/// it is not set aside (already retried by someone else).
pub async fn reset_for_retry(
    conn: &mut AnyConnection,
    raw_sha256: &str,
    actor: &str,
) -> anyhow::Result<Option<String>> {
    let row = sqlx::query(
        "UPDATE intake_attempts SET state = 'processing', attempts = 0, reason_code = '', retried_at = $1, retried_by = $2 \
         WHERE raw_sha256 = $3 AND state = 'dead' RETURNING received_at",
    )
    .bind(now_text())
    .bind(actor)
    .bind(raw_sha256)
    .fetch_optional(&mut *conn)
    .await
    .context("cannot put the message back to be tried")?;
    row.map(|r| r.try_get(0).map_err(Into::into)).transpose()
}

fn truncate(s: &str, max_chars: usize) -> &str {
    match s.char_indices().nth(max_chars) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}
