//! Fuzz target: arbitrary bytes → `message::parse` → sender classification.
//! Parsing must never panic and must keep its invariants (every attachment's
//! size and digest match its bytes; a zip's members follow it).
#![no_main]

#[path = "common/strict.rs"]
mod strict;

use libfuzzer_sys::fuzz_target;
use sos_intake::config::Config;
use sos_intake::mailbox::senders::{self, PrefectureDirectory};
use sos_intake::message::{self, AttachmentKind, Limits};
use std::sync::OnceLock;

fn setup() -> &'static (Config, PrefectureDirectory) {
    static SETUP: OnceLock<(Config, PrefectureDirectory)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let config = Config::parse(
            "[prefectures]\n\"東京都\" = [\"sos@fukushi.metro.tokyo.lg.jp\", \"@fukushi.metro.tokyo.lg.jp\"]\n\
             \"大阪府\" = [\"@pref.osaka.lg.jp\"]\n[mail]\nauthserv_id = \"mx.mhlw.go.jp\"\n",
        )
        .expect("fuzz configuration");
        let dir = PrefectureDirectory::from_config(&config).expect("fuzz directory");
        (config, dir)
    })
}

fuzz_target!(|data: &[u8]| {
    strict::install();
    // Small limits so that the guards are reached, too.
    let limits = Limits {
        max_message_bytes: 1 << 20,
        max_attachment_bytes: 256 << 10,
        max_unpacked_bytes: 1 << 20,
        max_zip_entries: 50,
        max_depth: 4,
        max_attachments: 100,
        max_mime_depth: 16,
        max_mime_parts: 200,
        max_header_bytes: 16 << 10,
        max_header_fields: 200,
    };
    let parsed = message::parse(data, &limits);
    for (i, a) in parsed.attachments.iter().enumerate() {
        assert_eq!(a.size as usize, a.bytes.len());
        assert!(!a.path.is_empty());
        if let AttachmentKind::Zip { members } = a.kind {
            assert!(i + members < parsed.attachments.len() + 1);
        }
    }
    assert!(parsed.attachments.len() <= limits.max_attachments);
    let (config, dir) = setup();
    let verdict = senders::classify(&parsed, dir, &config.mail);
    let _ = verdict.describe();
    serde_json::to_string(&parsed).expect("a parse always serialises");
});
