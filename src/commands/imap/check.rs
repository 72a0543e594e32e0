//! `sos-intake imap check`: log in, list the folders, count the backlog,
//! and say in plain Japanese what is wrong (bad password, TLS name
//! mismatch, refused connection, missing folder). Read-only: the mailbox
//! is opened with EXAMINE and nothing is created or moved.

use crate::config::ImapConfig;
use crate::imap_client::{self as connect, Endpoint, ImapError, ImapSession};
use crate::mailbox::imap::watch::{checkpoint_key, has_mailbox, list_folders};
use crate::mailbox::imap::{checkpoint, lease, utf7};
use crate::messages::imap as msg;
use crate::queue::Db;
use async_imap::types::Capability;
use std::time::Duration;
use tokio::time::timeout;

/// What the check found: report lines in order, and the problem (if any).
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Lines for the official, in order.
    pub lines: Vec<String>,
    /// What is wrong, when something is; None: all fine.
    pub problem: Option<ImapError>,
    /// Messages waiting to be handled (when the mailbox could be opened).
    pub backlog: Option<usize>,
}

const LIMIT: Duration = Duration::from_secs(30);

/// Runs the check. `db` gives the stored checkpoint (None: count every
/// message as backlog).
pub async fn check(config: &ImapConfig, db: Option<&Db>) -> CheckReport {
    let mut report = CheckReport::default();
    if let Err(problem) = run(config, db, &mut report).await {
        report.problem = Some(problem);
    }
    report
}

async fn run(
    config: &ImapConfig,
    db: Option<&Db>,
    report: &mut CheckReport,
) -> Result<(), ImapError> {
    let endpoint = Endpoint::from_config(config)?;
    let connected = connect::connect(&endpoint).await?;
    report
        .lines
        .push(msg::check_connected(&endpoint.addr(), endpoint.tls_label()));
    report
        .lines
        .push(msg::check_logged_in(&endpoint.user, connected.mechanism));
    if let Some(source) = &endpoint.oauth {
        report
            .lines
            .push(crate::messages::oauth::check_token(source.token_url()));
    }
    let mut session = connected.session;
    let result = inspect(config, db, &endpoint, &mut session, report).await;
    let _ = timeout(LIMIT, session.logout()).await;
    result
}

/// The checks of `imap check` on a signed-in session, in the order an admin
/// reads them (capabilities, folders, checkpoint, lease). Long because it is
/// a flat list of independent probes, each a few lines that push one report
/// line; splitting it would only move the list.
async fn inspect(
    config: &ImapConfig,
    db: Option<&Db>,
    endpoint: &Endpoint,
    session: &mut ImapSession,
    report: &mut CheckReport,
) -> Result<(), ImapError> {
    let timed = |what: &str| endpoint.timed_out(what);
    let caps = timeout(LIMIT, session.capabilities())
        .await
        .map_err(|_| timed("CAPABILITY"))?
        .map_err(ImapError::from_imap)?;
    let has = |name: &str| caps.has(&Capability::Atom(name.into()));
    report.lines.push(msg::check_capabilities(
        has("IDLE"),
        has("MOVE"),
        has("UIDPLUS"),
    ));

    let mut folders: Vec<String> = list_folders(session, LIMIT, endpoint)
        .await?
        .into_iter()
        .collect();
    folders.sort();
    report.lines.push(msg::CHECK_FOLDERS.to_string());
    report
        .lines
        .extend(folders.iter().map(|f| format!("  {f}")));

    if !has_mailbox(&folders.iter().cloned().collect(), &config.mailbox) {
        return Err(ImapError::MailboxMissing {
            mailbox: config.mailbox.clone(),
            detail: "LIST にありません".into(),
        });
    }
    let mailbox = match timeout(LIMIT, session.examine(utf7::encode(&config.mailbox))).await {
        Err(_) => return Err(timed("EXAMINE")),
        Ok(Err(async_imap::error::Error::No(s))) => {
            return Err(ImapError::MailboxMissing {
                mailbox: config.mailbox.clone(),
                detail: connect::server_words(&s),
            });
        }
        Ok(Err(e)) => return Err(ImapError::from_imap(e)),
        Ok(Ok(m)) => m,
    };
    let uidvalidity = mailbox.uid_validity.unwrap_or(0);
    let stored = match db {
        Some(db) => checkpoint::load(db, &checkpoint_key(endpoint, &config.mailbox))
            .await
            .map_err(|e| ImapError::Protocol(format!("{e:#}")))?,
        None => None,
    };
    let last_uid = match stored {
        Some(c) => {
            report.lines.push(msg::check_checkpoint(
                c.uidvalidity,
                c.last_uid,
                uidvalidity,
            ));
            if c.uidvalidity == uidvalidity {
                c.last_uid
            } else {
                0
            }
        }
        None => {
            report.lines.push(msg::CHECK_NO_CHECKPOINT.to_string());
            0
        }
    };
    let backlog = if mailbox.exists == 0 {
        0
    } else {
        let found = timeout(
            LIMIT,
            session.uid_search(format!("UID {}:*", last_uid.saturating_add(1))),
        )
        .await
        .map_err(|_| timed("UID SEARCH"))?
        .map_err(ImapError::from_imap)?;
        found.into_iter().filter(|u| *u > last_uid).count()
    };
    report.backlog = Some(backlog);
    report
        .lines
        .push(msg::check_backlog(&config.mailbox, mailbox.exists, backlog));
    if let Some(db) = db {
        // Which gateway watches now (several may share the database).
        let name = format!("imap:{}", checkpoint_key(endpoint, &config.mailbox));
        let holder = lease::current_holder(db, &name)
            .await
            .map_err(|e| ImapError::Protocol(format!("{e:#}")))?;
        report.lines.push(match holder {
            Some(h) if h.remaining_ms > 0 => msg::check_watched_by(&h.holder, h.remaining_ms),
            _ => msg::CHECK_NOT_WATCHED.to_string(),
        });
    }

    for (role, folder) in [
        (msg::ROLE_DONE, &config.done_folder),
        (msg::ROLE_ERROR, &config.error_folder),
        (msg::ROLE_QUARANTINE, &config.quarantine_folder),
    ] {
        if folders.iter().any(|f| f == folder) {
            report.lines.push(msg::check_folder_present(role, folder));
        } else {
            report.lines.push(msg::check_folder_absent(role, folder));
        }
    }
    Ok(())
}
