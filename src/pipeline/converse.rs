//! The pipeline's conversation step (issue 12, point 3): given the facts of
//! a mail ([`crate::conversation::Facts`]) and what the queue knows of our
//! own mail, decides the mail's [`Turn`] and keeps what it implies
//! (correspondence, links between requests), inside the message's
//! transaction.

use super::{Analysis, Filed, Intake, IntakeError};
use crate::conversation::Turn;
use crate::message::senders::{AnswerPolicy, SenderClass};
use crate::queue::Tx;
use crate::queue::conversation::{self as store, NewCorrespondence, RequestRef};
use chrono::{DateTime, FixedOffset};

/// The most body text kept with a correspondence (characters); the raw
/// mail keeps everything.
const MAX_BODY_CHARS: usize = 20_000;

impl Intake {
    /// The mail's turn in a conversation, with its correspondence and links
    /// kept. Only mail of a trusted prefecture sender that would be
    /// answered takes part; everything else is [`Turn::Plain`] (handled as
    /// before).
    pub(super) async fn converse(
        &self,
        tx: &mut Tx,
        work: &Analysis,
        filed: &[Filed],
        mail_message_id: i64,
        received_at: DateTime<FixedOffset>,
    ) -> Result<Turn, IntakeError> {
        let SenderClass::Prefecture { prefecture, .. } = &work.class.sender else {
            return Ok(Turn::Plain);
        };
        if work.class.policy != AnswerPolicy::Answer {
            return Ok(Turn::Plain);
        }
        let db = IntakeError::Database;
        let facts = &work.facts;
        // Which requests it refers to: those of our mail it answers, and
        // receipt numbers in its subject (the prefecture's own only).
        let ours = store::our_mail(tx, &facts.references).await.map_err(db)?;
        let mut receipts = ours.clone().unwrap_or_default();
        for r in &facts.subject_receipts {
            if !receipts.contains(r) {
                receipts.push(r.clone());
            }
        }
        let referred = store::requests_by_receipts(tx, &receipts, prefecture.name())
            .await
            .map_err(db)?;
        let refers = ours.is_some() || !referred.is_empty();
        let without_sheet = work.files.is_empty() && !work.parsed.is_too_large();

        if !without_sheet {
            let new: Vec<i64> = filed
                .iter()
                .filter_map(|f| f.outcome.as_ref().map(|o| o.record_id))
                .collect();
            let earlier: Vec<RequestRef> = referred
                .into_iter()
                .filter(|r| !new.contains(&r.id))
                .collect();
            if earlier.is_empty() || new.is_empty() {
                return Ok(Turn::Plain);
            }
            store::link_requests(tx, &new, &earlier, mail_message_id)
                .await
                .map_err(db)?;
            return Ok(Turn::Resubmission { earlier });
        }
        if let Some(turn) = self
            .password_notice(tx, work, mail_message_id, received_at, &referred)
            .await?
        {
            self.keep(tx, work, mail_message_id, received_at, &turn)
                .await?;
            return Ok(turn);
        }
        let turn = match facts.download_link.clone() {
            Some(link) => Turn::DownloadLink {
                link,
                requests: referred,
            },
            None if refers => Turn::Correspondence { requests: referred },
            None => return Ok(Turn::Plain),
        };
        if refers {
            self.keep(tx, work, mail_message_id, received_at, &turn)
                .await?;
        }
        Ok(turn)
    }

    /// A password notice: no file, a password announced, and the same
    /// sender's mail with a refused password-protected file within the
    /// configured window before it.
    async fn password_notice(
        &self,
        tx: &mut Tx,
        work: &Analysis,
        mail_message_id: i64,
        received_at: DateTime<FixedOffset>,
        referred: &[RequestRef],
    ) -> Result<Option<Turn>, IntakeError> {
        let facts = &work.facts;
        let Some(from) = work.parsed.from.as_ref() else {
            return Ok(None);
        };
        if !facts.no_files || !facts.announces_password {
            return Ok(None);
        }
        let until = received_at.to_utc();
        let window = i64::from(self.inner.mail.password_notice_window_minutes);
        let since = until - chrono::Duration::minutes(window);
        let db = IntakeError::Database;
        let Some(refused) =
            store::refused_encrypted(tx, &from.key(), since, until, mail_message_id)
                .await
                .map_err(db)?
        else {
            return Ok(None);
        };
        let of_refused = store::receipts_of_mail(tx, refused).await.map_err(db)?;
        let mut requests = store::ids_of_receipts(tx, &of_refused).await.map_err(db)?;
        for r in referred {
            if !requests.contains(r) {
                requests.push(r.clone());
            }
        }
        Ok(Some(Turn::PasswordNotice { refused, requests }))
    }

    /// Keeps the mail as correspondence for staff.
    async fn keep(
        &self,
        tx: &mut Tx,
        work: &Analysis,
        mail_message_id: i64,
        received_at: DateTime<FixedOffset>,
        turn: &Turn,
    ) -> Result<(), IntakeError> {
        let (kind, refers_to, requests, secret) = match turn {
            Turn::PasswordNotice { refused, requests } => {
                ("password_notice", Some(*refused), requests, true)
            }
            Turn::Correspondence { requests } | Turn::DownloadLink { requests, .. } => {
                ("reply", None, requests, false)
            }
            _ => return Ok(()),
        };
        let subject = work.parsed.subject.clone().unwrap_or_default();
        let from = work.parsed.from.as_ref();
        // A password notice keeps no body and a masked subject: the
        // password stays in the raw mail only.
        let (subject, body) = if secret {
            (crate::conversation::mask_passwords(&subject), String::new())
        } else {
            (
                subject,
                work.parsed.text.chars().take(MAX_BODY_CHARS).collect(),
            )
        };
        let c = NewCorrespondence {
            mail_message_id,
            kind,
            received_at: received_at.to_utc(),
            from_address: from.map(|f| f.address.as_str()).unwrap_or(""),
            from_name: from.and_then(|f| f.name.as_deref()).unwrap_or(""),
            subject: &subject,
            body: &body,
            refers_to,
            requests,
        };
        store::record(tx, &c).await.map_err(IntakeError::Database)?;
        if secret {
            store::mask_subject(tx, mail_message_id, &subject)
                .await
                .map_err(IntakeError::Database)?;
        }
        Ok(())
    }
}
