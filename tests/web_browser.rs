//! The review desk in headless Chromium, as an official uses it: sign in,
//! filter the day's batch, decide an item, 受付完了, download the 配送先リスト.
//! Screenshots of each step go to `target/test-output/screenshots/`.

mod common;

use chrono::Utc;
use common::browser::{self, Browser, PASSWORD, REVIEWER, TestApp};
use sos_intake::calendar::CutoffRule;
use sos_intake::web::queue_page::todays_batch;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_official_signs_in_filters_decides_completes_and_exports() {
    let app = TestApp::sqlite().await;
    let today = todays_batch(CutoffRule::Daily13, Utc::now());
    let id = browser::file(
        &app,
        &browser::sample_filing("みどり内科クリニック", "1312345679", today, Utc::now()),
    )
    .await;
    browser::file(
        &app,
        &browser::sample_filing("あおば病院", "1398765432", today, Utc::now()),
    )
    .await;
    let base = app.base.clone();
    let ship_date = (today + chrono::Duration::days(3)).to_string();

    let downloaded = tokio::task::spawn_blocking(move || {
        let mut b = Browser::start();
        // Not signed in: the queue sends us to the sign-in page.
        b.goto(&format!("{base}/queue"));
        assert!(b.url().contains("/login"), "{}", b.url());
        b.screenshot("01-login");
        b.fill("#name", REVIEWER);
        b.fill("#password", PASSWORD);
        b.click("#login");
        let page = b.source_when(|p| p.contains("あおば病院"));
        assert!(b.url().ends_with("/queue"), "{}", b.url());
        assert!(
            page.contains("本日分")
                && page.contains("みどり内科クリニック")
                && page.contains("あおば病院")
        );
        assert!(page.contains("警告 1"), "warnings visible at a glance");
        b.screenshot("02-queue");

        // Filter by institution name.
        b.fill("#f-q", "みどり");
        b.click("#f-submit");
        let page = b.source_when(|p| !p.contains("あおば病院"));
        assert!(page.contains("みどり内科クリニック") && !page.contains("あおば病院"));
        b.screenshot("03-filtered");

        // Open the request and approve the gloves.
        b.click("#queue tbody a");
        b.source_when(|p| p.contains("item-non_sterile_gloves"));
        // The link carries the list's filters (前の要請 / 次の要請, issue 13.4).
        assert!(
            b.url().contains(&format!("/requests/{id}?date=")),
            "{}",
            b.url()
        );
        assert_eq!(b.count("form.decide"), 1);
        b.fill("#item-non_sterile_gloves input[name=quantity]", "4000");
        b.set_value("#item-non_sterile_gloves input[name=ship_date]", &ship_date);
        b.click("#item-non_sterile_gloves .decide-submit");
        assert!(
            b.source_when(|p| p.contains("判断を保存しました"))
                .contains("判断を保存しました")
        );
        b.screenshot("04-decided");

        // 受付完了: read-only afterwards.
        b.click("#complete");
        let page = b.source_when(|p| p.contains("受付完了にしました"));
        assert!(page.contains("受付完了にしました"));
        assert!(b.text("#readonly").contains("変更できません"));
        assert_eq!(
            b.count("form.decide"),
            0,
            "no decision forms on a 受付完了 record"
        );
        assert_eq!(b.count("#complete"), 0);
        b.screenshot("05-completed");

        // Export the 配送先リスト from the queue page.
        b.goto(&format!("{base}/queue"));
        b.click("#export-xlsx");
        let file = b
            .wait_for_download(".xlsx")
            .expect("the 配送先リスト downloads");
        std::fs::read(file).expect("read download")
    })
    .await
    .expect("browser steps");

    assert!(downloaded.starts_with(b"PK"), "an .xlsx (zip) file");
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(downloaded)).unwrap();
    let range = wb.worksheet_range("配送先リスト").unwrap();
    assert_eq!(
        range.get_value((3, 2)).map(|v| v.to_string()).as_deref(),
        Some("みどり内科クリニック")
    );
    assert_eq!(
        range.get_value((3, 9)).map(|v| v.to_string()).as_deref(),
        Some("4000")
    );

    let mut conn = app.test_db.db.pool().acquire().await.unwrap();
    let record = sos_intake::queue::get(&mut conn, id).await.unwrap();
    assert_eq!(record.status.as_str(), "受付完了");
    assert_eq!(record.completed_by.as_deref(), Some(REVIEWER));
}
