//! Caps applied to the raw bytes of a message before mail-parser reads
//! them, so that its work (and ours after it) stays linear and bounded
//! whatever the sender wrote:
//!
//! - the top-level header block: a field longer than
//!   [`Limits::max_header_bytes`] is cut there, fields past
//!   [`Limits::max_header_fields`] are dropped (a 10 MB Subject line would
//!   otherwise be decoded, stored and quoted in the reply);
//! - the MIME structure: one cheap pass over the lines follows the
//!   multipart boundaries; the message is cut before the part that would
//!   nest deeper than [`Limits::max_mime_depth`] or be the part past
//!   [`Limits::max_mime_parts`]. mail-parser then sees a message that simply
//!   ends there.
//!
//! The pass is approximate on purpose (any `boundary=` in a part's header
//! block counts, and a message/rfc822 part's body is read as another header
//! block): it only has to stop the absurd, not to parse MIME. The raw bytes
//! kept in the blob store are never changed; only what is parsed is.

use super::{Limits, Problem};
use memchr::memchr;
use std::borrow::Cow;

/// `raw` with the caps applied; what was cut is added to `problems`.
pub(crate) fn bound<'a>(
    raw: &'a [u8],
    limits: &Limits,
    problems: &mut Vec<Problem>,
) -> Cow<'a, [u8]> {
    let capped = cap_header_block(raw, limits, problems);
    match structure_cut(&capped, limits) {
        Some((at, problem)) => {
            problems.push(problem);
            Cow::Owned(capped.get(..at).unwrap_or_default().to_vec())
        }
        None => capped,
    }
}

/// The lines of `bytes` from `pos`: (start, end after the newline).
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        if pos >= bytes.len() {
            return None;
        }
        let rest = bytes.get(pos..)?;
        let end = memchr(b'\n', rest).map_or(bytes.len(), |i| pos + i + 1);
        let line = (pos, end);
        pos = end;
        Some(line)
    })
}

/// A line without its line ending.
fn text(bytes: &[u8], (start, end): (usize, usize)) -> &[u8] {
    let line = bytes.get(start..end).unwrap_or_default();
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Cuts over-long fields and drops surplus fields of the top-level header
/// block (unchanged bytes when nothing is over a cap).
fn cap_header_block<'a>(
    raw: &'a [u8],
    limits: &Limits,
    problems: &mut Vec<Problem>,
) -> Cow<'a, [u8]> {
    // Each field as (start, end), continuation lines included.
    let mut fields: Vec<(usize, usize)> = Vec::new();
    let mut body_at = raw.len();
    for line in lines(raw) {
        let t = text(raw, line);
        if t.is_empty() {
            body_at = line.0;
            break;
        }
        match fields.last_mut() {
            Some(field) if t.starts_with(b" ") || t.starts_with(b"\t") => field.1 = line.1,
            _ => fields.push(line),
        }
    }
    let too_many = fields.len() > limits.max_header_fields;
    let too_long = fields.iter().any(|(s, e)| e - s > limits.max_header_bytes);
    if !too_many && !too_long {
        return Cow::Borrowed(raw);
    }
    problems.push(Problem::HeadersCut {
        fields: fields.len() as u64,
        max_fields: limits.max_header_fields as u64,
        max_field_bytes: limits.max_header_bytes as u64,
    });
    let mut out = Vec::with_capacity(raw.len().min(body_at));
    for &(start, end) in fields.iter().take(limits.max_header_fields) {
        let field = raw.get(start..end).unwrap_or_default();
        if field.len() > limits.max_header_bytes {
            // Cut before a UTF-8 continuation byte, so a raw UTF-8 value
            // does not end in half a character.
            let mut at = limits.max_header_bytes;
            while at > 0 && at + 3 > limits.max_header_bytes && (0x80..0xC0).contains(&field[at]) {
                at -= 1;
            }
            let cut = field.get(..at).unwrap_or(field);
            let cut = cut.strip_suffix(b"\r").unwrap_or(cut);
            out.extend_from_slice(cut);
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(field);
        }
    }
    out.extend_from_slice(raw.get(body_at..).unwrap_or_default());
    Cow::Owned(out)
}

/// The `boundary` parameter on a header line, if any (quoted or a token;
/// an empty one is ignored).
fn boundary_on(line: &[u8]) -> Option<Vec<u8>> {
    const KEY: &[u8] = b"boundary=";
    let at = line
        .windows(KEY.len())
        .position(|w| w.eq_ignore_ascii_case(KEY))?;
    let value = line.get(at + KEY.len()..)?;
    let value: Vec<u8> = match value.strip_prefix(b"\"") {
        Some(quoted) => quoted.iter().take_while(|b| **b != b'"').copied().collect(),
        None => value
            .iter()
            .take_while(|b| !matches!(b, b';' | b' ' | b'\t'))
            .copied()
            .collect(),
    };
    (!value.is_empty()).then_some(value)
}

fn mentions_message_part(line: &[u8]) -> bool {
    const TYPES: [&[u8]; 2] = [b"message/rfc822", b"message/global"];
    TYPES
        .iter()
        .any(|t| line.windows(t.len()).any(|w| w.eq_ignore_ascii_case(t)))
}

/// Where to cut the message so that its MIME structure stays within the
/// depth and part caps, and why; `None` when it already does.
fn structure_cut(raw: &[u8], limits: &Limits) -> Option<(usize, Problem)> {
    let mut open: Vec<Vec<u8>> = Vec::new();
    let mut parts = 0usize;
    let mut in_header = true;
    let mut declared: Option<Vec<u8>> = None;
    let mut wraps_message = false;
    // Where the current part (its delimiter line) starts.
    let mut part_at = 0usize;
    for line in lines(raw) {
        let t = text(raw, line);
        if in_header {
            if t.is_empty() {
                if let Some(b) = declared.take() {
                    if open.len() >= limits.max_mime_depth {
                        let problem = Problem::MimeTooDeep {
                            limit: limits.max_mime_depth as u64,
                        };
                        return Some((part_at, problem));
                    }
                    open.push(b);
                }
                // A forwarded message's own header block follows.
                in_header = wraps_message;
                wraps_message = false;
            } else {
                if let Some(b) = boundary_on(t) {
                    declared = Some(b);
                }
                wraps_message |= mentions_message_part(t);
            }
            continue;
        }
        let Some(after) = t.strip_prefix(b"--") else {
            continue;
        };
        let Some(level) = open.iter().rposition(|b| after.starts_with(b)) else {
            continue;
        };
        let rest = after.get(open[level].len()..).unwrap_or_default();
        if rest.starts_with(b"--") {
            open.truncate(level);
            continue;
        }
        open.truncate(level + 1);
        parts += 1;
        if parts > limits.max_mime_parts {
            let problem = Problem::TooManyParts {
                limit: limits.max_mime_parts as u64,
            };
            return Some((line.0, problem));
        }
        part_at = line.0;
        in_header = true;
        declared = None;
        wraps_message = false;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_mime_depth: 3,
            max_mime_parts: 4,
            max_header_bytes: 60,
            max_header_fields: 3,
            ..Limits::default()
        }
    }

    fn nested(depth: usize) -> Vec<u8> {
        let mut m =
            String::from("Subject: x\r\nContent-Type: multipart/mixed; boundary=\"d0\"\r\n\r\n");
        for i in 1..depth {
            m += &format!(
                "--d{}\r\nContent-Type: multipart/mixed; boundary=\"d{i}\"\r\n\r\n",
                i - 1
            );
        }
        m += &format!(
            "--d{}\r\nContent-Type: text/plain\r\n\r\nbottom\r\n",
            depth - 1
        );
        for i in (0..depth).rev() {
            m += &format!("--d{i}--\r\n");
        }
        m.into_bytes()
    }

    #[test]
    fn nesting_within_the_cap_is_untouched() {
        let raw = nested(3);
        let mut problems = Vec::new();
        assert_eq!(bound(&raw, &limits(), &mut problems).as_ref(), &raw[..]);
        assert!(problems.is_empty());
    }

    #[test]
    fn nesting_past_the_cap_is_cut_before_the_deeper_part() {
        let raw = nested(10);
        let mut problems = Vec::new();
        let cut = bound(&raw, &limits(), &mut problems);
        assert_eq!(problems, vec![Problem::MimeTooDeep { limit: 3 }]);
        let cut = String::from_utf8(cut.into_owned()).unwrap();
        assert!(cut.ends_with("boundary=\"d2\"\r\n\r\n"), "{cut}");
        assert!(!cut.contains("\"d3\""));
    }

    #[test]
    fn parts_past_the_cap_are_cut() {
        let mut m = String::from("Content-Type: multipart/mixed; boundary=p\r\n\r\n");
        for i in 0..10 {
            m += &format!("--p\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n");
        }
        m += "--p--\r\n";
        let mut problems = Vec::new();
        let cut = bound(m.as_bytes(), &limits(), &mut problems);
        assert_eq!(problems, vec![Problem::TooManyParts { limit: 4 }]);
        let cut = String::from_utf8(cut.into_owned()).unwrap();
        assert!(cut.contains("part 3") && !cut.contains("part 4"), "{cut}");
    }

    #[test]
    fn long_and_surplus_header_fields_are_cut() {
        let raw = format!(
            "Subject: {}\r\n\tcontinued\r\nFrom: a@b\r\nTo: c@d\r\nX-Extra: 1\r\n\r\nbody\r\n",
            "x".repeat(100)
        );
        let mut problems = Vec::new();
        let cut = bound(raw.as_bytes(), &limits(), &mut problems);
        let cut = String::from_utf8(cut.into_owned()).unwrap();
        assert_eq!(
            cut,
            format!(
                "Subject: {}\r\nFrom: a@b\r\nTo: c@d\r\n\r\nbody\r\n",
                "x".repeat(51)
            )
        );
        assert_eq!(
            problems,
            vec![Problem::HeadersCut {
                fields: 4,
                max_fields: 3,
                max_field_bytes: 60
            }]
        );
    }

    #[test]
    fn a_forwarded_message_boundary_counts() {
        let raw = b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: multipart/mixed; boundary=d\r\n\r\n--d\r\n\r\nx\r\n--d--\r\n--c--\r\n--b--\r\n--a--\r\n";
        let mut problems = Vec::new();
        bound(raw, &limits(), &mut problems);
        assert_eq!(problems, vec![Problem::MimeTooDeep { limit: 3 }]);
    }
}
