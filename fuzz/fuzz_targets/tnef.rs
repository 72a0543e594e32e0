//! Fuzz target: arbitrary bytes → `message::tnef::read` (Outlook's
//! winmail.dat). Never panics; the files taken out are never more, nor
//! larger, than the caps allow, and together never larger than the input
//! (each is a distinct part of it); a stream that does not start with the
//! signature is never read. The input is also wrapped as the winmail.dat of
//! a mail and parsed whole, so the walk into its files (nested winmail.dat
//! and zips included) runs under the same caps.
#![no_main]

#[path = "common/strict.rs"]
mod strict;

use libfuzzer_sys::fuzz_target;
use sos_intake::message::tnef::{self, Tnef, TnefLimits, Unreadable};
use sos_intake::message::{self, Limits};

fuzz_target!(|data: &[u8]| {
    strict::install();
    let limits = TnefLimits {
        max_files: 8,
        max_file_bytes: 4096,
    };
    match tnef::read(data, &limits) {
        Tnef::Files(files) => {
            assert!(data.starts_with(&tnef::SIGNATURE), "read without signature");
            assert!(!files.is_empty() && files.len() <= limits.max_files);
            let total: usize = files.iter().map(|f| f.bytes.len()).sum();
            assert!(total <= data.len(), "more bytes out than in");
            for f in &files {
                assert!(f.bytes.len() as u64 <= limits.max_file_bytes);
            }
        }
        Tnef::Unreadable(Unreadable::NotTnef) => {
            assert!(data.len() < 6 || !data.starts_with(&tnef::SIGNATURE));
        }
        Tnef::Unreadable(_) | Tnef::TooLarge(_) => {}
    }
    let mail = wrap(data);
    let limits = Limits {
        max_zip_entries: 8,
        max_attachments: 32,
        ..Limits::default()
    };
    let parsed = message::parse(&mail, &limits);
    assert!(parsed.attachments.len() <= 32);
});

/// `data` as the winmail.dat of an Outlook rich-text mail.
fn wrap(data: &[u8]) -> Vec<u8> {
    let mut mail = b"From: a@b.jp\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n\
--b\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    mail.extend(base64(data));
    mail.extend_from_slice(b"\r\n--b--\r\n");
    mail
}

/// Standard base64 with `=` padding (the fuzz crate keeps its dependencies
/// few).
fn base64(data: &[u8]) -> Vec<u8> {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}
