//! The recording step: everything a message leaves in the database, inside
//! the caller's transaction (its `mail_messages` row, the filed requests or
//! the quarantine entry), through named functions of [`crate::queue`].

use super::*;

impl Intake {
    /// Everything a message leaves in the database, inside `tx`, once its
    /// `mail_messages` row (the Message-ID + SHA-256 key) is inserted as
    /// `mail_message_id` ([`Intake::insert_messages`]): the filed requests,
    /// quarantine, conversation and the queued reply, staged in `staged`.
    /// Nothing is committed here, so a caller may record several messages
    /// in one transaction; [`Intake::close`] writes what they still owe.
    pub(super) async fn record(
        &self,
        (tx, staged): (&mut queue::Tx, &mut queue::Staged),
        mail_message_id: i64,
        work: &Analysis,
        raw_sha256: &str,
        received_at: DateTime<FixedOffset>,
    ) -> Result<(Outcome, Closing), IntakeError> {
        let (disposition, filed) = self
            .file_or_set_apart((tx, staged), work, mail_message_id, raw_sha256, received_at)
            .await?;
        let receipts: Vec<String> = filed
            .iter()
            .filter_map(|f| f.outcome.as_ref().map(|o| o.receipt.clone()))
            .collect();
        let turn = self
            .converse(tx, work, &filed, mail_message_id, received_at)
            .await?;
        let (reply, reply_note, reason) = match turn.unanswered() {
            Some((why, note)) => (None, note.to_string(), Some(why)),
            None => {
                self.queue_reply(
                    (tx, staged),
                    work,
                    &filed,
                    (disposition, &turn),
                    mail_message_id,
                    received_at,
                )
                .await?
            }
        };
        let reason =
            reason.or((disposition == Disposition::Quarantined).then_some(Reason::Quarantined));
        let summary = serde_json::json!({
            "sender": work.class.describe(),
            "files": work.files.iter().map(FileResult::summary).collect::<Vec<_>>(),
            "problems": work.parsed.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "conversation": turn.summary(),
        });
        let closing = Closing {
            mail: reply,
            mail_message_id,
            raw_sha256: raw_sha256.to_string(),
            disposition: disposition.as_str(),
            reply: reply_note.clone(),
            receipts: receipts.join(","),
            summary: summary.to_string(),
            reason_code: reason.map(Reason::as_str).unwrap_or(""),
        };
        Ok((
            Outcome {
                disposition,
                first_disposition: disposition,
                mail_message_id: Some(mail_message_id),
                message_id: work.parsed.message_id.clone(),
                raw_sha256: raw_sha256.to_string(),
                receipts,
                reply: None,
                reply_note,
                reason,
            },
            closing,
        ))
    }

    /// What recorded messages still owe their transaction, for all of them
    /// at once: the staged rows written (each outcome learns its reply's
    /// outbox id), each attempt marked finished and each outcome stored.
    pub(super) async fn close(
        &self,
        (tx, staged): (&mut queue::Tx, &mut queue::Staged),
        recorded: &mut [(Outcome, Closing)],
    ) -> Result<(), IntakeError> {
        let flushed = staged.flush(tx).await.map_err(IntakeError::Database)?;
        for (outcome, closing) in recorded.iter_mut() {
            outcome.reply = closing.mail.and_then(|m| flushed.outbox_id(m));
        }
        if recorded.is_empty() {
            return Ok(());
        }
        let closings: Vec<&Closing> = recorded.iter().map(|(_, c)| c).collect();
        let shas: Vec<&str> = closings.iter().map(|c| c.raw_sha256.as_str()).collect();
        attempts::finished_all(tx, &shas)
            .await
            .map_err(IntakeError::Database)?;
        let outcomes: Vec<(i64, queue::mail_messages::MessageOutcome)> = closings
            .iter()
            .map(|c| {
                (
                    c.mail_message_id,
                    queue::mail_messages::MessageOutcome {
                        disposition: c.disposition,
                        reply: &c.reply,
                        receipts: &c.receipts,
                        summary: &c.summary,
                        reason_code: c.reason_code,
                    },
                )
            })
            .collect();
        queue::mail_messages::record_outcomes(tx, &outcomes)
            .await
            .map_err(IntakeError::Database)
    }

    /// The `mail_messages` rows of messages (`(analysis, raw SHA-256,
    /// received at)`), in one statement: each one's row id, or `None` when
    /// its key is recorded already (see
    /// [`queue::mail_messages::insert_all`]).
    pub(super) async fn insert_messages(
        &self,
        tx: &mut queue::Tx,
        messages: &[(&Analysis, &str, DateTime<FixedOffset>)],
    ) -> Result<Vec<Option<i64>>, IntakeError> {
        let owned: Vec<_> = messages
            .iter()
            .map(|(work, sha, at)| self.message_row(work, sha, *at))
            .collect();
        let rows: Vec<_> = owned.iter().map(MessageRow::as_new).collect();
        queue::mail_messages::insert_all(tx, &rows)
            .await
            .map_err(IntakeError::Database)
    }

    /// What a message's `mail_messages` row holds.
    fn message_row(
        &self,
        work: &Analysis,
        raw_sha256: &str,
        received_at: DateTime<FixedOffset>,
    ) -> MessageRow {
        MessageRow {
            message_id: work.parsed.message_id.clone().unwrap_or_default(),
            raw_sha256: raw_sha256.to_string(),
            source: self.inner.source.clone(),
            received_at: received_at.to_utc(),
            from_address: work.sender_address(),
            subject: work.parsed.subject.clone().unwrap_or_default(),
            prefecture: match &work.class.sender {
                SenderClass::Prefecture { prefecture, .. } => Some(prefecture.name()),
                _ => None,
            },
        }
    }

    /// Files the sheets of a prefecture's mail, lists anything else in
    /// quarantine (or ignores automatic mail); the disposition and what
    /// was filed.
    pub(super) async fn file_or_set_apart(
        &self,
        (tx, staged): (&mut queue::Tx, &mut queue::Staged),
        work: &Analysis,
        mail_message_id: i64,
        raw_sha256: &str,
        received_at: DateTime<FixedOffset>,
    ) -> Result<(Disposition, Vec<Filed>), IntakeError> {
        let (disposition, filed) = match (&work.class.sender, &work.class.policy) {
            (_, AnswerPolicy::Never(NeverReason::AutoGenerated(_))) if is_ignored(&work.class) => {
                (Disposition::Ignored, Vec::new())
            }
            (SenderClass::Prefecture { prefecture, trust }, _) => {
                let filed = self
                    .file_all(
                        (tx, staged),
                        work,
                        (*prefecture, *trust),
                        raw_sha256,
                        received_at,
                    )
                    .await?;
                (disposition_of(&filed), filed)
            }
            _ => (Disposition::Quarantined, Vec::new()),
        };
        if disposition == Disposition::Quarantined {
            let from_address = work.sender_address();
            let reason = work.class.describe();
            let hold = queue::quarantine::Hold {
                mail_message_id,
                from_address: &from_address,
                reason: &reason,
                kind: work.class.sender.quarantine_kind(),
                prefecture: work.class.sender.claimed_prefecture().map(|p| p.name()),
            };
            queue::quarantine::hold(tx, &hold)
                .await
                .map_err(IntakeError::Database)?;
        }
        Ok((disposition, filed))
    }

    /// The outcome of a message whose key was found recorded: nothing
    /// changes but the attempt, marked finished.
    pub(super) async fn already_processed(
        &self,
        work: &Analysis,
        raw_sha256: &str,
    ) -> Result<Outcome, IntakeError> {
        let message_id = work.parsed.message_id.clone();
        let key_id = message_id.as_deref().unwrap_or_default();
        let earlier =
            queue::mail_messages::earlier_handling(self.inner.db.pool(), key_id, raw_sha256)
                .await
                .map_err(IntakeError::Database)?;
        let first = Disposition::parse(&earlier.disposition).unwrap_or(Disposition::Rejected);
        // Handled before the attempts were counted (or by a twin): it is done.
        let mut conn = self.connection().await?;
        attempts::finished(&mut conn, raw_sha256)
            .await
            .map_err(IntakeError::Database)?;
        tracing::info!(
            "message {} already processed ({}); nothing changed",
            message_id.as_deref().unwrap_or("(no Message-ID)"),
            first.as_str()
        );
        Ok(Outcome {
            disposition: Disposition::AlreadyProcessed,
            first_disposition: first,
            mail_message_id: earlier.id,
            message_id,
            raw_sha256: raw_sha256.to_string(),
            receipts: earlier
                .receipts
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            reply: None,
            reply_note: earlier.reply,
            reason: Reason::parse(&earlier.reason_code),
        })
    }

    /// Files every form found; each result keeps its findings for the reply.
    pub(super) async fn file_all(
        &self,
        (tx, staged): (&mut queue::Tx, &mut queue::Staged),
        work: &Analysis,
        (prefecture, sender_trust): (Prefecture, SenderTrust),
        raw_sha256: &str,
        received_at: DateTime<FixedOffset>,
    ) -> Result<Vec<Filed>, IntakeError> {
        let mut filed = Vec::new();
        let batch_reason = crate::messages::calendar::batch_reason(&work.batch.reason);
        for (index, file) in work.files.iter().enumerate() {
            let FileResult::Sheets {
                name,
                bytes,
                sha256,
                forms,
                ..
            } = file
            else {
                continue;
            };
            staged.put_blob(bytes);
            let count = forms.len();
            for (form, checked) in forms {
                let filing = SheetFiling {
                    received_at: received_at.to_utc(),
                    batch_date: work.batch.date.date(),
                    batch_reason: Some(batch_reason.clone()),
                    prefecture,
                    institution: checked.institution.clone(),
                    lines: checked.lines.clone(),
                    findings: checked.findings.clone(),
                    source_message_sha256: Some(raw_sha256.to_string()),
                    attachment_sha256: Some(sha256.clone()),
                    attachment_name: name.clone(),
                    sheet_name: form.sheet.clone(),
                    actor: "mail".into(),
                    sender_trust,
                };
                let outcome = queue::file_sheet_staged(tx, staged, &filing)
                    .await
                    .map_err(IntakeError::Database)?;
                let mut findings = checked.findings.clone();
                findings.extend(outcome.findings_added.iter().cloned());
                filed.push(Filed {
                    file_name: name.clone(),
                    sheet_name: form.sheet.clone(),
                    sheet_count: count,
                    bytes_index: Some(index),
                    batch_reason: batch_reason.clone(),
                    checked: checked.clone(),
                    findings,
                    outcome: Some(outcome),
                });
            }
        }
        // Files that were not sheets (or not readable) count as refused.
        for file in &work.files {
            if let FileResult::Problem(p) = file {
                filed.push(Filed::problem(p));
            }
        }
        Ok(filed)
    }
}

/// A message's `mail_messages` row, owned (see
/// [`queue::mail_messages::NewMessage`]).
struct MessageRow {
    message_id: String,
    raw_sha256: String,
    source: String,
    received_at: DateTime<Utc>,
    from_address: String,
    subject: String,
    prefecture: Option<&'static str>,
}

impl MessageRow {
    fn as_new(&self) -> queue::mail_messages::NewMessage<'_> {
        queue::mail_messages::NewMessage {
            message_id: &self.message_id,
            raw_sha256: &self.raw_sha256,
            source: &self.source,
            received_at: self.received_at,
            from_address: &self.from_address,
            subject: &self.subject,
            prefecture: self.prefecture,
        }
    }
}

/// The last writes of a recorded message, made by [`Intake::close`] for a
/// whole batch in two statements.
pub(super) struct Closing {
    /// The reply staged for the outbox: [`Outcome::reply`] is its row id,
    /// set by [`Intake::close`].
    mail: Option<queue::StagedMail>,
    mail_message_id: i64,
    raw_sha256: String,
    disposition: &'static str,
    reply: String,
    receipts: String,
    summary: String,
    reason_code: &'static str,
}

/// One filed form, or one refused file.
#[derive(Clone)]
pub(super) struct Filed {
    pub(super) file_name: String,
    pub(super) sheet_name: String,
    pub(super) sheet_count: usize,
    /// Index of its file in `Analysis::files`.
    pub(super) bytes_index: Option<usize>,
    /// Why the batch date (words).
    pub(super) batch_reason: String,
    pub(super) checked: validation::Checked,
    /// Validation's findings plus the queue's.
    pub(super) findings: Vec<Finding>,
    /// None for a refused file.
    pub(super) outcome: Option<FilingOutcome>,
}

impl Filed {
    pub(super) fn problem(p: &ProblemView) -> Filed {
        Filed {
            file_name: p.file_name.clone(),
            sheet_name: String::new(),
            sheet_count: 0,
            bytes_index: None,
            batch_reason: String::new(),
            checked: validation::Checked {
                institution: Default::default(),
                lines: Vec::new(),
                findings: Vec::new(),
            },
            findings: Vec::new(),
            outcome: None,
        }
    }

    /// True when filing added findings to the form's own (G-MIS
    /// registration, a 受付完了 rival, supersession).
    pub(super) fn findings_added(&self) -> bool {
        self.findings != self.checked.findings
    }

    /// Filed into review.
    pub(super) fn accepted(&self) -> bool {
        self.outcome
            .as_ref()
            .is_some_and(|o| o.status == Status::UnderReview && !o.refused_because_completed)
    }
}

pub(super) fn disposition_of(filed: &[Filed]) -> Disposition {
    let accepted = filed.iter().filter(|f| f.accepted()).count();
    let refused = filed.len() - accepted;
    match (accepted, refused) {
        (a, 0) if a > 0 => Disposition::Accepted,
        (a, _) if a > 0 => Disposition::Partial,
        _ => Disposition::Rejected,
    }
}
