//! The database handle: connecting (SQLite file or PostgreSQL, chosen by the
//! URL), migrating, transactions, and the text formats times and dates are
//! stored in.
//!
//! Both backends go through sqlx's `Any` driver so every query in the queue
//! (and in the mail pipeline and web UI built on it) is written once. That
//! limits column types to integers, floats, text and bytes: times are UTC
//! text in one fixed format that sorts as time, dates are `YYYY-MM-DD`.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Connection, Executor, Transaction};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The SQLite migrations, embedded at build time (`build.rs` reruns the
/// build when a file is added).
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
/// The PostgreSQL migrations, embedded at build time.
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// The default database when nothing is configured.
pub const DEFAULT_SQLITE_URL: &str = "sqlite://./data/sos-intake.db";

/// How long a SQLite connection waits for another writer before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u64 = 30_000;

/// Which database engine a [`Db`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (the embedded default).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Tells the backend from a URL's scheme: `sqlite:` or
    /// `postgres://` / `postgresql://`.
    pub fn from_url(url: &str) -> anyhow::Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            anyhow::bail!(
                "unsupported database URL (want sqlite:… or postgres://…): {}",
                redact(url)
            )
        }
    }
}

/// A transaction on the queue database. Queue operations take
/// `&mut AnyConnection`; pass `&mut *tx` (or `&mut tx`, which derefs).
pub type Tx = Transaction<'static, Any>;

/// The queue database: a connection pool plus what kind of server it is.
/// Cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// This process's writers, one at a time (SQLite only; see
    /// [`Db::write_turn`]).
    writers: Arc<tokio::sync::Mutex<()>>,
    /// Messages filed in batches by this process ([`Db::note_filed`]).
    filed: Arc<std::sync::atomic::AtomicU64>,
}

/// The tables a drain adds rows to, whose planner statistics
/// [`Db::note_filed`] refreshes on PostgreSQL.
const GROWING_TABLES: &str = "blobs, mail_messages, intake_attempts, requests, request_items, \
                              audit_log, outbox, correspondence, correspondence_requests";

/// A writer's turn on SQLite ([`Db::write_turn`]); the next writer of this
/// process goes when it is dropped.
#[derive(Debug)]
pub struct WriteTurn(#[allow(dead_code)] Option<tokio::sync::OwnedMutexGuard<()>>);

impl Db {
    /// Connects to `url` and applies every migration not applied yet.
    ///
    /// For SQLite the file and its directory are created when missing, and
    /// the database is switched to WAL mode with a generous busy timeout so
    /// several processes (the worker, the CLI) can share it.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        Self::connect_with(url, None).await
    }

    /// Like [`Db::connect`], with a cap on pooled connections (benchmarks
    /// and tests use it; `None` keeps sqlx's default).
    pub async fn connect_with(url: &str, max_connections: Option<u32>) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite(url)?,
            Backend::Postgres => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .with_context(|| format!("invalid database URL {}", redact(&url)))?
            .disable_statement_logging();
        // A diagnosis aid (docs/benchmarks-intake.md): statements slower
        // than this many microseconds are logged at WARN (target sqlx).
        let options = match std::env::var("SOS_DEBUG_SLOW_SQL_US")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            Some(us) => options
                .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_micros(us)),
            None => options,
        };
        if backend == Backend::Sqlite {
            // journal_mode needs an exclusive lock: switch once, on a lone
            // connection, before the pool opens several. WAL is persistent.
            let mut conn = AnyConnection::connect_with(&options)
                .await
                .with_context(|| format!("cannot open database {}", redact(&url)))?;
            conn.execute("PRAGMA journal_mode = WAL")
                .await
                .context("cannot switch SQLite to WAL mode")?;
            conn.close().await.ok();
        }
        let mut pool_options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(60));
        if let Some(max) = max_connections {
            pool_options = pool_options.max_connections(max);
        }
        if backend == Backend::Sqlite {
            pool_options = pool_options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // journal_size_limit: a drain while staff read the queue
                    // can grow the WAL past the auto-checkpoint size (a
                    // checkpoint cannot pass a reader's snapshot); once a
                    // checkpoint completes, the file is cut back to 64 MiB
                    // instead of staying at its high-water mark.
                    // temp_store: a batch's multi-row statements keep their
                    // statement journal in memory; SQLite would otherwise
                    // spill it to a file it creates and unlinks in /var/tmp,
                    // a batch at a time (a few hundred KiB, bounded by the
                    // 32 MiB a staged statement holds at most).
                    conn.execute(
                        format!(
                            "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON; \
                             PRAGMA journal_size_limit = 67108864; PRAGMA temp_store = MEMORY"
                        )
                        .as_str(),
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = pool_options
            .connect_with(options)
            .await
            .with_context(|| format!("cannot connect to database {}", redact(&url)))?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .with_context(|| format!("cannot migrate database {}", redact(&url)))?;
        Ok(Db {
            pool,
            backend,
            writers: Arc::default(),
            filed: Arc::default(),
        })
    }

    /// Starts a transaction. On SQLite it is `BEGIN IMMEDIATE`, taking the
    /// write lock at once, so two writers queue up on the busy timeout
    /// instead of one failing when it upgrades from reading to writing.
    pub async fn begin(&self) -> anyhow::Result<Tx> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        };
        tx.context("cannot start a database transaction")
    }

    /// Starts a read-only snapshot (a plain deferred transaction): listing
    /// and showing records do not take SQLite's write lock.
    pub async fn begin_read(&self) -> anyhow::Result<Tx> {
        self.pool
            .begin()
            .await
            .context("cannot start a database transaction")
    }

    /// The pool, for reads that need no transaction and for other modules'
    /// own tables.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Waits for this process's turn to write, first come first served;
    /// hold it from [`Db::begin`] to the commit. SQLite has one writer at a
    /// time: a second one waiting on the file lock sleeps in SQLite's busy
    /// handler (1, 2, 5, … 100 ms) and wakes late, so during a backlog the
    /// outbox sender, squeezed between long filing transactions, fell
    /// seconds behind. Queued here, each writer goes the moment the one
    /// before it commits. PostgreSQL locks rows, not the database: no turn.
    pub async fn write_turn(&self) -> WriteTurn {
        match self.backend {
            Backend::Sqlite => WriteTurn(Some(self.writers.clone().lock_owned().await)),
            Backend::Postgres => WriteTurn(None),
        }
    }

    /// Counts `n` messages a batch of this process filed (or found filed
    /// before). On PostgreSQL, each time the count passes 1,000, 4,000,
    /// 16,000, … the planner statistics of the tables a drain grows are
    /// refreshed in the background (`ANALYZE`).
    ///
    /// Why: PostgreSQL caches a plan per connection for the foreign-key
    /// checks of every insert, made when it first runs. On a fresh queue
    /// that is while the tables hold a few rows, so the plan is a
    /// sequential scan, and it stays one (each check reading the whole,
    /// growing table) until the statistics change, which autovacuum does a
    /// minute later at best. A backlog on a fresh or emptied queue cost
    /// more per message the longer it ran. `ANALYZE` makes every
    /// connection plan those checks again, with index scans.
    pub fn note_filed(&self, n: usize) {
        use std::sync::atomic::Ordering;
        if self.backend != Backend::Postgres || n == 0 {
            return;
        }
        let before = self.filed.fetch_add(n as u64, Ordering::Relaxed);
        if statistics_stage(before) == statistics_stage(before.saturating_add(n as u64)) {
            return;
        }
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let analyze = format!("ANALYZE {GROWING_TABLES}");
            if let Err(e) = sqlx::query(&analyze).execute(&pool).await {
                tracing::warn!(error = %e, "cannot refresh the planner statistics");
            }
        });
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every pooled connection (waits for those in use).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// How many of the thresholds 1,000, 4,000, 16,000, … `filed` has passed.
fn statistics_stage(filed: u64) -> u32 {
    let mut stage = 0;
    let mut threshold: u64 = 1000;
    while filed >= threshold && threshold < u64::MAX {
        stage += 1;
        threshold = threshold.saturating_mul(4);
    }
    stage
}

/// Makes sure a SQLite URL's directory exists and that the file will be
/// created (`mode=rwc`) unless the URL says otherwise.
fn prepare_sqlite(url: &str) -> anyhow::Result<String> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let in_memory =
        path.is_empty() || path == ":memory:" || query.is_some_and(|q| q.contains("mode=memory"));
    if in_memory {
        return Ok(url.to_string());
    }
    {
        let path = PathBuf::from(path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create database directory {}", dir.display()))?;
        }
    }
    Ok(match query {
        Some(q) if q.contains("mode=") => url.to_string(),
        Some(_) => format!("{url}&mode=rwc"),
        None => format!("{url}?mode=rwc"),
    })
}

/// A URL with any password replaced, for error messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The stored form of a time: UTC, microseconds, `2026-11-21T04:15:00.000000Z`.
/// Fixed width, so text order is time order.
pub fn time_text(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Reads a time written by [`time_text`] (or any RFC 3339 time).
pub fn parse_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.fZ")
        .map(|t| t.and_utc())
        .or_else(|_| DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)))
        .with_context(|| format!("unreadable stored time {text:?}"))
}

/// The stored form of a date: `YYYY-MM-DD`.
pub fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Reads a date written by [`date_text`].
pub fn parse_date(text: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("unreadable stored date {text:?}"))
}

/// The current time as stored. Microsecond precision, like the format.
pub fn now_text() -> String {
    time_text(Utc::now())
}

/// Bind-parameter placeholders for a statement built at run time (the
/// multi-row statements of issue 15). On SQLite they are anonymous (`?`):
/// sqlx finds a numbered one (`$7`) by asking SQLite its name, and SQLite
/// finds a name by walking the list of all of them, so a statement of *n*
/// numbered parameters costs O(n²) to bind (19 ms for 5,700 of them here,
/// more than the rows' insert). PostgreSQL takes `$1, $2, …` in order.
pub(crate) struct Params {
    anonymous: bool,
    taken: usize,
}

impl Params {
    /// Placeholders for a statement run on `conn`, numbered from 1.
    pub(crate) fn on(conn: &AnyConnection) -> Params {
        Params {
            anonymous: conn.backend_name().eq_ignore_ascii_case("sqlite"),
            taken: 0,
        }
    }

    /// The next placeholder (each one is bound in order of use).
    pub(crate) fn next(&mut self) -> String {
        self.taken += 1;
        if self.anonymous {
            "?".to_string()
        } else {
            format!("${}", self.taken)
        }
    }

    /// `(p, p, …{constants})`: one row of VALUES with `columns` placeholders
    /// followed by SQL `constants` (e.g. `, 'queued', 0`).
    pub(crate) fn row(&mut self, columns: usize, constants: &str) -> String {
        let params: Vec<String> = (0..columns).map(|_| self.next()).collect();
        format!("({}{constants})", params.join(", "))
    }

    /// `rows` rows of [`Params::row`], comma-separated.
    pub(crate) fn rows(&mut self, rows: usize, columns: usize, constants: &str) -> String {
        (0..rows)
            .map(|_| self.row(columns, constants))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `p, p, …`: `n` placeholders, comma-separated (an IN list).
    pub(crate) fn list(&mut self, n: usize) -> String {
        (0..n).map(|_| self.next()).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_are_refreshed_at_one_four_sixteen_thousand_messages() {
        let stages: Vec<u32> = [0, 999, 1000, 3999, 4000, 15_999, 16_000, 64_000, u64::MAX]
            .into_iter()
            .map(statistics_stage)
            .collect();
        assert_eq!(stages, [0, 0, 1, 1, 2, 2, 3, 4, 28]);
    }

    #[test]
    fn times_sort_as_text() {
        let a = time_text(
            DateTime::parse_from_rfc3339("2026-11-21T09:59:59.999999+09:00")
                .unwrap()
                .to_utc(),
        );
        let b = time_text(
            DateTime::parse_from_rfc3339("2026-11-21T10:00:00+09:00")
                .unwrap()
                .to_utc(),
        );
        assert_eq!(a, "2026-11-21T00:59:59.999999Z");
        assert_eq!(b, "2026-11-21T01:00:00.000000Z");
        assert!(a < b);
        assert_eq!(time_text(parse_time(&b).unwrap()), b);
    }

    #[test]
    fn backend_by_scheme() {
        assert_eq!(
            Backend::from_url("sqlite://./data/x.db").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::from_url("postgres://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            Backend::from_url("postgresql://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::from_url("mysql://u@h/db").is_err());
    }

    #[test]
    fn sqlite_url_gets_create_mode() {
        let dir = std::env::temp_dir().join(format!("sos-db-url-{}", std::process::id()));
        let url = format!("sqlite://{}/sub/q.db", dir.display());
        assert_eq!(prepare_sqlite(&url).unwrap(), format!("{url}?mode=rwc"));
        assert!(dir.join("sub").is_dir());
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(
            prepare_sqlite("sqlite::memory:").unwrap(),
            "sqlite::memory:"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://sos:secret@db/q"),
            "postgres://sos:***@db/q"
        );
        assert_eq!(redact("postgres://sos@db/q"), "postgres://sos@db/q");
    }
}
