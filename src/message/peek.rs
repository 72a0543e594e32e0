//! A bounded look at a message's header block, without the MIME parser.
//!
//! The pipeline records who sent a message and what it was about before it
//! reads it, so that a message the parser cannot get through (it crashes,
//! hangs or is set aside as 処理不能) is still listed for staff with a sender
//! and a subject. This reader looks at most [`PEEK_BYTES`] bytes, keeps at
//! most [`MAX_VALUE_BYTES`] of a value, and never fails.

use super::rfc2231;

/// How much of the message is looked at.
pub const PEEK_BYTES: usize = 64 * 1024;
/// How much of one header value is kept.
pub const MAX_VALUE_BYTES: usize = 2048;

/// What the header block says, as far as a cheap look can tell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderPeek {
    /// The Message-ID without angle brackets ('' when absent).
    pub message_id: String,
    /// The From address ('' when absent).
    pub from_address: String,
    /// The decoded Subject ('' when absent).
    pub subject: String,
}

impl HeaderPeek {
    /// Looks at the header block of `raw`.
    pub fn of(raw: &[u8]) -> HeaderPeek {
        let head = &raw[..raw.len().min(PEEK_BYTES)];
        let mut peek = HeaderPeek::default();
        for (name, value) in fields(head) {
            let slot = if name.eq_ignore_ascii_case(b"message-id") {
                &mut peek.message_id
            } else if name.eq_ignore_ascii_case(b"from") {
                &mut peek.from_address
            } else if name.eq_ignore_ascii_case(b"subject") {
                &mut peek.subject
            } else {
                continue;
            };
            if slot.is_empty() {
                *slot = text_of(name, &value);
            }
        }
        peek
    }
}

/// The header fields of `head` (up to the blank line), unfolded, each value
/// cut at [`MAX_VALUE_BYTES`].
fn fields(head: &[u8]) -> Vec<(&[u8], Vec<u8>)> {
    let mut out: Vec<(&[u8], Vec<u8>)> = Vec::new();
    for line in head.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some((_, value)) = out.last_mut()
                && value.len() < MAX_VALUE_BYTES
            {
                let room = MAX_VALUE_BYTES - value.len();
                value.extend_from_slice(&line[..line.len().min(room)]);
            }
            continue;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        out.push((
            name.trim_ascii(),
            value[..value.len().min(MAX_VALUE_BYTES)].to_vec(),
        ));
    }
    out
}

fn text_of(name: &[u8], value: &[u8]) -> String {
    let value = value.trim_ascii();
    let text = if name.eq_ignore_ascii_case(b"subject") {
        rfc2231::decode_words(value).0
    } else if name.eq_ignore_ascii_case(b"from") {
        address_of(&String::from_utf8_lossy(value))
    } else {
        String::from_utf8_lossy(value)
            .trim_matches(['<', '>', ' '])
            .to_string()
    };
    crate::text::strip_controls(&text).replace('\u{FFFD}', "")
}

/// The address in `Name <addr>` or a bare `addr`.
fn address_of(value: &str) -> String {
    match (value.rfind('<'), value.rfind('>')) {
        (Some(l), Some(r)) if l < r => value[l + 1..r].trim().to_string(),
        _ => value
            .split_whitespace()
            .find(|w| w.contains('@'))
            .unwrap_or("")
            .trim_matches(['"', ',', ';'])
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_encoded_subject_and_named_sender() {
        let raw = b"Received: x\r\nFrom: =?UTF-8?B?5p2x5Lqs?= <sos@pref.example.lg.jp>\r\nSubject: =?UTF-8?B?6KaB6KuL?=\r\n =?UTF-8?B?44K344O844OI?=\r\nMessage-ID: <a.b@c>\r\n\r\nSubject: not this";
        let p = HeaderPeek::of(raw);
        assert_eq!(p.from_address, "sos@pref.example.lg.jp");
        assert_eq!(p.subject, "要請シート");
        assert_eq!(p.message_id, "a.b@c");
    }

    #[test]
    fn nul_and_huge_lines_are_bounded() {
        let mut raw = b"Subject: a\x00b".to_vec();
        raw.extend(std::iter::repeat_n(b'x', 10 << 20));
        raw.extend_from_slice(b"\r\nFrom: bare@x.jp\r\n\r\n");
        let p = HeaderPeek::of(&raw);
        assert!(p.subject.starts_with("abxxx"));
        assert!(p.subject.len() <= MAX_VALUE_BYTES);
        assert_eq!(p.from_address, ""); // beyond the peek window
        assert_eq!(HeaderPeek::of(b""), HeaderPeek::default());
        assert_eq!(HeaderPeek::of(b"\xff\xfe: \xff\r\n"), HeaderPeek::default());
    }
}
