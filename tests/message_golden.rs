//! Golden tests: every `.eml` under `samples/mail/` and
//! `tests/fixtures/mail/{rfc,legacy,thirdparty,malformed}/` is parsed and
//! classified, and the result is compared with the `.parsed.json` beside it.
//!
//! After a deliberate change, rewrite the expectations with
//! `UPDATE_GOLDEN=1 cargo test --test message_golden` and review the diff by
//! hand before committing.

use serde_json::{Value, json};
use sos_intake::config::Config;
use sos_intake::mailbox::senders::{self, PrefectureDirectory};
use sos_intake::message::{self, Limits, ParsedMessage};
use std::path::{Path, PathBuf};

/// The directory the samples are written for (as in samples/sos-intake.toml).
const CONFIG: &str = r#"
[prefectures]
"北海道" = ["iryo@pref.hokkaido.lg.jp", "@pref.hokkaido.lg.jp"]
"東京都" = ["sos@fukushi.metro.tokyo.lg.jp", "@fukushi.metro.tokyo.lg.jp", "@section.metro.tokyo.lg.jp"]
"大阪府" = ["kansen@pref.osaka.lg.jp", "@pref.osaka.lg.jp"]
[mail]
authserv_id = "mx.mhlw.go.jp"
"#;

fn emls(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            emls(&path, out);
        } else if path.extension().is_some_and(|e| e == "eml") {
            out.push(path);
        }
    }
}

/// The parts of a parse worth pinning: everything but raw bytes and the full
/// header list; long texts are cut.
fn summary(p: &ParsedMessage, config: &Config, dir: &PrefectureDirectory) -> Value {
    let text: String = p.text.chars().take(400).collect();
    let classification = senders::classify(p, dir, &config.mail);
    json!({
        "message_id": p.message_id,
        "from": p.from,
        "reply_to": p.reply_to,
        "to": p.to,
        "cc": p.cc,
        "subject": p.subject,
        "date": p.date.map(|d| d.to_rfc3339()),
        "in_reply_to": p.in_reply_to,
        "references": p.references,
        "return_path": p.return_path,
        "content_type": p.content_type,
        "header_count": p.headers.len(),
        "text": text,
        "attachments": p.attachments,
        "problems": p.problems,
        "auto_generated": senders::auto_generated(p).map(|r| r.to_string()),
        "classification": classification,
        "classification_in_words": classification.describe(),
    })
}

#[test]
fn parses_match_golden_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    emls(&root.join("samples/mail"), &mut files);
    emls(&root.join("tests/fixtures/mail"), &mut files);
    assert!(files.len() >= 11, "samples missing: {files:?}");
    let config = Config::parse(CONFIG).unwrap();
    let dir = PrefectureDirectory::from_config(&config).unwrap();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for file in &files {
        let raw = std::fs::read(file).unwrap();
        let parsed = message::parse(&raw, &Limits::default());
        let actual = serde_json::to_string_pretty(&summary(&parsed, &config, &dir)).unwrap() + "\n";
        let golden = file.with_extension("parsed.json");
        if update {
            std::fs::write(&golden, &actual).unwrap();
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(expected) if expected == actual => {}
            Ok(_) => failures.push(format!(
                "{} differs from {}",
                file.display(),
                golden.display()
            )),
            Err(_) => failures.push(format!("{} has no {}", file.display(), golden.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden files differ (UPDATE_GOLDEN=1 to rewrite, then review):\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
