//! Replies: what the pipeline learned about one message, rendered from the
//! Japanese templates in `templates/mail/` (embedded in the binary) and
//! built into one threaded MIME message with lettre.
//!
//! One message gets one reply covering all its attachments: an
//! acknowledgement per accepted sheet, an error report per refused sheet
//! (with the annotated copy attached back), and a line per file that could
//! not be read (password-protected, too large, not a sheet, no form).

use crate::messages::mail as msg;
use anyhow::Context;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use serde::Serialize;
use std::sync::OnceLock;

/// The header that tells our own replies from anyone else's mail; set on
/// every reply, and recognised by the sender classification so we never
/// answer ourselves.
pub use crate::message::senders::OWN_REPLY_HEADER;

/// The machine-readable outcome header.
pub const STATUS_HEADER: &str = "X-SOS-Status";
/// The machine-readable receipt numbers header.
pub const RECEIPT_HEADER: &str = "X-SOS-Receipt";

/// The findings of one worksheet (by its name, as in the submitted file).
#[derive(Clone, Copy, Debug)]
pub struct SheetFindings<'a> {
    /// The worksheet name (タブ名) the findings' cells refer to.
    pub sheet: &'a str,
    /// Its findings; those without a cell are listed but mark nothing.
    pub findings: &'a [crate::validation::Finding],
}

/// The annotated copy of a submitted workbook sent back with an error
/// report: `bytes` with the cells of `groups` marked and every finding
/// listed, in the words of `messages::workbook` (see
/// [`crate::sheet::annotate::annotate`]).
pub fn annotated_copy(
    bytes: &[u8],
    groups: &[SheetFindings<'_>],
) -> Result<Vec<u8>, crate::sheet::annotate::AnnotateError> {
    use crate::messages::workbook::{ANNOTATION, remark};
    use crate::sheet::annotate::{Remark, SheetRemarks, annotate};
    let remarks: Vec<Vec<Remark>> = groups
        .iter()
        .map(|g| g.findings.iter().map(remark).collect())
        .collect();
    let sheets: Vec<SheetRemarks<'_>> = groups
        .iter()
        .zip(&remarks)
        .map(|(g, remarks)| SheetRemarks {
            sheet: g.sheet,
            remarks,
        })
        .collect();
    annotate(bytes, &sheets, &ANNOTATION)
}

/// The outcome of a message as the reply states it (`X-SOS-Status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyStatus {
    /// Every sheet filed into review.
    Accepted,
    /// Some sheets filed, some refused.
    Partial,
    /// Nothing filed into review.
    Rejected,
    /// Unknown sender: kept, not filed.
    Quarantined,
}

impl ReplyStatus {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyStatus::Accepted => "accepted",
            ReplyStatus::Partial => "partial",
            ReplyStatus::Rejected => "rejected",
            ReplyStatus::Quarantined => "quarantined",
        }
    }
}

/// One item line as understood, formatted for the reply.
#[derive(Clone, Debug, Serialize)]
pub struct ItemView {
    /// The item's name.
    pub label: String,
    /// 前日時点の在庫量.
    pub stock: String,
    /// 現在の在庫の備蓄見通し.
    pub outlook: String,
    /// 今後1週間あたりの想定消費量.
    pub weekly_use: String,
    /// 今後1週間に購入できる見込み量.
    pub weekly_purchase: String,
    /// 要 / 否 / （空欄）.
    pub need: String,
    /// 配布方法.
    pub method: String,
    /// 県の配布枚数.
    pub prefecture_quantity: String,
    /// 国の配布枚数.
    pub national_quantity: String,
    /// 総配布枚数.
    pub total_quantity: String,
}

impl ItemView {
    /// Formats a requested line.
    pub fn from_line(line: &crate::request::ItemLine) -> ItemView {
        let p = &line.prefecture;
        ItemView {
            label: line.item.label().to_string(),
            stock: msg::quantity(line.stock),
            outlook: line
                .outlook
                .map(|o| o.as_str().to_string())
                .unwrap_or_else(|| "（空欄）".into()),
            weekly_use: msg::quantity(line.weekly_use),
            weekly_purchase: msg::quantity(line.weekly_purchase),
            need: match p.need {
                Some(crate::request::Need::Needed) => "要".into(),
                Some(crate::request::Need::NotNeeded) => "否".into(),
                None => "（空欄）".into(),
            },
            method: p.method.map(|m| m.as_str().to_string()).unwrap_or_default(),
            prefecture_quantity: msg::quantity(p.prefecture_quantity),
            national_quantity: msg::quantity(p.national_quantity),
            total_quantity: msg::quantity(p.total_quantity),
        }
    }
}

/// One finding, formatted for the reply.
#[derive(Clone, Debug, Serialize)]
pub struct FindingView {
    /// A1 reference, when the finding is about a cell.
    pub cell: Option<String>,
    /// The field's label.
    pub field: String,
    /// The value seen.
    pub value: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl FindingView {
    /// Formats a finding.
    pub fn from_finding(f: &crate::validation::Finding) -> FindingView {
        FindingView {
            cell: f.cell.clone(),
            field: crate::messages::findings::field(f),
            value: f.value.clone(),
            message: crate::messages::findings::message(f),
        }
    }
}

/// One form (worksheet) of one attachment, as filed.
#[derive(Clone, Debug, Serialize)]
pub struct SheetView {
    /// The attachment's decoded file name (with its path in a zip).
    pub file_name: String,
    /// The worksheet holding the form.
    pub sheet_name: String,
    /// How many forms the file held.
    pub sheet_count: usize,
    /// 受付番号, when filed.
    pub receipt: Option<String>,
    /// Filed into review (no errors).
    pub accepted: bool,
    /// The result in words.
    pub state: String,
    /// 医療機関名.
    pub institution_name: String,
    /// 医療機関コード.
    pub institution_code: String,
    /// Requested items as understood.
    pub items: Vec<ItemView>,
    /// The batch date in words (`2026年11月24日（火）`).
    pub batch_date: String,
    /// Why that batch.
    pub batch_reason: String,
    /// Errors.
    pub errors: Vec<FindingView>,
    /// Warnings.
    pub warnings: Vec<FindingView>,
    /// Receipts this one replaced.
    pub superseded: Vec<String>,
}

/// A file that could not be taken as a sheet.
#[derive(Clone, Debug, Serialize)]
pub struct ProblemView {
    /// The decoded file name.
    pub file_name: String,
    /// `encrypted`, `too_large`, `unreadable`, `no_form`, `unsupported`, `tnef` (a winmail.dat with nothing readable inside), `smime` (opaque-signed or encrypted S/MIME).
    pub kind: String,
    /// The sentence shown.
    pub message: String,
}

impl ProblemView {
    /// A problem of `kind` with the standard sentence.
    pub fn new(file_name: &str, kind: &str) -> ProblemView {
        ProblemView {
            file_name: file_name.to_string(),
            kind: kind.to_string(),
            message: msg::file_problem(kind).to_string(),
        }
    }
}

/// Everything a reply says; the templates' context.
#[derive(Clone, Debug, Serialize)]
pub struct ReplyView {
    /// accepted / partial / rejected / quarantined.
    pub status: ReplyStatus,
    /// Whom we address (display name, or the address).
    pub sender_name: String,
    /// The sender's address.
    pub sender_address: String,
    /// The subject of the received mail.
    pub original_subject: String,
    /// When it reached our mailbox, in words.
    pub received_at: String,
    /// Per form found.
    pub sheets: Vec<SheetView>,
    /// Per file that was not a readable sheet.
    pub problems: Vec<ProblemView>,
    /// No attachment was a sheet and nothing else was wrong with a file.
    pub no_sheet: bool,
    /// No file, but a download link instead: the reply says links are not
    /// opened and asks for the file attached (replaces `no_sheet`).
    pub download_link: bool,
    /// The file-transfer service the link belongs to, when known.
    pub link_service: String,
    /// Names of annotated copies attached.
    pub annotated_files: Vec<String>,
    /// Our name.
    pub sos_name: String,
    /// Our address.
    pub sos_address: String,
    /// The cut-off rule in one sentence.
    pub cutoff_note: String,
}

impl ReplyView {
    /// Every receipt number, in order.
    pub fn receipts(&self) -> Vec<String> {
        self.sheets
            .iter()
            .filter_map(|s| s.receipt.clone())
            .collect()
    }
}

/// A file sent back with the reply.
#[derive(Clone, Debug)]
pub struct ReplyAttachment {
    /// Its name.
    pub file_name: String,
    /// Its bytes (.xlsx).
    pub bytes: Vec<u8>,
}

/// Who we answer and the thread we answer in.
#[derive(Clone, Debug)]
pub struct Thread {
    /// The address we answer (Reply-To when set, else From).
    pub to: String,
    /// Its display name.
    pub to_name: Option<String>,
    /// The received Message-ID (no angle brackets).
    pub message_id: Option<String>,
    /// The received References (no angle brackets), oldest first.
    pub references: Vec<String>,
}

/// Our own identity on replies.
#[derive(Clone, Debug)]
pub struct Identity {
    /// `sos_address`.
    pub address: String,
    /// `sos_name`.
    pub name: String,
}

impl Identity {
    /// Ours as configured: `sos_address` and `sos_name`.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Identity {
            address: config.sos_address.clone(),
            name: config.sos_name.clone(),
        }
    }

    /// The From of our mail: `sos_name <sos_address>`.
    pub fn mailbox(&self) -> anyhow::Result<Mailbox> {
        Ok(Mailbox::new(
            Some(self.name.clone()),
            self.address
                .parse()
                .with_context(|| format!("bad sos_address {:?}", self.address))?,
        ))
    }

    /// The domain our Message-IDs are made under: that of `sos_address`
    /// (`localhost` when it has none).
    pub fn message_id_domain(&self) -> &str {
        self.address
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("localhost")
    }
}

fn environment() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        // Embedded so the binary needs no template directory at run time.
        let templates = [
            ("reply.txt", include_str!("../templates/mail/reply.txt")),
            (
                "quarantined.txt",
                include_str!("../templates/mail/quarantined.txt"),
            ),
            ("_sheet.txt", include_str!("../templates/mail/_sheet.txt")),
            ("_footer.txt", include_str!("../templates/mail/_footer.txt")),
            ("_link.txt", include_str!("../templates/mail/_link.txt")),
        ];
        for (name, source) in templates {
            if let Err(e) = env.add_template(name, source) {
                // A broken template is a build defect; the tests render every kind.
                tracing::error!("template {name} does not parse: {e}");
            }
        }
        env.set_keep_trailing_newline(true);
        env
    })
}

/// Renders the body of the reply.
pub fn render_body(view: &ReplyView) -> anyhow::Result<String> {
    let name = match view.status {
        ReplyStatus::Quarantined => "quarantined.txt",
        _ => "reply.txt",
    };
    let template = environment()
        .get_template(name)
        .with_context(|| format!("template {name} missing"))?;
    let body = template
        .render(view)
        .with_context(|| format!("cannot render template {name}"))?;
    Ok(tidy(&body))
}

/// Collapses runs of blank lines the template's conditionals leave.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_start_matches('\n').to_string()
}

/// The subject of the reply.
pub fn subject(view: &ReplyView) -> String {
    let original = Some(view.original_subject.as_str()).filter(|s| !s.is_empty());
    msg::subject(view.status.as_str(), &view.receipts(), original)
}

/// Builds the complete reply: From us, To the sender, threaded, with the
/// machine-readable headers and the annotated copies attached.
pub fn build(
    me: &Identity,
    thread: &Thread,
    view: &ReplyView,
    attachments: &[ReplyAttachment],
) -> anyhow::Result<(String, lettre::Message)> {
    let subject = subject(view);
    let body = render_body(view)?;
    let from = me.mailbox()?;
    let to = Mailbox::new(
        thread.to_name.clone(),
        thread
            .to
            .parse()
            .with_context(|| format!("bad recipient {:?}", thread.to))?,
    );
    let domain = me.message_id_domain();
    let mut builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(subject.clone())
        .message_id(Some(format!(
            "<sos-reply.{}@{}>",
            reply_token(thread, view),
            domain
        )))
        .date_now()
        .raw_header(raw("Auto-Submitted", "auto-replied"))
        .raw_header(raw(STATUS_HEADER, view.status.as_str()))
        .raw_header(raw(OWN_REPLY_HEADER, "1"));
    let receipts = view.receipts();
    if !receipts.is_empty() {
        builder = builder.raw_header(raw(RECEIPT_HEADER, &receipts.join(", ")));
    }
    if let Some(id) = &thread.message_id {
        builder = builder.in_reply_to(format!("<{id}>"));
        let mut refs: Vec<String> = thread.references.iter().map(|r| format!("<{r}>")).collect();
        refs.push(format!("<{id}>"));
        builder = builder.references(refs.join(" "));
    }
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(body);
    let message = if attachments.is_empty() {
        builder.singlepart(text)
    } else {
        let xlsx =
            ContentType::parse("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
                .context("content type")?;
        let mut mixed = MultiPart::mixed().singlepart(text);
        for a in attachments {
            mixed = mixed.singlepart(
                Attachment::new(a.file_name.clone()).body(a.bytes.clone(), xlsx.clone()),
            );
        }
        builder.multipart(mixed)
    }
    .context("cannot build the reply")?;
    Ok((subject, message))
}

/// A header of our own mail as written (`X-SOS-…`, `Auto-Submitted`); a
/// name that is not ASCII becomes `X-SOS-Invalid` rather than an error.
pub(crate) fn raw(name: &str, value: &str) -> HeaderValue {
    let name = HeaderName::new_from_ascii(name.to_string())
        .unwrap_or_else(|_| HeaderName::new_from_ascii_str("X-SOS-Invalid"));
    HeaderValue::new(name, value.to_string())
}

/// A stable token for the reply's Message-ID: the same message gives the
/// same reply id, so a client seeing it twice can tell.
fn reply_token(thread: &Thread, view: &ReplyView) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(thread.message_id.as_deref().unwrap_or("").as_bytes());
    h.update(b"\0");
    h.update(view.receipts().join(",").as_bytes());
    h.update(b"\0");
    h.update(view.received_at.as_bytes());
    hex::encode(&h.finalize()[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(status: ReplyStatus) -> ReplyView {
        ReplyView {
            status,
            sender_name: "東京都 感染症対策課".into(),
            sender_address: "sos@fukushi.metro.tokyo.lg.jp".into(),
            original_subject: "緊急配布要請".into(),
            received_at: "2026年11月21日 13:05".into(),
            sheets: vec![SheetView {
                file_name: "要請シート.xlsx".into(),
                sheet_name: "様式".into(),
                sheet_count: 1,
                receipt: Some("SOS-20261124-000001".into()),
                accepted: true,
                state: msg::sheet_state(true, false).into(),
                institution_name: "○○病院".into(),
                institution_code: "1310000013".into(),
                items: vec![],
                batch_date: "2026年11月24日（火）".into(),
                batch_reason: "13時を過ぎての受信のため翌営業日扱い".into(),
                errors: vec![],
                warnings: vec![FindingView {
                    cell: Some("E31".into()),
                    field: "在庫量".into(),
                    value: "9000".into(),
                    message: "在庫量が1ヶ月分以上の可能性あり（自動判定）".into(),
                }],
                superseded: vec!["SOS-20261124-000000".into()],
            }],
            problems: vec![ProblemView::new("secret.zip", "encrypted")],
            no_sheet: false,
            download_link: false,
            link_service: String::new(),
            annotated_files: vec![],
            sos_name: "厚生労働省 緊急配布チーム".into(),
            sos_address: "sos-busshi@mhlw.go.jp".into(),
            cutoff_note: "締切".into(),
        }
    }

    #[test]
    fn acknowledgement_names_receipt_batch_warnings_and_supersession() {
        let body = render_body(&view(ReplyStatus::Partial)).unwrap();
        for needle in [
            "SOS-20261124-000001",
            "○○病院",
            "2026年11月24日（火）",
            "13時を過ぎて",
            "セル E31",
            "1ヶ月分以上",
            "SOS-20261124-000000",
            "secret.zip",
            "パスワード",
        ] {
            assert!(body.contains(needle), "missing {needle} in\n{body}");
        }
        assert!(!body.contains("\n\n\n"), "blank lines pile up:\n{body}");
    }

    #[test]
    fn reply_is_threaded_and_marked() {
        let me = Identity {
            address: "sos-busshi@mhlw.go.jp".into(),
            name: "厚生労働省 緊急配布チーム".into(),
        };
        let thread = Thread {
            to: "sos@fukushi.metro.tokyo.lg.jp".into(),
            to_name: None,
            message_id: Some("abc@tokyo".into()),
            references: vec!["root@tokyo".into()],
        };
        let (subject, m) = build(
            &me,
            &thread,
            &view(ReplyStatus::Accepted),
            &[ReplyAttachment {
                file_name: "要請シート_指摘箇所.xlsx".into(),
                bytes: vec![1, 2, 3],
            }],
        )
        .unwrap();
        assert!(subject.contains("SOS-20261124-000001"));
        let raw = String::from_utf8(m.formatted()).unwrap();
        for needle in [
            "In-Reply-To: <abc@tokyo>",
            "References: <root@tokyo> <abc@tokyo>",
            "Auto-Submitted: auto-replied",
            "X-SOS-Status: accepted",
            "X-SOS-Receipt: SOS-20261124-000001",
            "filename*0*=utf-8''",
        ] {
            assert!(raw.contains(needle), "missing {needle} in\n{raw}");
        }
        assert!(raw.contains(&format!("{OWN_REPLY_HEADER}: ")));
    }
}
