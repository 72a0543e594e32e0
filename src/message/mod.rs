//! One received mail, read: who sent it, what it says, and every attached
//! file with its type told by content.
//!
//! # API
//!
//! ```no_run
//! use sos_intake::message::{self, AttachmentKind, Limits};
//! # let raw: Vec<u8> = Vec::new();
//! # let config = sos_intake::config::Config::default();
//! let limits = Limits::from_config(&config.mail);
//! let parsed = message::parse(&raw, &limits); // never fails, never panics
//! for a in &parsed.attachments {
//!     match &a.kind {
//!         AttachmentKind::Sheet(format) => { /* read_workbook(&a.bytes) */ }
//!         AttachmentKind::EncryptedOffice | AttachmentKind::EncryptedZip => { /* ask to resend */ }
//!         AttachmentKind::TooLarge(_) => { /* file too large */ }
//!         AttachmentKind::Zip { .. } | AttachmentKind::Tnef { .. } => { /* its members follow it in the list */ }
//!         AttachmentKind::Other(_) if a.is_inline => { /* a signature logo: ignore */ }
//!         AttachmentKind::Other(file) => { /* unsupported file */ }
//!     }
//! }
//! ```
//!
//! - [`parse`] → [`ParsedMessage`]: header fields decoded (ISO-2022-JP,
//!   Shift_JIS, UTF-8, RFC 2047), the text body, and [`Attachment`]s
//!   flattened in MIME order: the attachments of a forwarded message/rfc822
//!   part are listed too (path `forwarded.eml/…`), and a plain zip is listed
//!   as [`AttachmentKind::Zip`] followed by its members (path
//!   `受付.zip/sheet.xlsx`), recursively; an Outlook `winmail.dat` likewise
//!   as [`AttachmentKind::Tnef`] followed by the files inside ([`tnef`]). Whatever could not be read is in
//!   [`ParsedMessage::problems`]; the rest is still there.
//! - File names are re-read from the raw MIME headers (`rfc2231`) because
//!   mail-parser garbles RFC 2231 continuations of multi-byte names.
//! - The kind of a file is told by its content (`sniff`), never its name.
//! - The Date header is informational only: the receipt time is when the
//!   mail reached our mailbox, which the mailbox source knows.
//! - Sender classification (prefecture directory, authentication results,
//!   auto-generated mail) is in [`senders`].

mod bounds;
mod charset;
mod clean;
pub mod jis;
mod parse;
pub mod peek;
pub(crate) mod rfc2231;
pub mod senders;
mod sniff;
pub mod tnef;
mod unzip;
pub mod words;

pub use parse::parse;

use crate::config::MailConfig;
use crate::sheet::reader::Format;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// Size, count and depth guards for one message: every reader of the
/// message's bytes (MIME, zip) stops at these. All of them come from
/// `[mail]` (see `samples/sos-intake.toml`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// A larger message is not unpacked: only its headers are read.
    pub max_message_bytes: u64,
    /// A larger attachment (or zip member) is [`AttachmentKind::TooLarge`].
    pub max_attachment_bytes: u64,
    /// A zip (or winmail.dat) with more entries is
    /// [`AttachmentKind::TooLarge`].
    pub max_zip_entries: usize,
    /// The most bytes unpacked from zips and winmail.dat files in one
    /// message (bomb guard).
    pub max_unpacked_bytes: u64,
    /// How deep forwarded messages and zips may nest.
    pub max_depth: usize,
    /// The most attachments listed for one message; the rest is a problem.
    pub max_attachments: usize,
    /// How deep multipart parts may nest; the message is read up to the part
    /// that would go deeper ([`Problem::MimeTooDeep`]).
    pub max_mime_depth: usize,
    /// The most MIME parts read; the message is read up to the part past it
    /// ([`Problem::TooManyParts`]).
    pub max_mime_parts: usize,
    /// The longest top-level header field (continuation lines included), in
    /// bytes; a longer one is cut ([`Problem::HeadersCut`]).
    pub max_header_bytes: usize,
    /// The most top-level header fields read; the rest are dropped
    /// ([`Problem::HeadersCut`]).
    pub max_header_fields: usize,
}

impl Limits {
    /// The limits of the `[mail]` configuration.
    pub fn from_config(mail: &MailConfig) -> Limits {
        Limits {
            max_message_bytes: mail.max_message_bytes,
            max_attachment_bytes: mail.max_attachment_bytes,
            max_zip_entries: mail.max_zip_entries,
            max_unpacked_bytes: mail.max_unpacked_bytes,
            max_depth: mail.max_nesting_depth,
            max_attachments: mail.max_attachments,
            max_mime_depth: mail.max_mime_depth,
            max_mime_parts: mail.max_mime_parts,
            max_header_bytes: mail.max_header_bytes,
            max_header_fields: mail.max_header_fields,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::from_config(&MailConfig::default())
    }
}

/// An address with its display name, both decoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    /// The address as written (`sos@fukushi.metro.tokyo.lg.jp`).
    pub address: String,
    /// The display name (`東京都福祉局 感染症対策課`), when there is one.
    pub name: Option<String>,
}

impl Mailbox {
    /// The address lower-cased, for comparisons, rate limits and lookups.
    pub fn key(&self) -> String {
        self.address.trim().to_lowercase()
    }

    /// The part after the last `@`, lower-cased (empty when there is none).
    pub fn domain(&self) -> String {
        domain_of(&self.address)
    }
}

/// The lower-cased domain of an address (after the last `@`).
pub fn domain_of(address: &str) -> String {
    address
        .trim()
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').to_lowercase())
        .unwrap_or_default()
}

/// The Return-Path as delivered (the envelope sender).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnPath {
    /// `<>`: the null sender of bounces and other automatic mail.
    Null,
    /// An address (angle brackets removed).
    Address(String),
}

/// One top-level header field, unfolded, as text (not RFC 2047-decoded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderField {
    /// The name as written.
    pub name: String,
    /// The value, unfolded.
    pub value: String,
}

/// The received mail, read as far as it could be.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ParsedMessage {
    /// Message-ID without angle brackets; None when missing or unusable.
    pub message_id: Option<String>,
    /// The first From address.
    pub from: Option<Mailbox>,
    /// The first Reply-To address.
    pub reply_to: Option<Mailbox>,
    /// Every To address.
    pub to: Vec<Mailbox>,
    /// Every Cc address.
    pub cc: Vec<Mailbox>,
    /// The subject, decoded.
    pub subject: Option<String>,
    /// The Date header: informational only, never the receipt time.
    pub date: Option<DateTime<FixedOffset>>,
    /// In-Reply-To message ids (no angle brackets).
    pub in_reply_to: Vec<String>,
    /// References message ids (no angle brackets), oldest first.
    pub references: Vec<String>,
    /// The topmost Return-Path header, as the delivering server wrote it.
    pub return_path: Option<ReturnPath>,
    /// The top-level Content-Type, lower-cased `type/subtype`.
    pub content_type: Option<String>,
    /// Every top-level header field in order (for the classifiers).
    pub headers: Vec<HeaderField>,
    /// The text body, decoded (HTML-only mail converted to text).
    pub text: String,
    /// Every attached file, flattened in MIME order (see the module docs).
    pub attachments: Vec<Attachment>,
    /// What could not be read.
    pub problems: Vec<Problem>,
}

impl ParsedMessage {
    /// The values of every top-level header called `name`
    /// (case-insensitive), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The first top-level header called `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// True when not every attachment could be read because the message is
    /// over a cap: [`Limits::max_message_bytes`] (headers only), or its MIME
    /// structure nests deeper than [`Limits::max_mime_depth`] or has more
    /// parts than [`Limits::max_mime_parts`] (read up to there).
    pub fn is_too_large(&self) -> bool {
        self.problems.iter().any(|p| {
            matches!(
                p,
                Problem::MessageTooLarge { .. }
                    | Problem::MimeTooDeep { .. }
                    | Problem::TooManyParts { .. }
            )
        })
    }

    /// The attachments that are sheets to read.
    pub fn sheets(&self) -> impl Iterator<Item = &Attachment> {
        self.attachments
            .iter()
            .filter(|a| matches!(a.kind, AttachmentKind::Sheet(_)))
    }
}

/// One attached file (or a member of an attached zip).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Attachment {
    /// The file name, decoded (RFC 2231, RFC 2047, raw Shift_JIS/UTF-8),
    /// directory part removed; for a zip member its name inside the zip.
    pub filename: Option<String>,
    /// The declared MIME type, lower-cased (not trusted for the kind).
    pub declared_type: Option<String>,
    /// The content, transfer-decoded. Empty for a zip member that was not
    /// unpacked because a guard tripped.
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// `bytes.len()`.
    pub size: u64,
    /// SHA-256 of `bytes`, lower-case hex.
    pub sha256: String,
    /// What the content is.
    pub kind: AttachmentKind,
    /// Where it sits: `forwarded.eml/受付.zip/sheet.xlsx`. Unnamed parts are
    /// called `attachment-N`, unnamed forwarded messages `forwarded.eml`.
    pub path: String,
    /// Part of how the mail is shown or signed rather than a file the sender
    /// attached: a signature logo (Content-Disposition not `attachment`, and
    /// a Content-ID or a multipart/related parent) or an S/MIME or PGP
    /// signature. Never reason to complain about the file.
    pub is_inline: bool,
}

/// What an attached file is, told by content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum AttachmentKind {
    /// A workbook to read with [`crate::sheet::read_workbook`].
    Sheet(Format),
    /// A password-protected Office file (OLE2 with EncryptionInfo /
    /// EncryptedPackage).
    EncryptedOffice,
    /// A plain zip; its members follow it in the list.
    Zip {
        /// How many members were taken out.
        members: usize,
    },
    /// An Outlook `winmail.dat` (TNEF) that was read; the files inside
    /// follow it in the list (path `winmail.dat/シート.xlsx`), as a zip's
    /// members do.
    Tnef {
        /// How many files were taken out.
        members: usize,
    },
    /// A zip with encrypted entries (not opened).
    EncryptedZip,
    /// Over a size, entry or nesting guard.
    TooLarge(SizeLimit),
    /// Anything else.
    Other(OtherFile),
}

/// Which guard a file tripped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "guard", rename_all = "snake_case")]
pub enum SizeLimit {
    /// The file (or zip or winmail.dat member) is over the attachment
    /// limit.
    File {
        /// Its size, in bytes (for a zip member: at least this).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The zip (or winmail.dat) has too many entries.
    ZipEntries {
        /// How many.
        count: u64,
        /// The limit.
        limit: u64,
    },
    /// Unpacking would exceed what may be unpacked for one message.
    Unpacked {
        /// What was left of the budget.
        limit: u64,
    },
    /// Archives or forwarded messages nested too deep.
    TooDeep {
        /// The depth limit.
        limit: u64,
    },
}

/// Files we do not read, by what they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OtherFile {
    /// Word (.doc, .docx) or OpenDocument text.
    WordDocument,
    /// PowerPoint (.ppt, .pptx).
    Presentation,
    /// Another Office Open XML or OpenDocument file.
    OtherOfficeDocument,
    /// An Outlook .msg file.
    OutlookMessage,
    /// PDF.
    Pdf,
    /// An image (PNG, JPEG, GIF, TIFF, BMP, WebP).
    Image,
    /// CSV text.
    Csv,
    /// HTML.
    Html,
    /// Plain text.
    Text,
    /// gzip, 7-Zip, RAR, LHA.
    OtherArchive,
    /// Outlook's rich-text wrapper (`winmail.dat`, TNEF) from which no file
    /// could be taken out (damaged, or only the rich-text body): the
    /// reply explains how to switch Outlook to HTML or plain text. A
    /// readable one is [`AttachmentKind::Tnef`].
    OutlookTnef,
    /// An S/MIME or PGP signature (always [`Attachment::is_inline`]).
    Signature,
    /// An S/MIME envelope we do not open (`application/pkcs7-mime`): a
    /// message signed in opaque form (the signed content inside the
    /// signature) or encrypted. The reply asks for a clear-signed or plain
    /// resend.
    SmimeEnvelope,
    /// A zip (or zip-based file) that cannot be read.
    DamagedArchive,
    /// An empty file.
    Empty,
    /// Not recognised.
    Unknown,
}

impl OtherFile {
    /// A short English description for logs.
    pub fn describe(self) -> &'static str {
        match self {
            OtherFile::WordDocument => "word-processor document",
            OtherFile::Presentation => "presentation",
            OtherFile::OtherOfficeDocument => "office document (not a spreadsheet)",
            OtherFile::OutlookMessage => "Outlook .msg",
            OtherFile::Pdf => "PDF",
            OtherFile::Image => "image",
            OtherFile::Csv => "CSV",
            OtherFile::Html => "HTML",
            OtherFile::Text => "text",
            OtherFile::OtherArchive => "archive other than zip",
            OtherFile::OutlookTnef => "Outlook TNEF (winmail.dat)",
            OtherFile::Signature => "S/MIME or PGP signature",
            OtherFile::SmimeEnvelope => "S/MIME opaque-signed or encrypted content",
            OtherFile::DamagedArchive => "damaged archive",
            OtherFile::Empty => "empty file",
            OtherFile::Unknown => "unknown type",
        }
    }
}

/// Something in the message that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// mail-parser found no message at all in the bytes.
    NotAMessage,
    /// mail-parser panicked; only the raw headers were read.
    ParserPanicked,
    /// Over [`Limits::max_message_bytes`]: headers only.
    MessageTooLarge {
        /// The message size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A MIME part's transfer encoding or structure is broken; what could be
    /// decoded was kept.
    DamagedPart {
        /// The attachment path.
        path: String,
    },
    /// A file name's charset could not be told (declared wrongly or not at
    /// all, and not Japanese): it was read as Windows-1252 or with �.
    GarbledFilename {
        /// The attachment path.
        path: String,
    },
    /// A zip could not be read.
    DamagedArchive {
        /// The attachment path.
        path: String,
        /// The reader's error.
        reason: String,
    },
    /// Forwarded messages or zips nested deeper than [`Limits::max_depth`].
    TooDeep {
        /// The path where reading stopped.
        path: String,
    },
    /// More than [`Limits::max_attachments`] files; the rest were skipped.
    TooManyAttachments {
        /// The limit.
        limit: usize,
    },
    /// The From header is present but holds no readable address.
    UnreadableFrom {
        /// The header as written.
        raw: String,
    },
    /// Top-level header fields over [`Limits::max_header_bytes`] were cut,
    /// or fields past [`Limits::max_header_fields`] dropped.
    HeadersCut {
        /// How many fields the header block has.
        fields: u64,
        /// The field count limit.
        max_fields: u64,
        /// The field length limit, in bytes.
        max_field_bytes: u64,
    },
    /// Multipart parts nest deeper than [`Limits::max_mime_depth`]: the
    /// message was read up to the part that goes deeper.
    MimeTooDeep {
        /// The depth limit.
        limit: u64,
    },
    /// More MIME parts than [`Limits::max_mime_parts`]: the message was read
    /// up to the part past the limit.
    TooManyParts {
        /// The part limit.
        limit: u64,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::NotAMessage => write!(f, "not a mail message"),
            Problem::ParserPanicked => write!(f, "the MIME parser failed; headers only"),
            Problem::MessageTooLarge { size, limit } => {
                write!(
                    f,
                    "message of {size} bytes over the {limit}-byte limit; headers only"
                )
            }
            Problem::DamagedPart { path } => write!(f, "damaged MIME part {path}"),
            Problem::GarbledFilename { path } => write!(f, "undecodable file name at {path}"),
            Problem::DamagedArchive { path, reason } => {
                write!(f, "cannot read archive {path}: {reason}")
            }
            Problem::TooDeep { path } => write!(f, "nested too deep at {path}"),
            Problem::TooManyAttachments { limit } => {
                write!(f, "more than {limit} attachments; rest skipped")
            }
            Problem::UnreadableFrom { raw } => write!(f, "unreadable From header {raw:?}"),
            Problem::HeadersCut {
                fields,
                max_fields,
                max_field_bytes,
            } => write!(
                f,
                "header block of {fields} fields cut to {max_fields} fields of at most {max_field_bytes} bytes"
            ),
            Problem::MimeTooDeep { limit } => {
                write!(f, "MIME parts nested deeper than {limit}; read up to there")
            }
            Problem::TooManyParts { limit } => {
                write!(f, "more than {limit} MIME parts; read up to there")
            }
        }
    }
}
