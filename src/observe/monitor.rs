//! The process-wide monitor: Prometheus metrics (through the `prometheus`
//! crate, which does the text encoding) and the connection state of each
//! mailbox source, which readiness reads.
//!
//! It is one static per process because every source, the outbox and the
//! web router report into it from their own tasks; threading a handle
//! through all of them would touch every constructor. Counters only ever
//! go up, so several `Intake`s in one process (tests) simply add up.

use chrono::{DateTime, Utc};
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Every metric of the gateway and the mailbox source states.
pub struct Monitor {
    registry: Registry,
    messages: IntCounterVec,
    processing: Histogram,
    intake_failures: IntCounterVec,
    attachments: IntCounterVec,
    mailbox_connected: IntGaugeVec,
    mailbox_last_success: IntGaugeVec,
    imap_sessions: IntCounterVec,
    imap_reconnects: IntCounterVec,
    smtp_attempts: IntCounterVec,
    smtp_failures: IntCounterVec,
    http_requests: IntCounterVec,
    /// Set from the database when scraped ([`Monitor::set_queue_sizes`]).
    outbox: IntGaugeVec,
    quarantine: IntGauge,
    dead_letters: IntGauge,
    db_pool: IntGaugeVec,
    sources: Mutex<BTreeMap<String, SourceState>>,
    token_requests: IntCounterVec,
    token_last_success: IntGaugeVec,
    token_expiry: IntGaugeVec,
    tokens: Mutex<BTreeMap<String, TokenState>>,
}

/// The OAuth 2.0 token of one connection (an IMAP source, keyed like its
/// [`SourceState`], or the SMTP sender, `smtp:<user>@<host>`), as it last
/// went.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenState {
    /// `imap` or `smtp`.
    pub kind: String,
    /// The step that failed last, while it is not fixed: `config`,
    /// `unreachable`, `invalid_client`, `not_permitted`, `invalid_scope`,
    /// `refused` (another endpoint refusal) or `server_refused` (the mail
    /// server refused an issued token). None once a token works again.
    pub failing_step: Option<String>,
    /// The last failure, in English (no secret is ever in it).
    pub last_error: Option<String>,
    /// The last time the endpoint issued a token.
    pub last_success: Option<DateTime<Utc>>,
    /// When the current token expires (None: no usable token).
    pub expires_at: Option<DateTime<Utc>>,
}

/// What happened to a connection's token.
#[derive(Clone, Debug)]
pub enum TokenEvent {
    /// The endpoint issued a token living `lifetime`.
    Issued {
        /// Its lifetime.
        lifetime: Duration,
    },
    /// A step failed (see [`TokenState::failing_step`]).
    Failed {
        /// The step.
        step: &'static str,
        /// What went wrong, in English.
        detail: String,
    },
    /// The mail server accepted the token: a server refusal is over.
    Accepted,
}

/// The queue gauges `/metrics` exports, as read at scrape time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueGauges {
    /// Replies queued and not yet sent.
    pub outbox_queued: i64,
    /// Replies failed for good.
    pub outbox_failed: i64,
    /// Quarantined mails not yet released.
    pub quarantined: i64,
    /// Messages set aside as 処理不能 not retried.
    pub dead_letters: i64,
}

/// What a mailbox source last reported.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceState {
    /// `imap` or `maildir`.
    pub kind: String,
    /// What it is doing now (the IMAP watcher's phase, or `polling`).
    pub phase: String,
    /// Connected to the server (IMAP), or the last poll worked (Maildir).
    pub connected: bool,
    /// Another gateway holds the mailbox: this one stands by (healthy).
    pub standby: bool,
    /// The last time it was connected or polled successfully.
    pub last_success: Option<DateTime<Utc>>,
    /// The last failure, in plain words.
    pub last_error: Option<String>,
}

/// The buckets of the processing-time histogram, in seconds: a plain mail
/// takes milliseconds, a large workbook in a reader process seconds.
const PROCESSING_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The monitor of this process.
pub fn global() -> &'static Monitor {
    static MONITOR: OnceLock<Monitor> = OnceLock::new();
    MONITOR.get_or_init(|| Monitor::new().expect("the metric definitions are valid"))
}

fn counter(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    registered(registry, IntCounterVec::new(Opts::new(name, help), labels)?)
}

fn gauge(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntGaugeVec> {
    registered(registry, IntGaugeVec::new(Opts::new(name, help), labels)?)
}

/// `metric`, once registered with `registry`.
fn registered<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: C,
) -> prometheus::Result<C> {
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

impl Monitor {
    /// Defines and registers every metric.
    ///
    /// Long on purpose: it is one table of the metrics the service exports,
    /// each with its name, help and labels in one place; splitting it would
    /// spread that table over helpers without making any part simpler.
    fn new() -> prometheus::Result<Monitor> {
        let r = Registry::new();
        let processing = registered(
            &r,
            Histogram::with_opts(
                HistogramOpts::new(
                    "sos_intake_message_processing_seconds",
                    "Time to process one message, from arrival to committed outcome.",
                )
                .buckets(PROCESSING_BUCKETS.to_vec()),
            )?,
        )?;
        let quarantine = registered(
            &r,
            IntGauge::new(
                "sos_intake_quarantine_size",
                "Quarantined mails not yet released.",
            )?,
        )?;
        let dead_letters = registered(
            &r,
            IntGauge::new(
                "sos_intake_dead_letters",
                "Messages set aside as unprocessable (処理不能) and not retried.",
            )?,
        )?;
        Ok(Monitor {
            messages: counter(
                &r,
                "sos_intake_messages_total",
                "Messages processed, by disposition.",
                &["disposition"],
            )?,
            processing,
            intake_failures: counter(
                &r,
                "sos_intake_message_failures_total",
                "Attempts at a message that failed, temporary (retried) or not.",
                &["kind"],
            )?,
            attachments: counter(
                &r,
                "sos_intake_attachments_total",
                "Attachments read, by outcome.",
                &["outcome"],
            )?,
            mailbox_connected: gauge(
                &r,
                "sos_intake_mailbox_connected",
                "1 when the mailbox source is connected (IMAP) or its last poll worked (Maildir).",
                &["source"],
            )?,
            mailbox_last_success: gauge(
                &r,
                "sos_intake_mailbox_last_success_timestamp_seconds",
                "Unix time the mailbox source last connected or polled successfully.",
                &["source"],
            )?,
            imap_sessions: counter(
                &r,
                "sos_intake_imap_sessions_total",
                "IMAP logins, by mailbox.",
                &["source"],
            )?,
            imap_reconnects: counter(
                &r,
                "sos_intake_imap_reconnects_total",
                "IMAP sessions (IDLE included) that ended in a failure and are reconnected.",
                &["source"],
            )?,
            smtp_attempts: counter(
                &r,
                "sos_intake_smtp_attempts_total",
                "Reply delivery attempts, by SMTP reply code class (2xx, 4xx, 5xx, none).",
                &["class"],
            )?,
            smtp_failures: counter(
                &r,
                "sos_intake_smtp_failures_total",
                "Failed reply delivery attempts, by SMTP reply code class.",
                &["class"],
            )?,
            http_requests: counter(
                &r,
                "sos_intake_http_requests_total",
                "Web requests, by route, method and status.",
                &["route", "method", "status"],
            )?,
            outbox: gauge(
                &r,
                "sos_intake_outbox_messages",
                "Outbox rows, by status (queued is the depth).",
                &["status"],
            )?,
            quarantine,
            dead_letters,
            db_pool: gauge(
                &r,
                "sos_intake_db_pool_connections",
                "Database pool connections, by state (idle, in_use).",
                &["state"],
            )?,
            token_requests: counter(
                &r,
                "sos_intake_oauth_token_requests_total",
                "OAuth 2.0 token outcomes per connection: ok, or the failing step (config, unreachable, invalid_client, not_permitted, invalid_scope, refused, server_refused).",
                &["connection", "outcome"],
            )?,
            token_last_success: gauge(
                &r,
                "sos_intake_oauth_token_last_success_timestamp_seconds",
                "Unix time the token endpoint last issued a token for the connection.",
                &["connection"],
            )?,
            token_expiry: gauge(
                &r,
                "sos_intake_oauth_token_expiry_timestamp_seconds",
                "Unix time the connection's current token expires; 0 when it has none.",
                &["connection"],
            )?,
            tokens: Mutex::new(BTreeMap::new()),
            registry: r,
            sources: Mutex::new(BTreeMap::new()),
        })
    }

    /// One message processed (any disposition) and how long it took.
    pub fn message_processed(&self, disposition: &str, took: Duration) {
        self.messages.with_label_values(&[disposition]).inc();
        self.processing.observe(took.as_secs_f64());
    }

    /// One attempt at a message failed; `temporary` ones are retried.
    pub fn message_failed(&self, temporary: bool, took: Duration) {
        let kind = if temporary { "temporary" } else { "permanent" };
        self.intake_failures.with_label_values(&[kind]).inc();
        self.processing.observe(took.as_secs_f64());
    }

    /// One attachment read, with its outcome (`sheet`, `encrypted`, …).
    pub fn attachment(&self, outcome: &str) {
        self.attachments.with_label_values(&[outcome]).inc();
    }

    /// A delivery attempt ended with `response` (the relay's words, or our
    /// description of a failure); `failed` when it was not delivered.
    pub fn smtp_attempt(&self, response: &str, failed: bool) {
        let class = smtp_class(response);
        self.smtp_attempts.with_label_values(&[class]).inc();
        if failed {
            self.smtp_failures.with_label_values(&[class]).inc();
        }
    }

    /// One web request answered.
    pub fn http_request(&self, route: &str, method: &str, status: u16) {
        self.http_requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
    }

    /// Updates the state of mailbox source `name` with `change`.
    pub fn update_source(&self, name: &str, kind: &str, change: impl FnOnce(&mut SourceState)) {
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        let state = sources
            .entry(name.to_string())
            .or_insert_with(|| SourceState {
                kind: kind.to_string(),
                phase: "starting".into(),
                connected: false,
                standby: false,
                last_success: None,
                last_error: None,
            });
        change(state);
        self.mailbox_connected
            .with_label_values(&[name])
            .set(i64::from(state.connected));
        if let Some(at) = state.last_success {
            self.mailbox_last_success
                .with_label_values(&[name])
                .set(at.timestamp());
        }
    }

    /// A Maildir poll finished (`Ok`) or failed.
    pub fn maildir_polled(&self, name: &str, result: Result<(), String>) {
        self.update_source(name, "maildir", |s| {
            s.phase = "polling".into();
            match result {
                Ok(()) => {
                    s.connected = true;
                    s.last_success = Some(Utc::now());
                }
                Err(e) => {
                    s.connected = false;
                    s.last_error = Some(e);
                }
            }
        });
    }

    /// An IMAP session started (a login) on `name`.
    pub fn imap_session(&self, name: &str) {
        self.imap_sessions.with_label_values(&[name]).inc();
    }

    /// An IMAP session on `name` failed and will be reconnected.
    pub fn imap_reconnect(&self, name: &str) {
        self.imap_reconnects.with_label_values(&[name]).inc();
    }

    /// Every mailbox source that reported so far. An IMAP source that is
    /// connected (idling) succeeds right now: its last success is moved to
    /// now first, so the gauge does not age while IDLE waits quietly.
    pub fn sources(&self) -> BTreeMap<String, SourceState> {
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        let now = Utc::now();
        for (name, s) in sources.iter_mut() {
            if s.kind == "imap" && s.connected {
                s.last_success = Some(now);
                self.mailbox_last_success
                    .with_label_values(&[name])
                    .set(now.timestamp());
            }
        }
        sources.clone()
    }

    /// Records what happened to the OAuth token of `connection` (`kind`:
    /// `imap` or `smtp`).
    pub fn token_event(&self, connection: &str, kind: &str, event: TokenEvent) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let state = tokens
            .entry(connection.to_string())
            .or_insert_with(|| TokenState {
                kind: kind.to_string(),
                failing_step: None,
                last_error: None,
                last_success: None,
                expires_at: None,
            });
        let now = Utc::now();
        match event {
            TokenEvent::Issued { lifetime } => {
                self.count_token(connection, "ok");
                state.failing_step = None;
                state.last_success = Some(now);
                state.expires_at = chrono::Duration::from_std(lifetime).ok().map(|l| now + l);
                self.token_last_success
                    .with_label_values(&[connection])
                    .set(now.timestamp());
            }
            TokenEvent::Failed { step, detail } => {
                self.count_token(connection, step);
                state.failing_step = Some(step.to_string());
                state.last_error = Some(detail);
                // A refused token is dropped from the cache: none is usable.
                state.expires_at = None;
            }
            TokenEvent::Accepted => state.failing_step = None,
        }
        let expiry = state.expires_at.map_or(0, |t| t.timestamp());
        self.token_expiry
            .with_label_values(&[connection])
            .set(expiry);
    }

    fn count_token(&self, connection: &str, outcome: &str) {
        self.token_requests
            .with_label_values(&[connection, outcome])
            .inc();
    }

    /// The token state of every OAuth connection that reported so far.
    pub fn tokens(&self) -> BTreeMap<String, TokenState> {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sets the gauges read from the database at scrape time.
    pub fn set_queue_sizes(&self, sizes: QueueGauges) {
        for (status, n) in [
            ("queued", sizes.outbox_queued),
            ("failed", sizes.outbox_failed),
        ] {
            self.outbox.with_label_values(&[status]).set(n);
        }
        self.quarantine.set(sizes.quarantined);
        self.dead_letters.set(sizes.dead_letters);
    }

    /// Sets the database pool gauges.
    pub fn set_pool(&self, size: u32, idle: usize) {
        let idle = i64::try_from(idle).unwrap_or(i64::MAX);
        self.db_pool.with_label_values(&["idle"]).set(idle);
        self.db_pool
            .with_label_values(&["in_use"])
            .set(i64::from(size) - idle);
    }

    /// Every metric in the Prometheus text exposition format.
    pub fn encode(&self) -> anyhow::Result<String> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8(out)?)
    }
}

/// The SMTP reply code class of a response text: the first three-digit
/// reply code in it (`2xx`, `4xx`, `5xx`), or `none` when the attempt never
/// got an answer (connection refused, TLS, timeout) or wrote a file.
pub fn smtp_class(response: &str) -> &'static str {
    let bytes = response.as_bytes();
    for (i, w) in bytes.windows(3).enumerate() {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + 3);
        let boundary = !before.is_some_and(|b| b.is_ascii_alphanumeric())
            && !after.is_some_and(|b| b.is_ascii_alphanumeric());
        if boundary && w.iter().all(u8::is_ascii_digit) {
            match w[0] {
                b'2' => return "2xx",
                b'4' => return "4xx",
                b'5' => return "5xx",
                _ => {}
            }
        }
    }
    "none"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_classes() {
        for (input, want) in [
            ("250 2.0.0 Ok: queued as 1234", "2xx"),
            ("permanent error (550): no such user", "5xx"),
            ("transient error (421): try later", "4xx"),
            ("connection refused", "none"),
            ("written /data/outbox/000123.eml", "none"),
            ("id x4219", "none"),
        ] {
            assert_eq!(smtp_class(input), want, "{input:?}");
        }
    }

    #[test]
    fn encodes_the_text_format() {
        let m = global();
        m.message_processed("accepted", Duration::from_millis(20));
        let text = m.encode().unwrap();
        assert!(text.contains("# TYPE sos_intake_messages_total counter"));
        assert!(text.contains("sos_intake_message_processing_seconds_bucket"));
    }
}
