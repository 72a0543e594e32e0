//! Readiness: may this gateway be trusted to take mail now? It is when the
//! database answers, every mailbox source is connected or polled recently
//! (`[health] mailbox_max_silence_secs`), and the oldest queued reply is
//! younger than `[health] outbox_max_age_secs`, and no OAuth 2.0 token
//! of a mailbox or of the SMTP sender is failing (the failing step is
//! named in the check's detail and under `tokens`). Dead-letter and
//! quarantine counts are reported beside (they call for staff, not for a
//! restart).
//!
//! `GET /readyz` answers this as JSON (503 when not ready) and
//! `sos-intake status` prints it.

use crate::config::Settings;
use crate::observe::monitor::{self, SourceState, TokenState};
use crate::queue::Db;
use crate::queue::health::{self, QueueSizes};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One check and its verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// `database`, `mailbox:<source>` or `outbox`.
    pub name: String,
    /// True when this check passes.
    pub ok: bool,
    /// What was found, in plain words (English, for operators' tools).
    pub detail: String,
}

/// The whole answer of `/readyz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// True when every check passes.
    pub ready: bool,
    /// When this was checked.
    pub checked_at: DateTime<Utc>,
    /// Every check.
    pub checks: Vec<Check>,
    /// The mailbox sources as they last reported.
    pub mailboxes: BTreeMap<String, SourceState>,
    /// Outbox, quarantine and dead-letter counts (absent when the database
    /// does not answer).
    pub queue: Option<QueueSizes>,
    /// The OAuth 2.0 token of each connection that uses one (absent from
    /// gateways older than this field).
    #[serde(default)]
    pub tokens: BTreeMap<String, TokenState>,
}

/// Checks readiness now.
pub async fn check(db: &Db, settings: &Settings) -> Readiness {
    let now = Utc::now();
    let health = &settings.config.health;
    let mut checks = Vec::new();
    let queue = match health::ping(db).await {
        Ok(()) => health::sizes(db).await,
        Err(e) => Err(e),
    };
    checks.push(match &queue {
        Ok(_) => pass("database", "answers".into()),
        Err(e) => fail("database", format!("{e:#}")),
    });
    let mailboxes = monitor::global().sources();
    let silence = chrono::Duration::seconds(
        i64::try_from(health.mailbox_max_silence_secs).unwrap_or(i64::MAX / 2),
    );
    if mailboxes.is_empty() {
        checks.push(fail("mailbox", "no mailbox source has started".into()));
    }
    let tokens = monitor::global().tokens();
    for (name, state) in &mailboxes {
        let check = mailbox_check(name, state, now, silence);
        checks.push(with_token(
            check,
            tokens.get(name).filter(|_| !state.standby),
        ));
    }
    let smtp_token = tokens.values().find(|t| t.kind == "smtp");
    match &queue {
        Ok(sizes) => checks.push(with_token(
            outbox_check(sizes, now, health.outbox_max_age_secs),
            smtp_token,
        )),
        Err(_) => {
            // The outbox cannot be counted, but a token failure still says
            // replies cannot leave.
            let check = with_token(pass("outbox", "not counted".into()), smtp_token);
            if !check.ok {
                checks.push(check);
            }
        }
    }
    let pool = db.pool();
    monitor::global().set_pool(pool.size(), pool.num_idle());
    if let Ok(sizes) = &queue {
        monitor::global().set_queue_sizes(sizes.gauges());
    }
    Readiness {
        ready: checks.iter().all(|c| c.ok),
        checked_at: now,
        checks,
        mailboxes,
        queue: queue.ok(),
        tokens,
    }
}

/// `check`, failed when its connection's OAuth token is failing: the
/// step comes first in the detail, then the English error.
fn with_token(check: Check, token: Option<&TokenState>) -> Check {
    let Some((token, step)) = token.and_then(|t| Some((t, t.failing_step.as_deref()?))) else {
        return check;
    };
    let error = token.last_error.as_deref().unwrap_or("");
    fail(
        &check.name,
        format!("OAuth token step {step} failed: {error}; {}", check.detail),
    )
}

fn pass(name: &str, detail: String) -> Check {
    Check {
        name: name.into(),
        ok: true,
        detail,
    }
}

fn fail(name: &str, detail: String) -> Check {
    Check {
        name: name.into(),
        ok: false,
        detail,
    }
}

/// A source is fine when connected (IMAP), standing by behind another
/// gateway, or successful within the allowed silence (a Maildir poll, or an
/// IMAP reconnect in progress).
fn mailbox_check(
    name: &str,
    state: &SourceState,
    now: DateTime<Utc>,
    silence: chrono::Duration,
) -> Check {
    let name = format!("mailbox:{name}");
    let recent = state.last_success.is_some_and(|t| now - t <= silence);
    let live = if state.kind == "imap" {
        state.connected
    } else {
        state.connected && recent
    };
    if state.standby {
        return pass(
            &name,
            "standing by: another gateway watches this mailbox".into(),
        );
    }
    if live || recent {
        return pass(
            &name,
            format!("{} ({})", state.phase, ago(state.last_success, now)),
        );
    }
    let error = state.last_error.as_deref().unwrap_or("no success yet");
    fail(
        &name,
        format!(
            "{}: last success {}; {error}",
            state.phase,
            ago(state.last_success, now)
        ),
    )
}

fn outbox_check(sizes: &QueueSizes, now: DateTime<Utc>, max_age_secs: u64) -> Check {
    let Some(oldest) = sizes.oldest_queued_at else {
        return pass("outbox", "empty".into());
    };
    let age = (now - oldest).num_seconds().max(0);
    let detail = format!(
        "{} queued, oldest queued {age} s ago (limit {max_age_secs} s)",
        sizes.outbox_queued
    );
    if u64::try_from(age).unwrap_or(0) > max_age_secs {
        fail("outbox", format!("stuck: {detail}"))
    } else {
        pass("outbox", detail)
    }
}

fn ago(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match at {
        Some(t) => format!("{} s ago", (now - t).num_seconds().max(0)),
        None => "never".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(kind: &str, connected: bool, last: Option<i64>) -> SourceState {
        SourceState {
            kind: kind.into(),
            phase: "x".into(),
            connected,
            standby: false,
            last_success: last.map(|s| Utc::now() - chrono::Duration::seconds(s)),
            last_error: None,
        }
    }

    #[test]
    fn mailbox_verdicts() {
        let now = Utc::now();
        let limit = chrono::Duration::seconds(60);
        assert!(mailbox_check("a", &state("imap", true, Some(3600)), now, limit).ok);
        assert!(mailbox_check("a", &state("imap", false, Some(10)), now, limit).ok);
        assert!(!mailbox_check("a", &state("imap", false, Some(120)), now, limit).ok);
        assert!(!mailbox_check("a", &state("imap", false, None), now, limit).ok);
        assert!(mailbox_check("m", &state("maildir", true, Some(5)), now, limit).ok);
        assert!(!mailbox_check("m", &state("maildir", true, Some(120)), now, limit).ok);
    }

    #[test]
    fn a_failing_token_fails_its_check_with_the_step() {
        let mut token = TokenState {
            kind: "imap".into(),
            failing_step: Some("invalid_client".into()),
            last_error: Some("token endpoint refused".into()),
            last_success: None,
            expires_at: None,
        };
        let c = with_token(pass("mailbox:a", "idle".into()), Some(&token));
        assert!(!c.ok);
        assert!(c.detail.contains("invalid_client"), "{}", c.detail);
        token.failing_step = None;
        assert!(with_token(pass("mailbox:a", "idle".into()), Some(&token)).ok);
        assert!(with_token(pass("outbox", "empty".into()), None).ok);
    }

    #[test]
    fn outbox_verdicts() {
        let now = Utc::now();
        let mut sizes = QueueSizes::default();
        assert!(outbox_check(&sizes, now, 60).ok);
        sizes.outbox_queued = 1;
        sizes.oldest_queued_at = Some(now - chrono::Duration::seconds(30));
        assert!(outbox_check(&sizes, now, 60).ok);
        sizes.oldest_queued_at = Some(now - chrono::Duration::seconds(90));
        assert!(!outbox_check(&sizes, now, 60).ok);
    }
}
