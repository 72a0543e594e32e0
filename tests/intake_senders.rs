//! Senders are authenticated, not just named (issue 11, point 5), through
//! the whole pipeline on SQLite and PostgreSQL: a registered prefecture
//! address is trusted only when our own MTA's Authentication-Results (above
//! every Received line) vouch for it. Forged ones are quarantined, never
//! answered and never supersede; the genuine one is filed and answered at
//! its From address; an admin's release files a quarantined mail with its
//! original receipt time and counts as vouched for.

mod common;

use chrono::{DateTime, FixedOffset};
use common::browser::{ADMIN, TOKYO_ADDRESS, TestApp};
use common::db::count;
use sos_intake::config::{Config, Settings};
use sos_intake::pipeline::{Disposition, Intake, Outcome};
use sos_intake::prefecture::Prefecture;
use sqlx::Row;
use std::path::Path;

/// 東京都 registered, our MTA's authserv-id set: `sender_auth` is
/// `required` by default.
const CONFIG: &str = r#"
sos_address = "sos-busshi@mhlw.go.jp"
[prefectures]
"東京都" = ["sos@fukushi.metro.tokyo.lg.jp"]
[mail]
authserv_id = "mx.mhlw.go.jp"
reply_rate_limit_per_hour = 100
"#;

/// Our MTA's verdict for a genuine mail of 東京都, as it writes it.
const GENUINE: &str = "Authentication-Results: mx.mhlw.go.jp;\r\n\tspf=pass smtp.mailfrom=sos@fukushi.metro.tokyo.lg.jp;\r\n\tdkim=pass header.d=fukushi.metro.tokyo.lg.jp header.s=lgwan;\r\n\tdmarc=pass header.from=fukushi.metro.tokyo.lg.jp";

/// The Received line our MTA prepends to what the sender wrote.
const RECEIVED: &str = "Received: from mail.sender.example (mail.sender.example [192.0.2.9])\r\n\tby mx.mhlw.go.jp (Postfix) with ESMTPS id 4Q100000\r\n\tfor <sos-busshi@mhlw.go.jp>; Tue, 24 Nov 2026 10:00:00 +0900";

/// Where a forger wants the answer to go.
const ATTACKER: &str = "attacker@evil.example";

fn settings(text: &str, dir: &Path) -> Settings {
    Settings::resolve(
        Config::parse(text).expect("test config"),
        Some(dir.to_path_buf()),
    )
}

fn intake(t: &common::db::TestDb, text: &str) -> Intake {
    Intake::new(t.db.clone(), &settings(text, &t.data_dir())).unwrap()
}

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).expect("time")
}

/// A mail From 東京都's registered address carrying the valid sample sheet:
/// `trace` are the delivery headers in order, top first; `extra` the
/// sender's own headers (a Reply-To).
fn mail(trace: &[&str], id: &str, extra: &[&str]) -> Vec<u8> {
    use base64::Engine;
    let sheet = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples/sheets")
            .join("valid.xlsx"),
    )
    .expect("sample sheet");
    let mut out = String::new();
    for h in trace.iter().chain(extra) {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str(&format!(
        "From: =?UTF-8?B?5p2x5Lqs6YO9?= <{TOKYO_ADDRESS}>\r\nTo: sos-busshi@mhlw.go.jp\r\nSubject: request\r\nDate: Tue, 24 Nov 2026 09:00:00 +0900\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nsheet attached\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"sheet.xlsx\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        base64::engine::general_purpose::STANDARD.encode(sheet)
    ));
    out.into_bytes()
}

/// Authentication-Results of our authserv-id with `verdicts`.
fn ours(verdicts: &str) -> String {
    format!("Authentication-Results: mx.mhlw.go.jp; {verdicts}")
}

/// Every way a forger can dress a registered From: (name, trace).
fn forgeries() -> Vec<(&'static str, Vec<String>)> {
    let tokyo = "fukushi.metro.tokyo.lg.jp";
    vec![
        ("no Authentication-Results", vec![RECEIVED.into()]),
        (
            "foreign authserv-id",
            vec![
                format!(
                    "Authentication-Results: mx.evil.example; spf=pass smtp.mailfrom=sos@{tokyo}; dkim=pass header.d={tokyo}; dmarc=pass header.from={tokyo}"
                ),
                RECEIVED.into(),
            ],
        ),
        (
            "our header below a Received line",
            vec![RECEIVED.into(), GENUINE.into()],
        ),
        (
            "no Received line at all (never through our MTA)",
            vec![GENUINE.into()],
        ),
        (
            "SPF pass for another domain",
            vec![
                ours("spf=pass smtp.mailfrom=bounce@evil.example; dkim=none"),
                RECEIVED.into(),
            ],
        ),
        (
            "DMARC fail",
            vec![
                ours(&format!(
                    "spf=fail smtp.mailfrom=sos@{tokyo}; dkim=fail header.d={tokyo}; dmarc=fail header.from={tokyo}"
                )),
                RECEIVED.into(),
            ],
        ),
        (
            "DMARC fail over a relaxed SPF pass",
            vec![
                ours(&format!(
                    "spf=pass smtp.mailfrom=bounce@mail.{tokyo}; dmarc=fail (p=reject aspf=s) header.from={tokyo}"
                )),
                RECEIVED.into(),
            ],
        ),
        (
            "DMARC pass for another header.from",
            vec![
                ours("spf=none; dmarc=pass header.from=evil.example"),
                RECEIVED.into(),
            ],
        ),
        (
            "DKIM pass for an unaligned d=",
            vec![
                ours("spf=softfail smtp.mailfrom=evil.example; dkim=pass header.d=evil.example"),
                RECEIVED.into(),
            ],
        ),
    ]
}

async fn receive(intake: &Intake, raw: &[u8], time: &str) -> Outcome {
    intake.process(raw, at(time)).await.unwrap()
}

/// Every recipient in the outbox.
async fn recipients(db: &sos_intake::queue::Db) -> Vec<String> {
    sqlx::query("SELECT recipient FROM outbox ORDER BY id")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect()
}

/// (superseded_by, sender_auth, received_at) of the record `receipt`.
async fn record(db: &sos_intake::queue::Db, receipt: &str) -> (Option<i64>, String, String) {
    let row = sqlx::query(
        "SELECT superseded_by, sender_auth, received_at FROM requests WHERE receipt = $1",
    )
    .bind(receipt)
    .fetch_one(db.pool())
    .await
    .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

async fn id_of(db: &sos_intake::queue::Db, receipt: &str) -> i64 {
    sqlx::query("SELECT id FROM requests WHERE receipt = $1")
        .bind(receipt)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0)
}

both_backends!(
    forged_registered_senders_are_quarantined_unanswered_and_never_supersede,
    |t| {
        let intake = intake(&t, CONFIG);
        let genuine = receive(
            &intake,
            &mail(&[GENUINE, RECEIVED], "genuine@tokyo", &[]),
            "2026-11-24T10:00:00+09:00",
        )
        .await;
        assert_eq!(genuine.disposition, Disposition::Accepted, "{genuine:?}");
        let receipt = genuine.receipts[0].clone();

        let forgeries = forgeries();
        for (n, (what, trace)) in forgeries.iter().enumerate() {
            let trace: Vec<&str> = trace.iter().map(String::as_str).collect();
            let raw = mail(
                &trace,
                &format!("forged-{n}@evil.example"),
                &[&format!("Reply-To: <{ATTACKER}>")],
            );
            let out = receive(&intake, &raw, "2026-11-24T10:30:00+09:00").await;
            assert_eq!(out.disposition, Disposition::Quarantined, "{what}: {out:?}");
            assert!(out.receipts.is_empty(), "{what}: filed {out:?}");
            assert_eq!(out.reply, None, "{what}: answered");
            assert!(
                out.reply_note.contains("not authenticated"),
                "{what}: {}",
                out.reply_note
            );
            let row =
                sqlx::query("SELECT kind, prefecture FROM quarantine WHERE mail_message_id = $1")
                    .bind(out.mail_message_id)
                    .fetch_one(t.db.pool())
                    .await
                    .unwrap();
            assert_eq!(row.get::<String, _>(0), "unauthenticated_sender", "{what}");
            assert_eq!(
                row.get::<Option<String>, _>(1).as_deref(),
                Some("東京都"),
                "{what}"
            );
        }

        // Only the genuine sheet is filed, still current, and only it was
        // answered, at its From address.
        assert_eq!(count(&t.db, "SELECT COUNT(*) FROM requests").await, 1);
        let (superseded_by, trust, _) = record(&t.db, &receipt).await;
        assert_eq!(
            superseded_by, None,
            "a forged mail superseded the genuine sheet"
        );
        assert_eq!(trust, "authenticated");
        assert_eq!(recipients(&t.db).await, vec![TOKYO_ADDRESS.to_string()]);
        assert_eq!(
            count(&t.db, "SELECT COUNT(*) FROM quarantine").await,
            forgeries.len() as i64
        );
    }
);

both_backends!(
    genuine_resend_supersedes_and_is_answered_at_its_from_only,
    |t| {
        let intake = intake(&t, CONFIG);
        let first = receive(
            &intake,
            &mail(&[GENUINE, RECEIVED], "first@tokyo", &[]),
            "2026-11-24T10:00:00+09:00",
        )
        .await;
        // The resend names another Reply-To: the reply still goes to the From
        // our MTA authenticated.
        let second = receive(
            &intake,
            &mail(
                &[GENUINE, RECEIVED],
                "second@tokyo",
                &["Reply-To: =?UTF-8?B?5ouF5b2T?= <tantou@other.example>"],
            ),
            "2026-11-24T10:30:00+09:00",
        )
        .await;
        assert_eq!(second.disposition, Disposition::Accepted, "{second:?}");
        let (superseded_by, _, _) = record(&t.db, &first.receipts[0]).await;
        assert_eq!(
            superseded_by,
            Some(id_of(&t.db, &second.receipts[0]).await),
            "an authenticated resend replaces the authenticated sheet"
        );
        assert_eq!(
            recipients(&t.db).await,
            vec![TOKYO_ADDRESS.to_string(), TOKYO_ADDRESS.to_string()]
        );
    }
);

both_backends!(
    a_released_mail_is_filed_at_its_original_time_and_counts_as_vouched,
    |t| {
        let intake = intake(&t, CONFIG);
        let genuine = receive(
            &intake,
            &mail(&[GENUINE, RECEIVED], "genuine@tokyo", &[]),
            "2026-11-24T10:00:00+09:00",
        )
        .await;
        // A real official whose mail server does not sign: quarantined.
        let unsigned = receive(
            &intake,
            &mail(
                &[RECEIVED],
                "unsigned@tokyo",
                &[&format!("Reply-To: <{ATTACKER}>")],
            ),
            "2026-11-24T11:00:00+09:00",
        )
        .await;
        assert_eq!(unsigned.disposition, Disposition::Quarantined);
        assert_eq!(unsigned.reply, None);

        // The admin telephoned the prefecture and releases it, the next day.
        let state =
            sos_intake::web::AppState::new(settings(CONFIG, &t.data_dir()), t.db.clone()).unwrap();
        let tokyo = Prefecture::parse("東京都").unwrap();
        let released = sos_intake::web::quarantine::release(
            &state,
            unsigned.mail_message_id.expect("recorded"),
            "admin",
            tokyo,
            false,
        )
        .await
        .unwrap();
        let out = released.outcome;
        assert_eq!(out.disposition, Disposition::Accepted, "{out:?}");
        let receipt = out.receipts[0].clone();
        let (_, trust, received_at) = record(&t.db, &receipt).await;
        assert_eq!(trust, "vouched");
        assert_eq!(
            received_at, "2026-11-24T02:00:00.000000Z",
            "filed with the original receipt time"
        );
        // Receipt numbers come from the receipt time too.
        assert!(receipt.contains("20261124"), "{receipt}");
        // Vouched for by a person: it replaces the earlier authenticated
        // sheet, and is answered at its From (never the Reply-To).
        let (superseded_by, _, _) = record(&t.db, &genuine.receipts[0]).await;
        assert_eq!(superseded_by, Some(id_of(&t.db, &receipt).await));
        assert!(out.reply.is_some());
        assert_eq!(
            recipients(&t.db).await,
            vec![TOKYO_ADDRESS.to_string(), TOKYO_ADDRESS.to_string()]
        );
        // And a later authenticated resend replaces the released sheet.
        let later = receive(
            &intake,
            &mail(&[GENUINE, RECEIVED], "later@tokyo", &[]),
            "2026-11-24T12:00:00+09:00",
        )
        .await;
        let (superseded_by, _, _) = record(&t.db, &receipt).await;
        assert_eq!(superseded_by, Some(id_of(&t.db, &later.receipts[0]).await));
    }
);

both_backends!(
    with_sender_auth_off_the_directory_files_but_nothing_supersedes,
    |t| {
        let off = "[prefectures]\n\"東京都\" = [\"sos@fukushi.metro.tokyo.lg.jp\"]\n[mail]\nauthserv_id = \"mx.mhlw.go.jp\"\nsender_auth = \"off\"\n";
        let intake = intake(&t, off);
        let first = receive(
            &intake,
            &mail(&[RECEIVED], "off-1@tokyo", &[]),
            "2026-11-24T10:00:00+09:00",
        )
        .await;
        let second = receive(
            &intake,
            &mail(&[RECEIVED], "off-2@tokyo", &[]),
            "2026-11-24T10:30:00+09:00",
        )
        .await;
        assert_eq!(first.disposition, Disposition::Accepted);
        assert_eq!(second.disposition, Disposition::Accepted);
        assert!(first.reply.is_some() && second.reply.is_some());
        for receipt in [&first.receipts[0], &second.receipts[0]] {
            let (superseded_by, trust, _) = record(&t.db, receipt).await;
            assert_eq!(superseded_by, None, "unchecked mail never supersedes");
            assert_eq!(trust, "unchecked");
        }
        // An authenticated mail does not replace an unchecked one either.
        let genuine = receive(
            &intake,
            &mail(&[GENUINE, RECEIVED], "genuine@tokyo", &[]),
            "2026-11-24T11:00:00+09:00",
        )
        .await;
        assert_eq!(record(&t.db, &genuine.receipts[0]).await.1, "authenticated");
        assert_eq!(record(&t.db, &second.receipts[0]).await.0, None);
    }
);

/// The staff list says why each mail is held, and the release form offers
/// the prefecture the address is registered for.
async fn quarantine_list_tells_forged_from_unknown(app: TestApp) {
    let t = &app.test_db;
    let intake = Intake::new(t.db.clone(), &settings(CONFIG, &t.data_dir())).unwrap();
    let forged = receive(
        &intake,
        &mail(&[RECEIVED], "list-forged@tokyo", &[]),
        "2026-11-24T11:00:00+09:00",
    )
    .await;
    let unknown = mail(&[RECEIVED], "list-unknown@clinic", &[]);
    let unknown = String::from_utf8(unknown)
        .unwrap()
        .replace(TOKYO_ADDRESS, "jimu@midori-naika.example.jp");
    let unknown = receive(&intake, unknown.as_bytes(), "2026-11-24T11:05:00+09:00").await;
    assert_eq!(forged.disposition, Disposition::Quarantined);
    assert_eq!(unknown.disposition, Disposition::Quarantined);

    let (mut admin, csrf) = app.signed_in(ADMIN).await;
    let page = admin.get("/admin/quarantine").await.text();
    let rows: Vec<&str> = page.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 2, "{page}");
    let forged_row = rows
        .iter()
        .find(|r| r.contains(TOKYO_ADDRESS))
        .expect("the forged mail is listed");
    let unknown_row = rows
        .iter()
        .find(|r| r.contains("jimu@midori-naika.example.jp"))
        .expect("the unknown sender is listed");
    assert!(
        forged_row.contains("q-kind-unauthenticated_sender")
            && forged_row.contains("登録済みの都道府県アドレスですが、送信元の認証（SPF"),
        "{forged_row}"
    );
    assert!(
        forged_row.contains("<option value=\"東京都\" selected>"),
        "{forged_row}"
    );
    assert!(
        unknown_row.contains("q-kind-unknown_sender")
            && unknown_row.contains("都道府県の登録アドレスにない送信元です")
            && !unknown_row.contains("送信元の認証"),
        "{unknown_row}"
    );

    // Released through the UI: filed with its original receipt time.
    let resp = admin
        .post_form(
            &format!(
                "/admin/quarantine/{}/release",
                forged.mail_message_id.expect("recorded")
            ),
            &[("csrf", &csrf), ("prefecture", "東京都")],
        )
        .await;
    assert_eq!(resp.status, 303, "{}", resp.text());
    let row = sqlx::query("SELECT received_at, sender_auth FROM requests")
        .fetch_one(t.db.pool())
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>(0), "2026-11-24T02:00:00.000000Z");
    assert_eq!(row.get::<String, _>(1), "vouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_list_tells_forged_from_unknown_sqlite() {
    quarantine_list_tells_forged_from_unknown(TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_list_tells_forged_from_unknown_postgres() {
    quarantine_list_tells_forged_from_unknown(TestApp::postgres().await).await;
}

// The queue's rule on its own: a filing supersedes an earlier sheet only
// when both senders were authenticated or vouched for, and of the same
// prefecture.
both_backends!(
    supersession_needs_trusted_filings_of_the_same_prefecture,
    |t| {
        use common::db::sheet_filing;
        use sos_intake::mailbox::senders::SenderTrust;
        use sos_intake::queue;
        use sos_intake::request::Item;
        let gloves = &[Item::NonSterileGloves];
        let code = "1310000014";
        let filing = |n: u32, trust: SenderTrust, prefecture: &str| {
            let mut f = sheet_filing(
                code,
                gloves,
                &format!("2026-11-20T09:{n:02}:00+09:00"),
                "2026-11-20",
                &format!("v{n}"),
            );
            f.sender_trust = trust;
            f.prefecture = Prefecture::parse(prefecture).unwrap();
            f
        };
        let mut tx = t.db.begin().await.unwrap();
        let mut file =
            async |f: sos_intake::queue::SheetFiling| queue::file_sheet(&mut tx, &f).await.unwrap();
        let genuine = file(filing(1, SenderTrust::Authenticated, "東京都")).await;
        // Unchecked mail (sender_auth = "off") replaces nothing...
        let unchecked = file(filing(2, SenderTrust::Unchecked, "東京都")).await;
        assert!(unchecked.superseded.is_empty(), "{unchecked:?}");
        // ...an authenticated sender of another prefecture neither...
        let other = file(filing(3, SenderTrust::Authenticated, "大阪府")).await;
        assert!(other.superseded.is_empty(), "{other:?}");
        assert_eq!(other.status, sos_intake::request::Status::UnderReview);
        // ...and an authenticated resend of the same prefecture replaces
        // only the authenticated sheet, not the unchecked one.
        let resend = file(filing(4, SenderTrust::Authenticated, "東京都")).await;
        assert_eq!(resend.superseded, vec![genuine.receipt.clone()]);
        // Staff's hand filing (vouched) replaces the authenticated resend.
        let by_hand = file(filing(5, SenderTrust::Vouched, "東京都")).await;
        assert_eq!(by_hand.superseded, vec![resend.receipt.clone()]);
        tx.commit().await.unwrap();
    }
);

/// `serve` says at every start when the directory alone decides, and only
/// then.
#[test]
fn serve_warns_at_start_up_when_sender_auth_is_off() {
    let run = |mail: &str| {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join("sos-intake.toml");
        std::fs::write(
            &cfg,
            format!(
                "data_dir = \"{}\"\n[prefectures]\n\"東京都\" = [\"{TOKYO_ADDRESS}\"]\n[mail]\n{mail}\n[web]\nenabled = false\n",
                tmp.path().join("data").display()
            ),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sos-intake"))
            .arg("--config")
            .arg(&cfg)
            .args(["serve", "--once", "--no-send"])
            .env_remove("SOS_INTAKE_DATABASE_URL")
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let warning = "sender_auth is off";
    assert!(run("").contains(warning));
    assert!(run("authserv_id = \"mx.mhlw.go.jp\"\nsender_auth = \"off\"").contains(warning));
    assert!(!run("authserv_id = \"mx.mhlw.go.jp\"").contains(warning));
}
