//! Walking mail-parser's MIME tree into a [`ParsedMessage`]: header fields,
//! text body, and the attachments (forwarded messages and zips included).

use super::bounds;
use super::rfc2231::{self, RawHeader};
use super::sniff::{self, Sniffed};
use super::tnef::{self, Tnef, TnefLimits};
use super::unzip::{self, Unpacked};
use super::{
    Attachment, AttachmentKind, HeaderField, Limits, Mailbox, OtherFile, ParsedMessage, Problem,
    ReturnPath, SizeLimit, charset, words,
};
use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

/// Reads `raw` as a mail message. Never fails and never panics: a broken
/// message yields what could be read, with [`ParsedMessage::problems`]
/// saying what could not.
pub fn parse(raw: &[u8], limits: &Limits) -> ParsedMessage {
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse_inner(raw, limits)));
    match result {
        Ok(parsed) => parsed,
        Err(_) => {
            let mut parsed = headers_only(raw);
            parsed.problems.push(Problem::ParserPanicked);
            parsed
        }
    }
}

fn parse_inner(raw: &[u8], limits: &Limits) -> ParsedMessage {
    let size = raw.len() as u64;
    let too_large = size > limits.max_message_bytes;
    // Caps on header fields and MIME structure before mail-parser reads it.
    let mut cut = Vec::new();
    let bounded = bounds::bound(raw, limits, &mut cut);
    let raw: &[u8] = &bounded;
    let parser = MessageParser::default();
    let message = if too_large {
        parser.parse_headers(raw)
    } else {
        parser.parse(raw)
    };
    let Some(message) = message else {
        let mut parsed = headers_only(raw);
        parsed.problems.extend(cut);
        parsed.problems.push(Problem::NotAMessage);
        return parsed;
    };
    let root_header = message
        .parts
        .first()
        .and_then(|p| raw.get(p.offset_header as usize..p.offset_body as usize))
        .unwrap_or(raw);
    let mut parsed = headers_only(root_header);
    parsed.problems.extend(cut);
    if too_large {
        parsed.problems.push(Problem::MessageTooLarge {
            size,
            limit: limits.max_message_bytes,
        });
    }
    fill_from_mail_parser(&mut parsed, &message);
    if !too_large {
        parsed.text = body_text(&message);
        let mut collector = Collector::new(limits);
        collector.walk(&message, "", 0);
        parsed.attachments = collector.attachments;
        parsed.problems.extend(collector.problems);
    }
    parsed
}

/// What can be read from the raw header block alone.
fn headers_only(raw: &[u8]) -> ParsedMessage {
    let raw_headers = rfc2231::split_headers(raw);
    let find = |name: &str| rfc2231::find(&raw_headers, name);
    let subject = find("Subject").map(|h| rfc2231::decode_words(&h.value).0.trim().to_string());
    let return_path = find("Return-Path").map(|h| {
        let text = charset::guess(&h.value).0;
        let addr = text
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim()
            .to_string();
        if addr.is_empty() {
            ReturnPath::Null
        } else {
            ReturnPath::Address(addr)
        }
    });
    let content_type = find("Content-Type")
        .map(|h| rfc2231::parse_params(&h.value).0)
        .filter(|t| !t.is_empty());
    let message_id = find("Message-ID").and_then(|h| normalize_id(&charset::guess(&h.value).0));
    let headers = raw_headers
        .iter()
        .map(|h| HeaderField {
            name: h.name.clone(),
            value: charset::guess(&h.value).0.trim().to_string(),
        })
        .collect();
    ParsedMessage {
        message_id,
        from: None,
        reply_to: None,
        to: Vec::new(),
        cc: Vec::new(),
        subject,
        date: None,
        in_reply_to: Vec::new(),
        references: Vec::new(),
        return_path,
        content_type,
        headers,
        text: String::new(),
        attachments: Vec::new(),
        problems: Vec::new(),
    }
}

/// Addresses, ids and the date, from mail-parser's structured parse.
fn fill_from_mail_parser(parsed: &mut ParsedMessage, message: &Message<'_>) {
    parsed.from = message.from().and_then(first_mailbox);
    // mail-parser garbles a UTF-8 character split across encoded-words.
    if let Some(from) = parsed.from.as_mut()
        && from.name.as_deref().is_some_and(|n| n.contains('\u{fffd}'))
    {
        let raw = parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("From"));
        from.name = raw.and_then(|h| words::display_name(h.value.as_bytes()));
    }
    if parsed.from.is_none()
        && let Some(raw) = parsed.header("From")
    {
        parsed.problems.push(Problem::UnreadableFrom {
            raw: raw.to_string(),
        });
    }
    parsed.reply_to = message.reply_to().and_then(first_mailbox);
    parsed.to = message.to().map(all_mailboxes).unwrap_or_default();
    parsed.cc = message.cc().map(all_mailboxes).unwrap_or_default();
    if let Some(id) = message.message_id().and_then(normalize_id) {
        parsed.message_id = Some(id);
    }
    parsed.in_reply_to = id_list(message.in_reply_to());
    parsed.references = id_list(message.references());
    parsed.date = message
        .date()
        .and_then(|d| chrono::DateTime::parse_from_rfc3339(&d.to_rfc3339()).ok());
}

fn to_mailbox(addr: &mail_parser::Addr<'_>) -> Option<Mailbox> {
    let address = addr.address()?.trim();
    if address.is_empty() {
        return None;
    }
    let name = addr
        .name()
        .map(|n| words::nfc(n.trim()))
        .filter(|n| !n.is_empty());
    Some(Mailbox {
        address: address.to_string(),
        name,
    })
}

fn first_mailbox(address: &Address<'_>) -> Option<Mailbox> {
    address.iter().find_map(to_mailbox)
}

fn all_mailboxes(address: &Address<'_>) -> Vec<Mailbox> {
    address.iter().filter_map(to_mailbox).collect()
}

/// A message id without brackets or whitespace; None when empty or absurd.
fn normalize_id(id: &str) -> Option<String> {
    let id = id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    let ok = !id.is_empty()
        && id.len() <= 998
        && !id.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| id.to_string())
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => normalize_id(t).into_iter().collect(),
        HeaderValue::TextList(list) => list.iter().filter_map(|t| normalize_id(t)).collect(),
        _ => Vec::new(),
    }
}

fn body_text(message: &Message<'_>) -> String {
    let text = (0..message.text_body_count())
        .filter_map(|i| {
            let theirs = message.body_text(i)?;
            let part = message
                .text_body
                .get(i)
                .and_then(|&id| message.parts.get(id as usize))
                .filter(|p| matches!(p.body, PartType::Text(_) | PartType::Html(_)));
            let ours = part.and_then(|p| {
                let text = japanese_text(message, p, &theirs)?;
                Some(match p.body {
                    PartType::Html(_) => mail_parser::decoders::html::html_to_text(&text),
                    _ => text,
                })
            });
            Some(ours.unwrap_or_else(|| theirs.into_owned()))
        })
        .collect::<Vec<_>>()
        .join("\n");
    words::nfc(&text)
}

/// A text part (HTML left as HTML) decoded here from its raw bytes where
/// mail-parser gets Japanese wrong: ISO-2022-JP (its WHATWG decoder
/// replaces a redundant escape with U+FFFD, and an unlabelled one keeps its
/// escapes) and Shift_JIS without a charset label (read as UTF-8). None:
/// keep mail-parser's text.
fn japanese_text(
    message: &Message<'_>,
    part: &mail_parser::MessagePart<'_>,
    theirs: &str,
) -> Option<String> {
    let label = part.content_type().and_then(|ct| ct.attribute("charset"));
    let iso_2022_jp = label
        .and_then(charset::encoding_for_label)
        .is_some_and(|e| e == encoding_rs::ISO_2022_JP);
    let unlabelled = label.is_none_or(|l| charset::encoding_for_label(l).is_none());
    let broken = theirs.contains(['\u{fffd}', '\u{1b}']);
    if !(iso_2022_jp || unlabelled && broken) {
        return None;
    }
    let body = message
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize)
        .unwrap_or_default();
    let cte = part
        .content_transfer_encoding()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (ours, garbled) = charset::decode(&transfer_decode(body, &cte), label);
    (!garbled).then_some(ours)
}

/// Collects attachments while walking nested messages and zips, counting
/// what was unpacked.
struct Collector<'l> {
    limits: &'l Limits,
    attachments: Vec<Attachment>,
    problems: Vec<Problem>,
    unpack_budget: u64,
    full: bool,
}

/// How an attachment was found, before its content is looked at.
struct Found {
    filename: Option<String>,
    declared_type: Option<String>,
    path: String,
    is_inline: bool,
    /// An S/MIME or PGP signature part (by declared type).
    is_signature: bool,
}

impl<'l> Collector<'l> {
    fn new(limits: &'l Limits) -> Self {
        Collector {
            limits,
            attachments: Vec::new(),
            problems: Vec::new(),
            unpack_budget: limits.max_unpacked_bytes,
            full: false,
        }
    }

    /// Visits the attachments of `message` (a top-level or forwarded one).
    fn walk(&mut self, message: &Message<'_>, prefix: &str, depth: usize) {
        let raw = message.raw_message.as_ref();
        let related = children_of_related(message);
        for (n, &id) in message.attachments.iter().enumerate() {
            let Some(part) = message.parts.get(id as usize) else {
                continue;
            };
            let header_bytes = raw
                .get(part.offset_header as usize..part.offset_body as usize)
                .unwrap_or_default();
            let headers = rfc2231::split_headers(header_bytes);
            let (declared, ct_params) = param_header(&headers, "Content-Type");
            let (disposition, cd_params) = param_header(&headers, "Content-Disposition");
            let decoded = rfc2231::param_text(&cd_params, "filename")
                .or_else(|| rfc2231::param_text(&ct_params, "name"))
                .or_else(|| part.attachment_name().map(|n| (n.to_string(), false)));
            let filename = decoded.as_ref().and_then(|(name, _)| clean_filename(name));
            let is_message = matches!(part.body, PartType::Message(_));
            let default_name = if is_message {
                "forwarded.eml".to_string()
            } else {
                format!("attachment-{}", n + 1)
            };
            let path = join(prefix, filename.as_deref().unwrap_or(&default_name));
            if decoded.is_some_and(|(_, garbled)| garbled) {
                self.problems
                    .push(Problem::GarbledFilename { path: path.clone() });
            }
            if part.is_encoding_problem {
                self.problems
                    .push(Problem::DamagedPart { path: path.clone() });
            }
            let in_related = related.get(id as usize).copied().unwrap_or(false);
            let is_signature = matches!(
                declared.as_str(),
                "application/pkcs7-signature"
                    | "application/x-pkcs7-signature"
                    | "application/pgp-signature"
            );
            let is_inline = is_signature
                || disposition != "attachment"
                    && (rfc2231::find(&headers, "Content-ID").is_some() || in_related);
            let found = Found {
                filename,
                declared_type: (!declared.is_empty()).then_some(declared),
                path,
                is_inline,
                is_signature,
            };
            match &part.body {
                PartType::Message(nested) => {
                    if depth + 1 > self.limits.max_depth {
                        self.problems.push(Problem::TooDeep { path: found.path });
                        continue;
                    }
                    self.walk(nested, &found.path, depth + 1);
                }
                PartType::Text(_) | PartType::Html(_) => {
                    // mail-parser converted the text to UTF-8; the file's own
                    // bytes are the transfer-decoded raw body.
                    let body = raw
                        .get(part.offset_body as usize..part.offset_end as usize)
                        .unwrap_or_default();
                    let cte = rfc2231::find(&headers, "Content-Transfer-Encoding")
                        .map(|h| {
                            String::from_utf8_lossy(&h.value)
                                .trim()
                                .to_ascii_lowercase()
                        })
                        .unwrap_or_default();
                    self.add(found, transfer_decode(body, &cte), depth);
                }
                _ => self.add(found, part.contents().to_vec(), depth),
            }
        }
    }

    /// Classifies one file by content and lists it (a zip with its members).
    fn add(&mut self, found: Found, bytes: Vec<u8>, depth: usize) {
        if self.attachments.len() >= self.limits.max_attachments {
            if !self.full {
                self.full = true;
                self.problems.push(Problem::TooManyAttachments {
                    limit: self.limits.max_attachments,
                });
            }
            return;
        }
        let size = bytes.len() as u64;
        if size > self.limits.max_attachment_bytes {
            let kind = AttachmentKind::TooLarge(SizeLimit::File {
                size,
                limit: self.limits.max_attachment_bytes,
            });
            self.push(found, bytes, kind);
            return;
        }
        if found.is_signature {
            let kind = AttachmentKind::Other(OtherFile::Signature);
            return self.push(found, bytes, kind);
        }
        // Opaque-signed or encrypted S/MIME: the content is inside a CMS
        // structure we do not open (an unread DER blob otherwise).
        if matches!(
            found.declared_type.as_deref(),
            Some("application/pkcs7-mime" | "application/x-pkcs7-mime")
        ) {
            let kind = AttachmentKind::Other(OtherFile::SmimeEnvelope);
            return self.push(found, bytes, kind);
        }
        let kind = match sniff::sniff(
            &bytes,
            found.declared_type.as_deref(),
            found.filename.as_deref(),
        ) {
            Sniffed::Sheet(format) => AttachmentKind::Sheet(format),
            Sniffed::EncryptedOffice => AttachmentKind::EncryptedOffice,
            Sniffed::Other(OtherFile::OutlookTnef) => return self.add_tnef(found, bytes, depth),
            Sniffed::Other(other) => AttachmentKind::Other(other),
            Sniffed::PlainZip => return self.add_zip(found, bytes, depth),
        };
        self.push(found, bytes, kind);
    }

    /// A container nested deeper than `max_depth`: kept as one file that
    /// is too large to open, with a problem naming its path.
    fn too_deep(&mut self, found: Found, bytes: Vec<u8>) {
        self.problems.push(Problem::TooDeep {
            path: found.path.clone(),
        });
        let kind = AttachmentKind::TooLarge(SizeLimit::TooDeep {
            limit: self.limits.max_depth as u64,
        });
        self.push(found, bytes, kind);
    }

    fn add_zip(&mut self, found: Found, bytes: Vec<u8>, depth: usize) {
        if depth + 1 > self.limits.max_depth {
            return self.too_deep(found, bytes);
        }
        let limits = self.limits;
        let unpacked = unzip::unpack(
            &bytes,
            limits.max_zip_entries,
            limits.max_attachment_bytes,
            &mut self.unpack_budget,
        );
        let members = match unpacked {
            Unpacked::Members(members) => members,
            Unpacked::Encrypted => return self.push(found, bytes, AttachmentKind::EncryptedZip),
            Unpacked::TooLarge(limit) => {
                return self.push(found, bytes, AttachmentKind::TooLarge(limit));
            }
            Unpacked::Damaged(reason) => {
                self.problems.push(Problem::DamagedArchive {
                    path: found.path.clone(),
                    reason,
                });
                return self.push(
                    found,
                    bytes,
                    AttachmentKind::Other(OtherFile::DamagedArchive),
                );
            }
        };
        let prefix = found.path.clone();
        self.push(
            found,
            bytes,
            AttachmentKind::Zip {
                members: members.len(),
            },
        );
        for member in members {
            let filename = clean_filename(&member.name);
            let path = join(&prefix, member.name.trim_start_matches(['/', '\\']));
            let found = Found {
                filename,
                declared_type: None,
                path,
                is_inline: false,
                is_signature: false,
            };
            self.add(found, member.bytes, depth + 1);
        }
    }

    /// Lists a winmail.dat and the files inside it, as a zip and its
    /// members; one that yields no file stays
    /// [`OtherFile::OutlookTnef`] (the reply says how to switch Outlook to
    /// HTML or plain text).
    fn add_tnef(&mut self, found: Found, bytes: Vec<u8>, depth: usize) {
        if depth + 1 > self.limits.max_depth {
            return self.too_deep(found, bytes);
        }
        let limits = TnefLimits {
            max_files: self.limits.max_zip_entries,
            max_file_bytes: self.limits.max_attachment_bytes,
        };
        let files = match tnef::read(&bytes, &limits) {
            Tnef::Files(files) => files,
            Tnef::TooLarge(limit) => {
                return self.push(found, bytes, AttachmentKind::TooLarge(limit));
            }
            Tnef::Unreadable(why) => {
                // Only the rich-text body inside is not damage.
                if why != tnef::Unreadable::NoFiles {
                    self.problems.push(Problem::DamagedArchive {
                        path: found.path.clone(),
                        reason: why.describe().to_string(),
                    });
                }
                let kind = AttachmentKind::Other(OtherFile::OutlookTnef);
                return self.push(found, bytes, kind);
            }
        };
        // The files are copies out of the winmail.dat: they count against
        // what may be unpacked for one message, as zip members do.
        let total: u64 = files.iter().map(|f| f.bytes.len() as u64).sum();
        if total > self.unpack_budget {
            let kind = AttachmentKind::TooLarge(SizeLimit::Unpacked {
                limit: self.unpack_budget,
            });
            return self.push(found, bytes, kind);
        }
        self.unpack_budget -= total;
        let prefix = found.path.clone();
        let kind = AttachmentKind::Tnef {
            members: files.len(),
        };
        self.push(found, bytes, kind);
        for (n, file) in files.into_iter().enumerate() {
            let filename = file.name.as_deref().and_then(clean_filename);
            let default_name = format!("attachment-{}", n + 1);
            let path = join(&prefix, filename.as_deref().unwrap_or(&default_name));
            let found = Found {
                filename,
                declared_type: file.mime_type,
                path,
                is_inline: false,
                is_signature: false,
            };
            self.add(found, file.bytes, depth + 1);
        }
    }

    fn push(&mut self, found: Found, bytes: Vec<u8>, kind: AttachmentKind) {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        self.attachments.push(Attachment {
            filename: found.filename,
            declared_type: found.declared_type,
            size: bytes.len() as u64,
            sha256,
            bytes,
            kind,
            path: found.path,
            is_inline: found.is_inline,
        });
    }
}

/// A structured header's leading token and parameters (empty when absent).
fn param_header(headers: &[RawHeader], name: &str) -> (String, Vec<rfc2231::Param>) {
    rfc2231::find(headers, name)
        .map(|h| rfc2231::parse_params(&h.value))
        .unwrap_or_default()
}

/// For each part of `message`, whether it sits directly in a
/// multipart/related part (one pass: a message may have thousands of parts).
fn children_of_related(message: &Message<'_>) -> Vec<bool> {
    let mut related = vec![false; message.parts.len()];
    for p in &message.parts {
        let is_related = p.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("related"))
        });
        if let (true, Some(subs)) = (is_related, p.sub_parts()) {
            for &id in subs {
                if let Some(flag) = related.get_mut(id as usize) {
                    *flag = true;
                }
            }
        }
    }
    related
}

/// The base name of a decoded file name, control characters removed.
fn clean_filename(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base.chars().filter(|c| !c.is_control()).collect();
    let clean = words::nfc(clean.trim());
    (!clean.is_empty()).then_some(clean)
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// Undoes a Content-Transfer-Encoding (base64, quoted-printable; others are
/// taken as they are).
fn transfer_decode(body: &[u8], cte: &str) -> Vec<u8> {
    match cte {
        "base64" => rfc2231::base64_lenient(body).unwrap_or_default(),
        "quoted-printable" => quoted_printable(body),
        _ => body.to_vec(),
    }
}

fn quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'=' {
            match body.get(i + 1..i + 3) {
                Some(b"\r\n") => {
                    i += 3;
                    continue;
                }
                Some([b'\n', ..]) => {
                    i += 2;
                    continue;
                }
                Some(pair) => {
                    if let Some(byte) = std::str::from_utf8(pair)
                        .ok()
                        .and_then(|s| u8::from_str_radix(s, 16).ok())
                    {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                }
                None => {}
            }
        }
        out.push(body[i]);
        i += 1;
    }
    out
}
