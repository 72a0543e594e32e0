//! Unpacking a plain .zip attachment, with guards against decompression
//! bombs: a cap on entries, on each member's size (checked while inflating,
//! not trusted from the header) and on the total unpacked per message;
//! entries sharing their data (the overlapping "better zip bomb") are
//! refused before anything inflates. Nested zips are unpacked by the caller
//! within [`super::Limits::max_depth`] and the same per-message budget.
//! Encrypted entries (ZipCrypto or AES, the "PPAP" habit) are not opened.

use super::SizeLimit;
use std::io::{Cursor, Read};

/// One file taken out of an archive.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    /// Its path inside the archive (`フォルダ/シート.xlsx`), decoded.
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// What unpacking found.
#[derive(Debug)]
pub(crate) enum Unpacked {
    /// Every member (directories and OS junk such as `__MACOSX/` left out).
    Members(Vec<Member>),
    /// At least one entry is encrypted.
    Encrypted,
    /// A guard tripped.
    TooLarge(SizeLimit),
    /// The archive cannot be read (bad structure, CRC, unsupported
    /// compression).
    Damaged(String),
}

/// Unpacks `bytes`. `budget` is what may still be unpacked for this
/// message; it is reduced by what was read.
pub(crate) fn unpack(
    bytes: &[u8],
    max_entries: usize,
    max_member: u64,
    budget: &mut u64,
) -> Unpacked {
    let mut archive = match ::zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(a) => a,
        Err(e) => return Unpacked::Damaged(e.to_string()),
    };
    if archive.len() > max_entries {
        return Unpacked::TooLarge(SizeLimit::ZipEntries {
            count: archive.len() as u64,
            limit: max_entries as u64,
        });
    }
    // The "better zip bomb": many entries on one shared deflate stream.
    if crate::sheet::guard::zip_entries_overlap(&mut archive) != Some(false) {
        return Unpacked::Damaged("entries share their data (overlapping zip bomb)".into());
    }
    for i in 0..archive.len() {
        match archive.by_index_raw(i) {
            Ok(f) if f.encrypted() => return Unpacked::Encrypted,
            Ok(_) => {}
            Err(e) => return Unpacked::Damaged(e.to_string()),
        }
    }
    let mut members = Vec::new();
    for i in 0..archive.len() {
        let file = match archive.by_index(i) {
            Ok(f) => f,
            Err(e) => return Unpacked::Damaged(e.to_string()),
        };
        if file.is_dir() {
            continue;
        }
        let name = super::words::zip_member_name(file.name_raw());
        if is_os_junk(&name) {
            continue;
        }
        if file.size() > max_member {
            return Unpacked::TooLarge(SizeLimit::File {
                size: file.size(),
                limit: max_member,
            });
        }
        // The declared size may lie: read one byte past the limits to see.
        let cap = max_member.min(*budget);
        let mut out = Vec::new();
        if let Err(e) = file.take(cap.saturating_add(1)).read_to_end(&mut out) {
            return Unpacked::Damaged(e.to_string());
        }
        let read = out.len() as u64;
        if read > max_member {
            return Unpacked::TooLarge(SizeLimit::File {
                size: read,
                limit: max_member,
            });
        }
        if read > *budget {
            return Unpacked::TooLarge(SizeLimit::Unpacked { limit: *budget });
        }
        *budget -= read;
        members.push(Member { name, bytes: out });
    }
    Unpacked::Members(members)
}

/// Files that archivers add on their own (macOS resource forks, Finder and
/// Explorer metadata): never the official's attachment.
fn is_os_junk(name: &str) -> bool {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    name.starts_with("__MACOSX/")
        || base.starts_with("._")
        || base.eq_ignore_ascii_case(".DS_Store")
        || base.eq_ignore_ascii_case("Thumbs.db")
        || base.eq_ignore_ascii_case("desktop.ini")
}
