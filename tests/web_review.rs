//! The review desk's work over real HTTP, on SQLite and PostgreSQL: decide,
//! 受付完了 with its 内示 mail, read-only afterwards, batch moves, filters,
//! exports, and the `users` command.

mod common;

use chrono::{NaiveDate, Utc};
use common::browser::{self, REVIEWER, TOKYO_ADDRESS, TestApp};
use sos_intake::queue;

fn batch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

async fn decide_complete_and_export(app: TestApp) {
    let id = browser::file(
        &app,
        &browser::sample_filing("みどり内科クリニック", "1312345679", batch(), Utc::now()),
    )
    .await;
    let other = browser::file(
        &app,
        &browser::sample_filing("あおば病院", "1398765432", batch(), Utc::now()),
    )
    .await;
    let (mut http, csrf) = app.signed_in(REVIEWER).await;

    // The request page shows the parsed values and the finding beside the item.
    let page = http.get(&format!("/requests/{id}")).await.text();
    assert!(page.contains("みどり内科クリニック") && page.contains("初回。卸の欠品で調達不可。"));
    let item_panel = &page[page.find("id=\"item-non_sterile_gloves\"").unwrap()..];
    assert!(
        item_panel.contains("総配布枚数が目安（4000枚）と異なります"),
        "finding next to its item"
    );
    assert!(
        page.contains("/items/non_sterile_gloves/decision"),
        "decision form while under review"
    );

    // 受付完了 before deciding is refused with the reason.
    let early = http
        .post_form(&format!("/requests/{id}/complete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(early.status, 422);
    assert!(early.text().contains("非滅菌手袋"));

    // A refusal needs a reason; then approve.
    let path = format!("/requests/{id}/items/non_sterile_gloves/decision");
    let no_reason = http
        .post_form(
            &path,
            &[("csrf", &csrf), ("decision", "refuse"), ("reason", "")],
        )
        .await;
    assert_eq!(no_reason.status, 422);
    let ok = http
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("decision", "approve"),
                ("quantity", "4000"),
                ("ship_date", "2026-11-25"),
                ("reason", "目安どおり"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.text());
    let done = http
        .post_form(&format!("/requests/{id}/complete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(done.status, 303, "{}", done.text());

    // Read-only: no forms, and the server refuses a decision anyway.
    let page = http.get(&format!("/requests/{id}")).await.text();
    assert!(page.contains("受付完了") && page.contains("この要請は変更できません"));
    assert!(
        !page.contains("/decision\""),
        "no decision form on a 受付完了 record"
    );
    assert!(!page.contains("/complete\""), "no 受付完了 button");
    assert!(!page.contains("/batch\""), "no batch move form");
    let late = http
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("decision", "refuse"),
                ("reason", "やっぱり"),
            ],
        )
        .await;
    assert_eq!(late.status, 409);
    let moved = http
        .post_form(
            &format!("/requests/{id}/batch"),
            &[
                ("csrf", &csrf),
                ("batch_date", "2026-11-24"),
                ("reason", "x"),
            ],
        )
        .await;
    assert_eq!(moved.status, 409);

    {
        let mut conn = app.test_db.db.pool().acquire().await.unwrap();
        let record = queue::get(&mut conn, id).await.unwrap();
        assert_eq!(record.status.as_str(), "受付完了");
        let gloves = record.lines.iter().find(|l| l.requested).unwrap();
        assert_eq!(
            (gloves.mhlw.approved, gloves.mhlw.quantity),
            (Some(true), Some(4000))
        );
        assert_eq!(record.completed_by.as_deref(), Some(REVIEWER));
        let actors: Vec<_> = record
            .history
            .iter()
            .filter(|h| h.action == "decided" || h.action == "completed")
            .map(|h| h.actor.as_str())
            .collect();
        assert_eq!(
            actors,
            vec![REVIEWER, REVIEWER],
            "decisions are audited with the user's name"
        );
        // The 内示 went to the prefecture's outbox with ship date and quantity.
        let mails = sos_intake::outbox::list(&mut conn).await.unwrap();
        let naiji: Vec<_> = mails.iter().filter(|m| m.kind == "naiji").collect();
        assert_eq!(naiji.len(), 1);
        assert_eq!(naiji[0].recipient, TOKYO_ADDRESS);
        let raw = sos_intake::outbox::raw(&mut conn, naiji[0].id)
            .await
            .unwrap()
            .unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let body = parsed.body_text(0).unwrap().to_string();
        assert!(
            body.contains("・非滅菌手袋：承認　配布数 4,000枚　送付日 2026年11月25日（水）"),
            "the 内示 in the date and number style of every other mail: {body}"
        );
        assert!(body.contains("対応日　　：2026年11月20日（金）"), "{body}");
        assert!(
            parsed
                .subject()
                .unwrap_or_default()
                .contains(&record.receipt)
        );
    }

    // Move the other record to another batch, with its reason in the history.
    let moved = http
        .post_form(
            &format!("/requests/{other}/batch"),
            &[
                ("csrf", &csrf),
                ("batch_date", "2026-11-19"),
                ("reason", "院内感染のため電話連絡あり"),
            ],
        )
        .await;
    assert_eq!(moved.status, 303, "{}", moved.text());
    let listing = http.get("/queue?date=2026-11-19").await.text();
    assert!(listing.contains("あおば病院") && !listing.contains("みどり内科クリニック"));
    let page = http.get(&format!("/requests/{other}")).await.text();
    assert!(page.contains("院内感染のため電話連絡あり") && page.contains(REVIEWER));

    // Filters: status and search.
    let listing = http
        .get("/queue?date=2026-11-20&status=%E5%8F%97%E4%BB%98%E5%AE%8C%E4%BA%86")
        .await
        .text();
    assert!(listing.contains("みどり内科クリニック"));
    let listing = http
        .get("/queue?date=all&q=%E3%81%82%E3%81%8A%E3%81%B0")
        .await
        .text();
    assert!(listing.contains("あおば病院") && !listing.contains("みどり内科クリニック"));
    let listing = http.get("/queue?date=all&source=g-mis").await.text();
    assert!(!listing.contains("あおば病院"), "source filter");

    // Exports: only the 受付完了, approved line.
    let csv = http.get("/exports/delivery.csv?date=2026-11-20").await;
    assert_eq!(csv.status, 200);
    let text = csv.text();
    assert!(text.starts_with('\u{feff}'), "BOM for Excel");
    let lines: Vec<_> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("受付番号,都道府県,医療機関名,医療機関コード,住所,郵便番号,電話番号,担当者名,物品,配布数,配布方法,送付日"));
    assert!(lines[1].contains("みどり内科クリニック,1312345679,東京都新宿区西新宿2-8-1,160-0023,03-1234-5678,衛生 一郎,非滅菌手袋,4000,国による直送,2026-11-25"), "{}", lines[1]);
    let xlsx = http.get("/exports/delivery.xlsx?date=2026-11-20").await;
    assert_eq!(xlsx.status, 200);
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.body.clone())).unwrap();
    use calamine::Reader;
    let range = wb.worksheet_range("配送先リスト").unwrap();
    let cell = |r: u32, c: u32| {
        range
            .get_value((r, c))
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    assert_eq!(cell(2, 2), "医療機関名");
    assert_eq!(cell(3, 2), "みどり内科クリニック");
    assert_eq!(cell(3, 3), "1312345679");
    assert_eq!(cell(3, 9), "4000");
    assert_eq!(cell(4, 2), "", "one approved line only");
    let summary = http
        .get("/exports/summary.csv?date=2026-11-20")
        .await
        .text();
    assert!(summary.contains("東京都,1,0,0,0,0,4000,4000"), "{summary}");
    let bad = http.get("/exports/delivery.csv?date=yesterday").await;
    assert_eq!(bad.status, 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decide_complete_and_export_on_sqlite() {
    decide_complete_and_export(TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decide_complete_and_export_on_postgres() {
    decide_complete_and_export(TestApp::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_add_reads_a_piped_password_and_the_account_signs_in() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sos-intake"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env_remove("SOS_INTAKE_DATABASE_URL")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(
        &["users", "add", "山田", "--role", "admin"],
        "s3cret-pass\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("山田"));
    let short = run(&["users", "add", "短い", "--role", "reviewer"], "abc\n");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("8文字以上"));
    let bad_role = run(&["users", "add", "x", "--role", "root"], "s3cret-pass\n");
    assert!(!bad_role.status.success());
    let list = run(&["users", "list"], "");
    let listed = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(
        listed.contains("山田\tadmin") && !listed.contains("短い"),
        "{listed}"
    );

    let url = format!("sqlite://{}/sos-intake.db", dir.path().display());
    let db = sos_intake::queue::Db::connect(&url).await.unwrap();
    let mut conn = db.pool().acquire().await.unwrap();
    use sos_intake::web::auth;
    assert!(
        auth::authenticate(&mut conn, "山田", "s3cret-pass")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        auth::authenticate(&mut conn, "山田", "s3cret-pasS")
            .await
            .unwrap()
            .is_none()
    );
    let stored: (String,) =
        sqlx::query_as("SELECT password_hash FROM web_users WHERE name = '山田'")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert!(
        stored.0.starts_with("$argon2"),
        "argon2 hash, never the password"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superseded_versions_are_linked_and_the_replaced_one_cannot_be_decided() {
    let app = TestApp::sqlite().await;
    let old = browser::file(
        &app,
        &browser::sample_filing("さくら病院", "1311111116", batch(), Utc::now()),
    )
    .await;
    let new = browser::file(
        &app,
        &browser::sample_filing("さくら病院", "1311111116", batch(), Utc::now()),
    )
    .await;
    assert_ne!(old, new);
    let (mut http, csrf) = app.signed_in(REVIEWER).await;
    let page = http.get(&format!("/requests/{new}")).await.text();
    assert!(
        page.contains("差し替え前") && page.contains(&format!("/requests/{old}\"")),
        "the new version links the old one"
    );
    let page = http.get(&format!("/requests/{old}")).await.text();
    assert!(page.contains("差し替えられました") && page.contains(&format!("/requests/{new}\"")));
    assert!(
        !page.contains("/decision\""),
        "no decision form on a replaced version"
    );
    let resp = http
        .post_form(
            &format!("/requests/{old}/items/non_sterile_gloves/decision"),
            &[
                ("csrf", &csrf),
                ("decision", "approve"),
                ("quantity", "10"),
                ("ship_date", "2026-11-25"),
            ],
        )
        .await;
    assert_eq!(resp.status, 409);
    let listing = http.get("/queue?date=2026-11-20").await.text();
    assert!(
        // Queue links carry the list's filters (issue 13.4).
        listing.contains(&format!("/requests/{new}?date=2026-11-20\""))
            && !listing.contains(&format!("/requests/{old}?"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_reply_is_listed_and_resent() {
    let app = TestApp::sqlite().await;
    let id = {
        let mut conn = app.test_db.db.pool().acquire().await.unwrap();
        let mail = sos_intake::outbox::OutgoingMail {
            kind: "reply".into(),
            mail_message_id: None,
            envelope_from: "sos-busshi@mhlw.go.jp".into(),
            recipient: "nobody@pref.example.lg.jp".into(),
            subject: "【受付】テスト".into(),
            message_id: "x@mhlw.go.jp".into(),
            raw: b"Subject: test\r\n\r\nbody".to_vec(),
        };
        let id = sos_intake::outbox::enqueue(&mut conn, &mail).await.unwrap();
        sqlx::query("UPDATE outbox SET status = 'failed', attempts = 3, last_response = '550 5.1.1 no such user' WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await
            .unwrap();
        id
    };
    let (mut http, csrf) = app.signed_in(REVIEWER).await;
    let page = http.get("/outbox").await.text();
    let failed = &page[page.find("id=\"failed\"").unwrap()..page.find("id=\"recent\"").unwrap()];
    assert!(
        failed.contains("nobody@pref.example.lg.jp") && failed.contains("550 5.1.1 no such user")
    );
    assert!(failed.contains(&format!("/outbox/{id}/resend")));
    let resp = http
        .post_form(&format!("/outbox/{id}/resend"), &[("csrf", &csrf)])
        .await;
    assert_eq!(resp.status, 303);
    let mut conn = app.test_db.db.pool().acquire().await.unwrap();
    let entry = sos_intake::outbox::list(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.id == id)
        .unwrap();
    assert_eq!(entry.status, sos_intake::outbox::Status::Queued);
    assert_eq!(entry.attempts, 0);
    let recent = sos_intake::queue::audit::recent(&mut conn, 5)
        .await
        .unwrap();
    assert!(
        recent
            .iter()
            .any(|h| h.action == "outbox_resent" && h.actor == REVIEWER)
    );
    drop(conn);
    // Only failed mail can be resent.
    assert_eq!(
        http.post_form(&format!("/outbox/{id}/resend"), &[("csrf", &csrf)])
            .await
            .status,
        404
    );
}
