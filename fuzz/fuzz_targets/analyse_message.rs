//! Fuzz target: the whole analysis of one message, as the gateway does it
//! without I/O: arbitrary bytes → `message::parse` → for every sheet
//! attachment `sheet::read_workbook` → `validation::check` on every form
//! (and the Japanese text of every refusal). Nothing may panic in our code,
//! hang or allocate without bound, whatever the bytes.
//!
//! Seed it with mails carrying sheets: `samples/mail/`, `samples/inbox/`,
//! `tests/fixtures/mail/` and the `.eml` files of `tests/fixtures/hostile/`.

#![no_main]

#[path = "common/strict.rs"]
mod strict;

use libfuzzer_sys::fuzz_target;
use sos_intake::message::{self, Limits};
use sos_intake::sheet::read_workbook;
use sos_intake::validation::{Policy, check};

fuzz_target!(|data: &[u8]| {
    strict::install();
    // Small caps so that every guard is reached, too.
    let limits = Limits {
        max_message_bytes: 4 << 20,
        max_attachment_bytes: 1 << 20,
        max_unpacked_bytes: 2 << 20,
        max_zip_entries: 50,
        max_depth: 4,
        max_attachments: 50,
        max_mime_depth: 16,
        max_mime_parts: 200,
        max_header_bytes: 16 << 10,
        max_header_fields: 200,
    };
    let parsed = message::parse(data, &limits);
    let _ = parsed.is_too_large();
    let policy = Policy::default();
    for attachment in parsed.sheets() {
        match read_workbook(&attachment.bytes) {
            Ok(workbook) => {
                for form in &workbook.forms {
                    let checked = check(form, &policy);
                    let _ = checked.has_errors();
                }
            }
            Err(e) => {
                let _ = sos_intake::messages::findings::read_error(&e);
            }
        }
    }
});
