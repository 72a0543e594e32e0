//! The CPU stage of the pipeline: parse the message (in a reader process),
//! classify the sender, read and check every sheet attachment. Nothing here
//! touches the database; the result is an [`Analysis`] that the recording
//! step files.

use super::*;

impl Intake {
    /// Parses, classifies (against `directory`) and checks, parsing and
    /// reading through the reader processes (blocking: call it off the
    /// runtime).
    pub(super) fn analyse(
        &self,
        raw: &[u8],
        received_at: DateTime<FixedOffset>,
        directory: &PrefectureDirectory,
    ) -> Result<Analysis, AnalysisError> {
        let inner = &self.inner;
        let mut parsed = inner
            .readers
            .parse_message(raw, &inner.limits)
            .map_err(AnalysisError::from)?;
        // NUL and other control characters never reach the database or a
        // reply (the raw bytes keep them).
        parsed.strip_controls();
        let mut class = senders::classify(&parsed, directory, &inner.mail);
        if inner.vouched {
            class = class.vouched_by_staff();
        }
        let batch = calendar::batch(inner.rule, &received_at);
        let facts = conversation::facts(&parsed);
        let mut analysis = Analysis {
            parsed,
            class,
            batch,
            files: Vec::new(),
            facts,
        };
        let prefecture = match (&analysis.class.sender, files_sheets(&analysis.class)) {
            (SenderClass::Prefecture { prefecture, .. }, true) => *prefecture,
            _ => return Ok(analysis),
        };
        if analysis.parsed.is_too_large() {
            analysis.files.push(FileResult::Problem(ProblemView::new(
                msg::WHOLE_MESSAGE,
                "too_large",
            )));
        }
        let mut files = Vec::new();
        for a in &analysis.parsed.attachments {
            let name = display_name(a);
            let result = match &a.kind {
                AttachmentKind::Sheet(_) => {
                    read_sheet(&inner.readers, a, &name, prefecture, &inner.policy)?
                }
                AttachmentKind::EncryptedOffice | AttachmentKind::EncryptedZip => {
                    FileResult::Problem(ProblemView::new(&name, "encrypted"))
                }
                AttachmentKind::TooLarge(_) => {
                    FileResult::Problem(ProblemView::new(&name, "too_large"))
                }
                AttachmentKind::Zip { .. } | AttachmentKind::Tnef { .. } => continue,
                AttachmentKind::Other(_) if a.is_inline => continue,
                // A winmail.dat with nothing readable inside: say how to
                // switch Outlook to HTML or plain text.
                AttachmentKind::Other(message::OtherFile::OutlookTnef) => {
                    FileResult::Unsupported(ProblemView::new(&name, "tnef"))
                }
                // Opaque-signed or encrypted S/MIME: how to resend it.
                AttachmentKind::Other(message::OtherFile::SmimeEnvelope) => {
                    FileResult::Unsupported(ProblemView::new(&name, "smime"))
                }
                AttachmentKind::Other(file) => FileResult::Unsupported(ProblemView {
                    file_name: name.clone(),
                    kind: "unsupported".into(),
                    message: format!(
                        "{}（{}）",
                        msg::file_problem("unsupported"),
                        crate::messages::mail_parse::other_file(*file)
                    ),
                }),
            };
            files.push(result);
        }
        for f in &files {
            crate::observe::monitor::global().attachment(f.outcome());
        }
        analysis.files.extend(files);
        Ok(analysis)
    }
}

/// What the CPU stage learned about a message.
pub(super) struct Analysis {
    pub(super) parsed: ParsedMessage,
    pub(super) class: Classification,
    pub(super) batch: calendar::Batch,
    pub(super) files: Vec<FileResult>,
    /// What the mail says about the conversation it belongs to.
    pub(super) facts: conversation::Facts,
}

impl Analysis {
    /// The From address as written (empty when there is none).
    pub(super) fn sender_address(&self) -> String {
        self.parsed
            .from
            .as_ref()
            .map(|f| f.address.clone())
            .unwrap_or_default()
    }
}

/// One attachment, as far as the pipeline is concerned.
#[derive(Clone)]
pub(super) enum FileResult {
    /// A workbook holding one or more forms, each checked.
    Sheets {
        /// Decoded name (with its path inside a zip or forwarded mail).
        name: String,
        /// The bytes (stored as a blob when filed; annotated on errors).
        bytes: Vec<u8>,
        /// SHA-256 of the bytes.
        sha256: String,
        /// Each form with its check.
        forms: Vec<(RequestSheet, validation::Checked)>,
        /// The copy marked with the forms' errors, made here (the reading
        /// stage runs in parallel, filing does not) when a form has errors;
        /// the reply uses it unless filing adds findings ([`annotated`]).
        annotated: Option<Vec<u8>>,
    },
    /// A file that should have been a sheet but could not be read.
    Problem(ProblemView),
    /// A file we do not take (a .docx, a PDF); listed, not a refusal.
    Unsupported(ProblemView),
}

impl FileResult {
    /// The outcome label of this attachment in `/metrics`.
    pub(super) fn outcome(&self) -> &str {
        match self {
            FileResult::Sheets { forms, .. }
                if forms
                    .iter()
                    .any(|(_, c)| c.findings.iter().any(|x| x.is_error())) =>
            {
                "sheet_with_errors"
            }
            FileResult::Sheets { .. } => "sheet",
            FileResult::Problem(p) | FileResult::Unsupported(p) => &p.kind,
        }
    }

    pub(super) fn summary(&self) -> serde_json::Value {
        match self {
            FileResult::Sheets {
                name,
                sha256,
                forms,
                ..
            } => serde_json::json!({
                "file": name, "sha256": sha256, "kind": "sheet",
                "forms": forms.iter().map(|(f, c)| serde_json::json!({
                    "sheet": f.sheet, "errors": c.findings.iter().filter(|x| x.is_error()).count(),
                    "warnings": c.findings.iter().filter(|x| !x.is_error()).count(),
                })).collect::<Vec<_>>(),
            }),
            FileResult::Problem(p) | FileResult::Unsupported(p) => {
                serde_json::json!({"file": p.file_name, "kind": p.kind})
            }
        }
    }
}

/// The workbook marked with its forms' findings, when a form has errors
/// (`None` also when it cannot be marked: the reply then goes without it,
/// as it always did).
fn annotated(
    bytes: &[u8],
    forms: &[(RequestSheet, validation::Checked)],
    name: &str,
) -> Option<Vec<u8>> {
    if !forms
        .iter()
        .any(|(_, c)| validation::has_errors(&c.findings))
    {
        return None;
    }
    let marks: Vec<crate::replies::SheetFindings<'_>> = forms
        .iter()
        .map(|(form, c)| crate::replies::SheetFindings {
            sheet: &form.sheet,
            findings: &c.findings,
        })
        .collect();
    match crate::replies::annotated_copy(bytes, &marks) {
        Ok(copy) => Some(copy),
        Err(e) => {
            tracing::warn!("cannot annotate {name}: {e}");
            None
        }
    }
}

pub(super) fn display_name(a: &message::Attachment) -> String {
    if a.path.is_empty() {
        a.filename
            .clone()
            .unwrap_or_else(|| msg::UNNAMED_FILE.to_string())
    } else {
        a.path.clone()
    }
}

/// Why a message could not be analysed at all.
#[derive(Debug)]
pub(super) enum AnalysisError {
    /// The message's reader failed on it: it cannot be read safely.
    Unreadable(ReaderFailure),
    /// No reader process could be started (not the message's fault).
    ReadersUnavailable(ReaderFailure),
}

impl From<ReaderFailure> for AnalysisError {
    fn from(failure: ReaderFailure) -> Self {
        if failure.is_unavailable() {
            AnalysisError::ReadersUnavailable(failure)
        } else {
            AnalysisError::Unreadable(failure)
        }
    }
}

impl AnalysisError {
    pub(super) fn into_intake(self) -> IntakeError {
        match self {
            AnalysisError::Unreadable(f) => IntakeError::Unreadable(f.to_string()),
            // Like a full disk: the machine is short of something now.
            AnalysisError::ReadersUnavailable(f) => IntakeError::Storage(anyhow::anyhow!(f)),
        }
    }
}

/// Reads and checks every form of a sheet attachment, adding the
/// mail-level check (the sheet's 都道府県 is the sender's). A workbook whose
/// reader failed is refused as unreadable.
pub(super) fn read_sheet(
    readers: &ReaderPool,
    a: &message::Attachment,
    name: &str,
    sender: Prefecture,
    policy: &Policy,
) -> Result<FileResult, AnalysisError> {
    let read = match readers.read_workbook(&a.bytes) {
        Ok(read) => read,
        Err(failure) if failure.is_unavailable() => {
            return Err(AnalysisError::ReadersUnavailable(failure));
        }
        Err(failure) => {
            tracing::warn!(file = name, sha256 = %a.sha256, %failure, "attachment refused as unreadable");
            return Ok(FileResult::Problem(ProblemView {
                file_name: name.to_string(),
                kind: crate::messages::readers::FILE_KIND.into(),
                message: crate::messages::readers::file_unreadable().into(),
            }));
        }
    };
    Ok(match read {
        Ok(book) => {
            let forms: Vec<(RequestSheet, validation::Checked)> = book
                .forms
                .into_iter()
                .map(|mut form| {
                    let cleaned = form.strip_controls();
                    let mut checked = validation::check(&form, policy);
                    checked
                        .findings
                        .extend(cleaned.iter().map(|cell| control_characters(*cell)));
                    if let Some(f) = validation::prefecture_mismatch(
                        &form,
                        &checked,
                        sender,
                        validation::FiledBy::Mail,
                    ) {
                        checked.findings.push(f);
                    }
                    (form, checked)
                })
                .collect();
            let annotated = annotated(&a.bytes, &forms, name);
            FileResult::Sheets {
                name: name.to_string(),
                bytes: a.bytes.clone(),
                sha256: a.sha256.clone(),
                forms,
                annotated,
            }
        }
        Err(e) => {
            let kind = match e {
                sheet::ReadError::Encrypted => "encrypted",
                sheet::ReadError::TooLarge(_) => "too_large",
                sheet::ReadError::NoForm => "no_form",
                _ => "unreadable",
            };
            FileResult::Problem(ProblemView {
                file_name: name.to_string(),
                kind: kind.into(),
                message: crate::messages::findings::read_error(&e),
            })
        }
    })
}

/// True when the sheets of a mail so classified are read and filed: a
/// registered, authenticated prefecture sender's mail that is not automatic,
/// or that a machine only passed on (auto-forwarded; filed, never
/// answered). Bounces, auto-replies and our own replies are never read.
pub(super) fn files_sheets(class: &Classification) -> bool {
    match (&class.sender, &class.policy) {
        (SenderClass::Prefecture { .. }, AnswerPolicy::Never(NeverReason::AutoGenerated(r))) => {
            r.is_forwarded()
        }
        (SenderClass::Prefecture { .. }, _) => true,
        _ => false,
    }
}

/// True for automatic mail that is kept but neither filed nor listed for
/// release: everything automatic except forwarded mail from a registered
/// address (filed when authenticated, quarantined for an admin otherwise).
pub(super) fn is_ignored(class: &Classification) -> bool {
    let AnswerPolicy::Never(NeverReason::AutoGenerated(reason)) = &class.policy else {
        return false;
    };
    let registered = matches!(
        class.sender,
        SenderClass::Prefecture { .. } | SenderClass::UnauthenticatedPrefecture { .. }
    );
    !(registered && reason.is_forwarded())
}

/// A warning that control characters were removed from `cell`.
pub(super) fn control_characters(cell: sheet::CellPos) -> Finding {
    Finding {
        severity: Severity::Warning,
        code: msg::CONTROL_CHARACTERS_CODE.into(),
        cell: Some(cell.a1()),
        field: String::new(),
        value: String::new(),
        message: msg::CONTROL_CHARACTERS.into(),
        fact: None,
    }
}
