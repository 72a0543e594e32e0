//! The realistic messages of samples/mail/ through the pipeline, with the
//! sample configuration (samples/sos-intake.toml) the demo uses: what each
//! becomes in the queue and what its reply says.

mod common;

use sos_intake::config::{Config, Settings};
use sos_intake::outbox;
use sos_intake::pipeline::{Disposition, Intake, Outcome};
use sqlx::Row;
use std::path::Path;

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples/mail")
            .join(name),
    )
    .expect("sample mail")
}

fn settings(dir: &Path) -> Settings {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/sos-intake.toml"
    ))
    .unwrap();
    Settings::resolve(
        Config::parse(&text).expect("the sample configuration parses"),
        Some(dir.to_path_buf()),
    )
}

/// The reply to `outcome`, decoded: headers, subject, body, attachment names.
async fn reply_of(db: &sos_intake::queue::Db, outcome: &Outcome) -> Option<String> {
    use mail_parser::MimeHeaders;
    let id = outcome.reply?;
    let mut conn = db.pool().acquire().await.unwrap();
    let raw = outbox::raw(&mut conn, id).await.unwrap().unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let names: Vec<String> = parsed
        .attachments()
        .filter_map(|a| a.attachment_name().map(String::from))
        .collect();
    Some(format!(
        "{}\nSUBJECT: {}\nATTACHMENTS: {}\n{}",
        String::from_utf8_lossy(&raw[..end]),
        parsed.subject().unwrap_or_default(),
        names.join(" | "),
        parsed.body_text(0).unwrap_or_default()
    ))
}

/// A sample file, its disposition, how many forms it files, its reply's
/// X-SOS-Status (None: no reply) and words the reply must hold.
type Case = (
    &'static str,
    Disposition,
    usize,
    Option<&'static str>,
    &'static [&'static str],
);

both_backends!(every_sample_gets_the_right_outcome_and_reply, |t| {
    let intake = Intake::new(t.db.clone(), &settings(&t.data_dir())).unwrap();
    // A Tuesday morning, before the 13:00 cut-off.
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00+09:00").unwrap();
    // (file, disposition, forms filed, X-SOS-Status or None for no reply, words the reply must hold)
    let cases: &[Case] = &[
        (
            "01-valid-submission.eml",
            Disposition::Accepted,
            1,
            Some("accepted"),
            &[
                "みどり内科クリニック",
                "非滅菌手袋",
                "13時までの受信のため当日扱い",
            ],
        ),
        (
            "02-several-sheets.eml",
            Disposition::Accepted,
            3,
            Some("accepted"),
            &["01_なにわ中央病院.xlsx", "02_堺みなと病院.xls", ".ods"],
        ),
        (
            "03-error-sheet.eml",
            Disposition::Rejected,
            1,
            Some("rejected"),
            &["エラー（", "セル ", "_指摘箇所.xlsx"],
        ),
        (
            "04-iso-2022-jp.eml",
            Disposition::Accepted,
            1,
            Some("accepted"),
            &["北海道"],
        ),
        (
            "05-shift-jis-rfc2231-filename.eml",
            Disposition::Accepted,
            1,
            Some("accepted"),
            &[
                "東京都_緊急配布要請シート_みどり内科クリニック_修正版.xlsx",
                "差し替えられました",
            ],
        ),
        (
            "06-forwarded.eml",
            Disposition::Accepted,
            1,
            Some("accepted"),
            &["forwarded.eml/", "緊急配布要請シート.xlsx"],
        ),
        (
            "07-unknown-sender.eml",
            Disposition::Quarantined,
            0,
            None,
            &[],
        ),
        ("08-out-of-office.eml", Disposition::Ignored, 0, None, &[]),
        ("09-bounce.eml", Disposition::Ignored, 0, None, &[]),
        (
            "10-password-zip.eml",
            Disposition::Rejected,
            0,
            Some("rejected"),
            &["パスワード", ".zip"],
        ),
        (
            "11-docx.eml",
            Disposition::Rejected,
            0,
            Some("rejected"),
            &["要請内容.docx", "受付対象外", "添付されていません"],
        ),
        (
            "12-unknown-sender-authenticated.eml",
            Disposition::Quarantined,
            0,
            Some("quarantined"),
            &["iryo-shien@pref.kyoto.lg.jp", "登録されていない"],
        ),
    ];
    for (file, disposition, forms, status, words) in cases {
        let raw = sample(file);
        let out = intake.process(&raw, at).await.unwrap();
        assert_eq!(out.disposition, *disposition, "{file}");
        assert_eq!(out.receipts.len(), *forms, "{file}: {:?}", out.receipts);
        let reply = reply_of(&t.db, &out).await;
        match (status, &reply) {
            (None, None) => {}
            (Some(status), Some(r)) => {
                assert!(
                    r.contains(&format!("X-SOS-Status: {status}")),
                    "{file}:\n{r}"
                );
                assert!(r.contains("Auto-Submitted: auto-replied"), "{file}:\n{r}");
                let parsed = sos_intake::message::parse(&raw, &Default::default());
                let id = parsed.message_id.expect("samples have a Message-ID");
                assert!(r.contains(&format!("In-Reply-To: <{id}>")), "{file}:\n{r}");
                if !out.receipts.is_empty() {
                    assert!(
                        r.contains(&format!("X-SOS-Receipt: {}", out.receipts.join(", "))),
                        "{file}:\n{r}"
                    );
                    for receipt in &out.receipts {
                        assert!(r.contains(&format!("受付番号：{receipt}")), "{file}:\n{r}");
                    }
                } else {
                    assert!(!r.contains("X-SOS-Receipt"), "{file}:\n{r}");
                }
                for w in *words {
                    assert!(r.contains(w), "{file}: reply lacks {w:?}:\n{r}");
                }
            }
            (expected, got) => panic!("{file}: expected reply {expected:?}, got {got:?}"),
        }
        // Every message is kept: its raw bytes and its row.
        let kept: i64 = sqlx::query("SELECT COUNT(*) FROM mail_messages m JOIN blobs b ON b.sha256 = m.raw_sha256 WHERE m.id = $1")
            .bind(out.mail_message_id)
            .fetch_one(t.db.pool())
            .await
            .unwrap()
            .get(0);
        assert_eq!(kept, 1, "{file}");
    }
    // The quarantine list holds the two unknown senders.
    let rows = sqlx::query("SELECT from_address FROM quarantine ORDER BY mail_message_id")
        .fetch_all(t.db.pool())
        .await
        .unwrap();
    let senders: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        senders,
        vec![
            "jimu@midori-naika.example.jp",
            "iryo-shien@pref.kyoto.lg.jp"
        ]
    );
    // Every sample again: nothing new anywhere.
    let before: i64 =
        sqlx::query("SELECT (SELECT COUNT(*) FROM requests) + (SELECT COUNT(*) FROM outbox)")
            .fetch_one(t.db.pool())
            .await
            .unwrap()
            .get(0);
    for (file, ..) in cases {
        let out = intake.process(&sample(file), at).await.unwrap();
        assert_eq!(out.disposition, Disposition::AlreadyProcessed, "{file}");
    }
    let after: i64 =
        sqlx::query("SELECT (SELECT COUNT(*) FROM requests) + (SELECT COUNT(*) FROM outbox)")
            .fetch_one(t.db.pool())
            .await
            .unwrap()
            .get(0);
    assert_eq!(before, after);
});
