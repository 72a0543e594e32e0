//! Step 1 of reading: telling the container format from the bytes and the
//! guards that must run *before* calamine inflates anything.
//!
//! [`detect`] looks at the content, never at a file name: input size, the
//! zip central directory's uncompressed sizes and compression ratios (zip
//! bombs), entries sharing data or inflating past their declared size
//! ([`crate::sheet::guard::check_zip_package`]), encrypted packages. The
//! deeper structure scans of .xls and .ods live in [`crate::sheet::guard`];
//! `refused` turns their refusals into a [`ReadError`].

use crate::sheet::reader::ReadError;
use serde::{Deserialize, Serialize};
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Largest input accepted, in bytes.
pub const MAX_INPUT_BYTES: usize = 20 * 1024 * 1024;
/// Largest uncompressed size of a zip entry that calamine reads whole
/// (shared strings, styles, workbook, ODS content), in bytes.
pub const MAX_WHOLE_ENTRY_BYTES: u64 = 64 * 1024 * 1024;
/// Largest uncompressed size of an xlsx worksheet entry (streamed), in bytes.
pub const MAX_SHEET_ENTRY_BYTES: u64 = 512 * 1024 * 1024;
/// Largest total uncompressed size of all zip entries, in bytes.
pub const MAX_TOTAL_UNCOMPRESSED_BYTES: u64 = 1024 * 1024 * 1024;
/// Largest compression ratio accepted for an entry over 1 MiB.
pub const MAX_COMPRESSION_RATIO: u64 = 250;
/// Largest number of zip entries.
pub const MAX_ZIP_ENTRIES: usize = 10_000;

/// The container format, told by content (not by file name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Office Open XML workbook.
    Xlsx,
    /// Office Open XML workbook with macros (never run).
    Xlsm,
    /// Legacy BIFF8 workbook (Excel 97–2003).
    Xls,
    /// OpenDocument spreadsheet.
    Ods,
}

impl Format {
    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Xlsm => "xlsm",
            Format::Xls => "xls",
            Format::Ods => "ods",
        }
    }
}

/// The first bytes of an OLE2 (compound file) container: .xls, or an
/// encrypted OOXML package.
pub(crate) const CFB_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const ODS_MIMETYPE: &str = "application/vnd.oasis.opendocument.spreadsheet";

/// Tells the format from the bytes and applies the pre-inflation guards.
pub fn detect(bytes: &[u8]) -> Result<Format, ReadError> {
    if bytes.is_empty() {
        return Err(ReadError::Empty);
    }
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(ReadError::TooLarge(format!(
            "{} bytes (limit {MAX_INPUT_BYTES})",
            bytes.len()
        )));
    }
    if bytes.starts_with(&CFB_MAGIC) {
        // A password-protected .xlsx is an OLE2 container holding the
        // encrypted package; a plain .xls holds a "Workbook" stream.
        if contains_utf16le(bytes, "EncryptedPackage") || contains_utf16le(bytes, "EncryptionInfo")
        {
            return Err(ReadError::Encrypted);
        }
        return Ok(Format::Xls);
    }
    if bytes.starts_with(b"PK") {
        return catch_unwind(AssertUnwindSafe(|| detect_zip(bytes)))
            .map_err(|_| ReadError::Corrupt("unreadable zip directory".into()))?;
    }
    Err(ReadError::NotASpreadsheet)
}

fn contains_utf16le(haystack: &[u8], needle: &str) -> bool {
    let pattern: Vec<u8> = needle.encode_utf16().flat_map(u16::to_le_bytes).collect();
    memchr::memmem::find(haystack, &pattern).is_some()
}

/// What the zip central directory says, checked before anything inflates.
fn detect_zip(bytes: &[u8]) -> Result<Format, ReadError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ReadError::Corrupt(format!("zip: {e}")))?;
    let names = check_zip_directory(&archive)?;
    // Sizes above are the directory's word: hold every entry to it (and
    // refuse entries sharing data) before calamine or zip inflate anything.
    super::guard::check_zip_package(bytes, &mut archive).map_err(refused)?;
    format_of_package(bytes, &mut archive, &names)
}

/// Holds the central directory to the size guards (entry count, sizes,
/// compression ratios, encryption); the entries' names when it passes.
fn check_zip_directory(archive: &zip::ZipArchive<Cursor<&[u8]>>) -> Result<Vec<String>, ReadError> {
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(ReadError::TooLarge(format!(
            "{} zip entries",
            archive.len()
        )));
    }
    let mut names = Vec::with_capacity(archive.len());
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        // The central directory says enough; the entries read later check
        // their own headers.
        let entry = archive
            .by_index_data(i)
            .map_err(|e| ReadError::Corrupt(format!("zip entry {i}: {e}")))?;
        if entry.encrypted() {
            return Err(ReadError::Encrypted);
        }
        let name = entry.name().map(|n| n.to_string()).unwrap_or_default();
        let size = entry.size();
        let packed = entry.compressed_size().max(1);
        let streamed = name.starts_with("xl/worksheets/") && name.ends_with(".xml");
        let limit = if streamed {
            MAX_SHEET_ENTRY_BYTES
        } else {
            MAX_WHOLE_ENTRY_BYTES
        };
        if size > limit {
            return Err(ReadError::TooLarge(format!(
                "{name}: {size} bytes uncompressed"
            )));
        }
        if size > 1024 * 1024 && size / packed > MAX_COMPRESSION_RATIO {
            return Err(ReadError::TooLarge(format!(
                "{name}: compression ratio {} (zip bomb?)",
                size / packed
            )));
        }
        total = total.saturating_add(size);
        names.push(name);
    }
    if total > MAX_TOTAL_UNCOMPRESSED_BYTES {
        return Err(ReadError::TooLarge(format!(
            "{total} bytes uncompressed in total"
        )));
    }
    Ok(names)
}

/// An ODS (by its `mimetype` entry) or an .xlsx / .xlsm (by its workbook
/// part and content types); anything else is not a spreadsheet.
fn format_of_package(
    bytes: &[u8],
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    names: &[String],
) -> Result<Format, ReadError> {
    if names.iter().any(|n| n == "mimetype") {
        let mut mimetype = String::new();
        if let Ok(entry) = archive.by_name("mimetype") {
            use std::io::Read;
            let _ = entry.take(200).read_to_string(&mut mimetype);
        }
        if mimetype.trim() == ODS_MIMETYPE {
            return Ok(Format::Ods);
        }
        return Err(ReadError::NotASpreadsheet);
    }
    if names.iter().any(|n| n == "xl/workbook.xml") {
        const TYPES: &str = "[Content_Types].xml";
        let types = super::xlsx::part(bytes, archive, TYPES, MAX_WHOLE_ENTRY_BYTES)
            .or_else(|| {
                use std::io::Read;
                let mut types = Vec::new();
                let entry = archive.by_name(TYPES).ok()?;
                entry
                    .take(MAX_WHOLE_ENTRY_BYTES)
                    .read_to_end(&mut types)
                    .ok()?;
                Some(types)
            })
            .unwrap_or_default();
        return Ok(if memchr::memmem::find(&types, b"macroEnabled").is_some() {
            Format::Xlsm
        } else {
            Format::Xlsx
        });
    }
    Err(ReadError::NotASpreadsheet)
}

/// A guard's refusal as the error the sender is told about.
pub(super) fn refused(r: crate::sheet::guard::Refusal) -> ReadError {
    use crate::sheet::guard::Refusal;
    match r {
        Refusal::TooManyCells(n) => ReadError::TooLarge(format!("a worksheet grid of {n} cells")),
        Refusal::TooManySheets(n) => ReadError::TooLarge(format!(
            "{n} worksheets (limit {})",
            crate::sheet::guard::MAX_XLS_SHEETS
        )),
        Refusal::TooMuchWork => ReadError::TooLarge(format!(
            "worksheet records over {} bytes in all",
            crate::sheet::guard::MAX_XLS_WALK_BYTES
        )),
        Refusal::Unreadable => ReadError::Corrupt("unreadable OLE2 container".into()),
        Refusal::Malformed(why) => ReadError::Corrupt(format!("OLE2 container: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::testing::{EXAMPLE_XLSX, rezip};

    #[test]
    fn xlsm_is_told_by_content_types() {
        let bytes = rezip(&std::fs::read(EXAMPLE_XLSX).unwrap(), |name, data| {
            if name == "[Content_Types].xml" {
                String::from_utf8(data)
                    .unwrap()
                    .replace("sheet.main+xml", "sheet.macroEnabled.main+xml")
                    .into_bytes()
            } else {
                data
            }
        });
        assert_eq!(detect(&bytes), Ok(Format::Xlsm));
    }
}
