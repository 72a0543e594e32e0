//! Telling a file's type by its content (magic bytes, container members),
//! never by its name: a sheet renamed `.pdf` is still a sheet, and a
//! password-protected `.xlsx` (really an OLE2 container) is not a workbook.

use super::{OtherFile, charset};
use crate::sheet::reader::Format;
use std::io::{Cursor, Read};

/// What the content turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Sniffed {
    /// A workbook we read.
    Sheet(Format),
    /// An OLE2 container holding `EncryptionInfo` and `EncryptedPackage`: a
    /// password-protected Office Open XML file.
    EncryptedOffice,
    /// A zip archive that is not an Office/OpenDocument file: unpack it.
    PlainZip,
    /// Anything else.
    Other(OtherFile),
}

const OLE2_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// Sniffs `bytes`. `declared` (the MIME type) and `filename` only refine the
/// description of plain text (CSV or not); they never decide a type.
pub(crate) fn sniff(bytes: &[u8], declared: Option<&str>, filename: Option<&str>) -> Sniffed {
    if bytes.is_empty() {
        return Sniffed::Other(OtherFile::Empty);
    }
    if bytes.starts_with(OLE2_MAGIC) {
        return sniff_ole2(bytes);
    }
    if bytes.starts_with(b"PK\x03\x04")
        || bytes.starts_with(b"PK\x05\x06")
        || bytes.starts_with(b"PK\x07\x08")
    {
        return sniff_zip(bytes);
    }
    let magic: &[(&[u8], OtherFile)] = &[
        (b"%PDF-", OtherFile::Pdf),
        (b"\x89PNG\r\n\x1a\n", OtherFile::Image),
        (b"\xFF\xD8\xFF", OtherFile::Image),
        (b"GIF87a", OtherFile::Image),
        (b"GIF89a", OtherFile::Image),
        (b"II*\x00", OtherFile::Image),
        (b"MM\x00*", OtherFile::Image),
        (b"BM", OtherFile::Image),
        (b"\x1F\x8B", OtherFile::OtherArchive),
        (b"7z\xBC\xAF\x27\x1C", OtherFile::OtherArchive),
        (b"Rar!\x1A\x07", OtherFile::OtherArchive),
        (b"\x78\x9F\x3E\x22", OtherFile::OutlookTnef),
    ];
    for (m, kind) in magic {
        if bytes.starts_with(m) {
            return Sniffed::Other(*kind);
        }
    }
    if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Sniffed::Other(OtherFile::Image);
    }
    // LHA (.lzh), still met in Japanese offices: "-lh?-" at offset 2.
    if bytes.len() > 7 && &bytes[2..4] == b"-l" && bytes[6] == b'-' {
        return Sniffed::Other(OtherFile::OtherArchive);
    }
    sniff_text(bytes, declared, filename)
}

fn sniff_text(bytes: &[u8], declared: Option<&str>, filename: Option<&str>) -> Sniffed {
    let head = &bytes[..bytes.len().min(8192)];
    let binary = head
        .iter()
        .filter(|&&b| b == 0 || (b < 0x20 && !b"\t\r\n\x0c\x1b".contains(&b)))
        .count();
    if binary > head.len() / 100 {
        return Sniffed::Other(OtherFile::Unknown);
    }
    let (text, _) = charset::guess(head);
    let lower = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_ascii_lowercase();
    if lower.starts_with("<!doctype html") || lower.starts_with("<html") {
        return Sniffed::Other(OtherFile::Html);
    }
    let csv_name = filename.is_some_and(|n| n.to_ascii_lowercase().ends_with(".csv"));
    let csv_type = declared.is_some_and(|t| t.eq_ignore_ascii_case("text/csv"));
    if csv_name || csv_type {
        return Sniffed::Other(OtherFile::Csv);
    }
    Sniffed::Other(OtherFile::Text)
}

/// Names of the directory entries of an OLE2 (Compound File Binary)
/// container. Directory entries are 128 bytes, aligned to 128 within the
/// file (sectors are 512 or 4096 bytes after a 512-byte header); each holds
/// a UTF-16LE name, its byte length at +64 and the entry type at +66. A scan
/// for well-formed entries finds them without following the FAT chains,
/// which a damaged file may not have.
pub(crate) fn ole2_entry_names(bytes: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut off = 512;
    while let Some(entry) = bytes.get(off..off + 128) {
        off += 128;
        let len = u16::from_le_bytes([entry[64], entry[65]]) as usize;
        let kind = entry[66];
        if !matches!(kind, 1 | 2 | 5) || !(4..=64).contains(&len) || !len.is_multiple_of(2) {
            continue;
        }
        let units: Vec<u16> = entry[..len - 2]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        if entry[len - 2] != 0 || entry[len - 1] != 0 {
            continue;
        }
        if let Ok(name) = String::from_utf16(&units)
            && name
                .chars()
                .all(|c| !c.is_control() || ('\u{1}'..='\u{6}').contains(&c))
        {
            names.push(name);
        }
    }
    names
}

fn sniff_ole2(bytes: &[u8]) -> Sniffed {
    let names = ole2_entry_names(bytes);
    let has = |n: &str| names.iter().any(|x| x.eq_ignore_ascii_case(n));
    if has("EncryptedPackage") || has("EncryptionInfo") {
        Sniffed::EncryptedOffice
    } else if has("Workbook") || has("Book") {
        Sniffed::Sheet(Format::Xls)
    } else if has("WordDocument") {
        Sniffed::Other(OtherFile::WordDocument)
    } else if has("PowerPoint Document") {
        Sniffed::Other(OtherFile::Presentation)
    } else if names.iter().any(|n| n.starts_with("__substg1.0_")) {
        Sniffed::Other(OtherFile::OutlookMessage)
    } else {
        Sniffed::Other(OtherFile::Unknown)
    }
}

/// Reads at most `limit` bytes of the member called `name`.
fn read_member(
    archive: &mut ::zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
    limit: u64,
) -> Option<Vec<u8>> {
    let file = archive.by_name(name).ok()?;
    let mut out = Vec::new();
    file.take(limit).read_to_end(&mut out).ok()?;
    Some(out)
}

fn sniff_zip(bytes: &[u8]) -> Sniffed {
    let Ok(mut archive) = ::zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Sniffed::Other(OtherFile::DamagedArchive);
    };
    let names: Vec<String> = archive
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    let has = |n: &str| names.iter().any(|x| x == n);
    let has_dir = |d: &str| names.iter().any(|x| x.starts_with(d));
    if has("mimetype") {
        let mime = read_member(&mut archive, "mimetype", 200).unwrap_or_default();
        let mime = String::from_utf8_lossy(&mime);
        if mime.trim() == "application/vnd.oasis.opendocument.spreadsheet" {
            return Sniffed::Sheet(Format::Ods);
        }
        if mime.starts_with("application/vnd.oasis.opendocument.text") {
            return Sniffed::Other(OtherFile::WordDocument);
        }
        if mime.starts_with("application/vnd.oasis.opendocument") {
            return Sniffed::Other(OtherFile::OtherOfficeDocument);
        }
    }
    if has("[Content_Types].xml") {
        if has_dir("xl/") {
            let types =
                read_member(&mut archive, "[Content_Types].xml", 1 << 20).unwrap_or_default();
            let macro_enabled = has("xl/vbaProject.bin")
                || String::from_utf8_lossy(&types)
                    .to_ascii_lowercase()
                    .contains("macroenabled");
            return Sniffed::Sheet(if macro_enabled {
                Format::Xlsm
            } else {
                Format::Xlsx
            });
        }
        if has_dir("word/") {
            return Sniffed::Other(OtherFile::WordDocument);
        }
        if has_dir("ppt/") {
            return Sniffed::Other(OtherFile::Presentation);
        }
        return Sniffed::Other(OtherFile::OtherOfficeDocument);
    }
    Sniffed::PlainZip
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_decide_not_names() {
        assert_eq!(
            sniff(b"%PDF-1.7 ...", None, Some("sheet.xlsx")),
            Sniffed::Other(OtherFile::Pdf)
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n....", None, None),
            Sniffed::Other(OtherFile::Image)
        );
        assert_eq!(
            sniff(b"a,b,c\r\n1,2,3\r\n", Some("text/csv"), None),
            Sniffed::Other(OtherFile::Csv)
        );
        assert_eq!(
            sniff(b"hello", None, Some("x.txt")),
            Sniffed::Other(OtherFile::Text)
        );
        assert_eq!(sniff(b"", None, None), Sniffed::Other(OtherFile::Empty));
        assert_eq!(
            sniff(b"\x00\x01\x02\x03\x04", None, None),
            Sniffed::Other(OtherFile::Unknown)
        );
    }

    #[test]
    fn truncated_ole2_and_zip_do_not_panic() {
        assert_eq!(
            sniff(OLE2_MAGIC, None, None),
            Sniffed::Other(OtherFile::Unknown)
        );
        assert_eq!(
            sniff(b"PK\x03\x04junk", None, None),
            Sniffed::Other(OtherFile::DamagedArchive)
        );
    }
}
