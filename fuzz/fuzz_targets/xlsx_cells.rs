//! Fuzz target: arbitrary worksheet XML (and shared strings) in a real
//! .xlsx package → the quick .xlsx reader and calamine must read the same
//! cells, merged ranges and hidden rows whenever both accept the package.
//!
//! `read_workbook` fuzzing mutates the zip, whose CRCs reject almost every
//! change to the XML inside; here the XML itself is the input. The input is
//! split at the first `0xFF` byte (never valid UTF-8): before it the
//! worksheet, after it the shared strings (the sample's when absent).

#![no_main]

#[path = "common/strict.rs"]
mod strict;

use libfuzzer_sys::fuzz_target;
use std::io::{Cursor, Read, Write};
use std::sync::OnceLock;

/// The parts of `samples/sheets/valid.xlsx`, name and bytes.
fn sample_parts() -> &'static Vec<(String, Vec<u8>)> {
    static PARTS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    PARTS.get_or_init(|| {
        let bytes = include_bytes!("../../samples/sheets/valid.xlsx");
        let mut archive = zip::ZipArchive::new(Cursor::new(&bytes[..])).expect("sample zip");
        (0..archive.len())
            .map(|i| {
                let mut entry = archive.by_index(i).expect("sample entry");
                let mut data = Vec::new();
                entry.read_to_end(&mut data).expect("sample data");
                (entry.name().expect("sample name").to_string(), data)
            })
            .collect()
    })
}

fn package(sheet: &[u8], strings: Option<&[u8]>) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in sample_parts() {
        let data = match name.as_str() {
            "xl/worksheets/sheet1.xml" => sheet,
            "xl/sharedStrings.xml" => strings.unwrap_or(data),
            _ => data,
        };
        out.start_file(name.as_str(), stored).expect("start");
        out.write_all(data).expect("write");
    }
    out.finish().expect("finish").into_inner()
}

fuzz_target!(|data: &[u8]| {
    strict::install();
    let (sheet, strings) = match data.iter().position(|b| *b == 0xFF) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let bytes = package(sheet, strings);
    if let Some((quick, calamine)) = sos_intake::sheet::reader::xlsx_both_ways(&bytes)
        && quick != calamine
    {
        eprintln!("the quick reader and calamine disagree\nquick: {quick}\ncalamine: {calamine}");
        std::process::abort();
    }
});
