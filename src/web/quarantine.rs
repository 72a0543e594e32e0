//! Releasing quarantined mail: an admin says which prefecture an unknown
//! sender speaks for, and the mail is processed now as if the sender were in
//! the `[prefectures]` directory (filed, answered). "Authorise" also keeps
//! the address in `web_sender_allowlist` ([`crate::queue::senders`]), which
//! the mail pipeline reads for every message: the sender's next mail is
//! filed without a restart (and, with `sender_auth = "required"`, still
//! only when our mail server authenticates it).
//!
//! A released mail counts as vouched for ([`Intake::vouched_by_staff`]):
//! the admin checked the sender, so a registered address our server did not
//! authenticate is filed, answered at its From address, and its sheets may
//! supersede (and later be superseded by) the prefecture's authenticated
//! sheets, like any authenticated filing. It is filed with its original
//! receipt time, so it lands in the batch it was sent for. The vouching is
//! a property of the release, never of the message: the trace header below
//! is not read by the pipeline.
//!
//! The mail pipeline keys a message on Message-ID + SHA-256 of its bytes,
//! and the quarantined copy is already recorded under that key. The released
//! copy therefore carries one extra trace header naming the quarantine row
//! (`X-SOS-Released-From-Quarantine: <id>`): it is a new message to the
//! pipeline, keeps the original Message-ID for threading, and releasing the
//! same row twice gives the same bytes, which the pipeline recognises and
//! does not file again.

use super::{AppState, WebError};
use crate::messages::web as msg;
use crate::pipeline::{Intake, Outcome};
use crate::prefecture::Prefecture;
use crate::queue::db::now_text;
use crate::queue::{audit, blobs, quarantine as held};
use anyhow::Context;

/// The trace header of a released copy.
pub const RELEASED_HEADER: &str = "X-SOS-Released-From-Quarantine";

/// What a release did.
#[derive(Debug)]
pub struct Released {
    /// The pipeline's outcome for the released copy.
    pub outcome: Outcome,
    /// The sender's address.
    pub from_address: String,
}

/// Processes quarantined message `id` (a `mail_messages` id) as coming from
/// `prefecture`, on behalf of `actor`; with `authorise`, the address is also
/// remembered for that prefecture. The quarantine row is marked released
/// only after the mail was processed, so a failure leaves it listed.
pub async fn release(
    state: &AppState,
    id: i64,
    actor: &str,
    prefecture: Prefecture,
    authorise: bool,
) -> Result<Released, WebError> {
    let db = state.db();
    let mut conn = db.pool().acquire().await?;
    let mail = held::source(&mut conn, id)
        .await?
        .ok_or_else(WebError::not_found)?;
    if mail.released_at.is_some() {
        return Err(WebError::Conflict(msg::already_released().into()));
    }
    let from_address = mail.from_address;
    if from_address.parse::<lettre::Address>().is_err() {
        return Err(WebError::BadInput(msg::unusable_sender(&from_address)));
    }
    let (raw_sha, received_at) = (mail.raw_sha256, mail.received_at);
    let raw = blobs::get(&mut conn, &raw_sha)
        .await?
        .with_context(|| format!("the raw bytes of quarantined message {id} are missing"))?;
    drop(conn);

    let mut settings = state.settings().clone();
    settings
        .config
        .prefectures
        .entry(prefecture.name().to_string())
        .or_default()
        .push(from_address.clone());
    let intake = Intake::new(db.clone(), &settings)?
        .with_source("quarantine-release")
        .vouched_by_staff();
    let copy = released_copy(&raw, id);
    let outcome = intake
        .process(&copy, received_at.fixed_offset())
        .await
        .map_err(|e| WebError::Internal(anyhow::anyhow!("releasing message {id}: {e}")))?;

    let mut tx = db.begin().await?;
    let now = now_text();
    held::mark_released(&mut tx, id, actor, &now).await?;
    if authorise {
        crate::queue::senders::authorise(&mut tx, &from_address, prefecture, actor, &now).await?;
    }
    let detail = serde_json::json!({
        "mail_message_id": id,
        "released_as": outcome.mail_message_id,
        "from": from_address,
        "prefecture": prefecture.name(),
        "disposition": outcome.disposition.as_str(),
        "receipts": outcome.receipts,
    });
    let action = if authorise {
        "sender_authorised"
    } else {
        "quarantine_released"
    };
    audit::record(&mut tx, None, actor, action, &detail, "").await?;
    tx.commit().await?;
    Ok(Released {
        outcome,
        from_address,
    })
}

/// The raw message with the trace header prepended (deterministic).
pub fn released_copy(raw: &[u8], id: i64) -> Vec<u8> {
    let mut copy = format!("{RELEASED_HEADER}: {id}\r\n").into_bytes();
    copy.extend_from_slice(raw);
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_copy_is_deterministic_and_keeps_the_message() {
        let raw = b"Message-ID: <a@b>\r\nSubject: x\r\n\r\nbody";
        let a = released_copy(raw, 7);
        assert_eq!(a, released_copy(raw, 7));
        assert_ne!(a, released_copy(raw, 8));
        assert!(a.ends_with(raw));
        assert!(a.starts_with(b"X-SOS-Released-From-Quarantine: 7\r\n"));
    }
}
