//! Test helpers shared by the reading steps' tests: the sample workbooks
//! and rewriting a zip package entry by entry.

use crate::sheet::detect::Format;
use std::io::Cursor;

/// The filled example form, as an .xlsx.
pub(super) const EXAMPLE_XLSX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/samples/forms/example-filled.xlsx"
);

/// A workbook of `tests/fixtures/reader/`.
pub(super) fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/reader/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Rewrites a zip, passing each entry's bytes through `edit`.
pub(super) fn rezip(bytes: &[u8], edit: impl Fn(&str, Vec<u8>) -> Vec<u8>) -> Vec<u8> {
    rezip_as(bytes, str::to_string, edit)
}

/// A copy of a zip with entries renamed by `rename` and edited by `edit`.
pub(super) fn rezip_as(
    bytes: &[u8],
    rename: impl Fn(&str) -> String,
    edit: impl Fn(&str, Vec<u8>) -> Vec<u8>,
) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        out.start_file(rename(&name).as_str(), options).unwrap();
        out.write_all(&edit(&name, data)).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// The filled example in each format read: .xlsx, .xls and .ods.
pub(super) fn example_in_every_format() -> [(Vec<u8>, Format); 3] {
    [
        (std::fs::read(EXAMPLE_XLSX).unwrap(), Format::Xlsx),
        (fixture("example.xls"), Format::Xls),
        (fixture("example.ods"), Format::Ods),
    ]
}
