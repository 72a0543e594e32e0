//! The review desk's G-MIS upload and decisions in headless Chromium, as
//! an official uses them (issue 13): upload the export (UTF-8 with BOM and
//! Salesforce footer, then Shift_JIS), a broken one, confirm, open a
//! request whose prefecture answered 否. Screenshots of each page go to
//! `target/test-output/screenshots/` (desk-*.png).

mod common;

use common::browser::{Browser, PASSWORD, REVIEWER, TestApp};

fn sample() -> String {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/gmis/gmis-sos-export-salesforce.csv"
    ))
    .expect("sample export");
    String::from_utf8(bytes).expect("UTF-8 sample")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_official_uploads_gmis_exports_and_decides_from_the_prefectures_answer() {
    let app = TestApp::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let utf8 = dir.path().join("SOS要請_UTF8.csv");
    std::fs::write(&utf8, sample()).unwrap();
    let sjis = dir.path().join("SOS要請_SJIS.csv");
    let changed =
        sample()
            .trim_start_matches('\u{FEFF}')
            .replacen(",0,12000,12000,", ",0,13000,13000,", 1);
    std::fs::write(&sjis, encoding_rs::SHIFT_JIS.encode(&changed).0).unwrap();
    let broken = dir.path().join("SOS要請_壊れ.csv");
    std::fs::write(
        &broken,
        sample().replacen(",0,12000,12000,", ",0,たくさん,12000,", 1),
    )
    .unwrap();
    let base = app.base.clone();

    tokio::task::spawn_blocking(move || {
        let mut b = Browser::start();
        b.goto(&format!("{base}/login"));
        b.fill("#name", REVIEWER);
        b.fill("#password", PASSWORD);
        b.click("#login");
        b.source_when(|p| p.contains("受付一覧"));
        b.click("a[href='/gmis']");
        b.source_when(|p| p.contains("gmis-upload-form"));
        b.screenshot("desk-01-gmis-upload");

        // UTF-8 with BOM and the Salesforce footer: preview, then confirm.
        b.upload("#gmis-file", &utf8);
        b.click("#gmis-preview");
        let page = b.source_when(|p| p.contains("gmis-confirm-form"));
        assert!(page.contains("新規 15件"), "{page}");
        assert!(page.contains("Salesforceのフッター"));
        b.screenshot("desk-02-gmis-preview");
        b.click("#gmis-confirm");
        let page = b.source_when(|p| p.contains("gmis-done"));
        assert!(b.text("#gmis-done").contains("新規 15件"), "{page}");
        assert!(page.contains("gmis-recent"));
        b.screenshot("desk-03-gmis-imported");

        // Shift_JIS with one change.
        b.upload("#gmis-file", &sjis);
        b.click("#gmis-preview");
        let page = b.source_when(|p| p.contains("gmis-confirm-form"));
        assert!(
            page.contains("Shift_JIS") && page.contains("更新 1件"),
            "{page}"
        );
        b.screenshot("desk-04-gmis-preview-shift-jis");
        b.click("#gmis-confirm");
        assert!(
            b.source_when(|p| p.contains("gmis-done"))
                .contains("更新 1件")
        );

        // A broken export: the bad row with its line and column.
        b.upload("#gmis-file", &broken);
        b.click("#gmis-preview");
        let page = b.source_when(|p| p.contains("gmis-errors"));
        assert!(b.text("#gmis-errors").contains("2行目"), "{page}");
        assert!(
            b.text("#gmis-errors")
                .contains("「国の配布枚数」の値「たくさん」を読めません")
        );
        b.screenshot("desk-05-gmis-preview-broken");

        // Approve a batch as proposed: tick, check the preview, confirm.
        b.goto(&format!("{base}/queue?date=2026-11-20"));
        b.source_when(|p| p.contains("bulk-form"));
        let boxes = b.count("#queue input.pick");
        assert!(boxes >= 2, "{boxes} check boxes");
        b.click("#queue tbody tr:nth-child(1) input.pick");
        b.click("#queue tbody tr:nth-child(2) input.pick");
        b.screenshot("desk-13-queue-ticked");
        b.click("#bulk-preview");
        let page = b.source_when(|p| p.contains("bulk-confirm-form"));
        assert_eq!(b.count("#bulk tbody tr"), 2, "{page}");
        b.set_value("#bulk-ship-date", "2026-11-25");
        b.screenshot("desk-14-bulk-preview");
        b.click("#bulk-confirm");
        let page = b.source_when(|p| p.contains("bulk-done"));
        assert_eq!(b.count("#bulk td.result .badge.ok"), 2, "{page}");
        b.screenshot("desk-15-bulk-done");

        // The overview of that batch, with its links into the queue.
        b.goto(&format!("{base}/overview?date=2026-11-20"));
        let page = b.source_when(|p| p.contains("by-status"));
        assert!(page.contains("物品別の合計"));
        b.screenshot("desk-16-overview");
        b.click("#by-item tbody a");
        b.source_when(|p| p.contains("id=\"queue\""));
        assert!(b.url().contains("&item="), "{}", b.url());

        // 北斗クリニック: the prefecture said 否 for surgical masks.
        b.goto(&format!("{base}/queue?date=all&q=北斗"));
        b.click("#queue tbody a");
        b.source_when(|p| p.contains("item-surgical_mask"));
        assert_eq!(
            b.count("#item-surgical_mask input[value=refuse]:checked"),
            1,
            "否 starts on 不承認"
        );
        assert_eq!(
            b.count("#item-non_sterile_gloves input[value=approve]:checked"),
            1
        );
        let url = b.url();
        b.goto(&format!("{url}#item-surgical_mask"));
        b.screenshot("desk-06-request-prefecture-said-no");
        b.click("#item-surgical_mask .decide-submit");
        let page = b.source_when(|p| p.contains("判断を保存しました"));
        assert!(
            b.text("#history")
                .contains("サージカルマスクを不承認にしました"),
            "{page}"
        );
        b.screenshot("desk-07-history-sentences");
    })
    .await
    .expect("browser steps");
}

/// The element id of the accounts table row of `name`.
fn row_of(page: &str, name: &str) -> String {
    let at = page
        .find(&format!("class=\"name\">{name}"))
        .expect("account row");
    let start = page[..at].rfind("id=\"account-").expect("row id") + 4;
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_string()
}

/// The text of the one-time password shown once on the accounts page.
fn issued(b: &mut Browser) -> String {
    b.text("#issued-password").trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_manages_accounts_and_a_user_changes_the_password() {
    use common::browser::ADMIN;
    let app = TestApp::sqlite().await;
    let base = app.base.clone();
    tokio::task::spawn_blocking(move || {
        let mut admin = Browser::start();
        admin.goto(&format!("{base}/login"));
        admin.fill("#name", ADMIN);
        admin.fill("#password", PASSWORD);
        admin.click("#login");
        admin.source_when(|p| p.contains("アカウント管理"));

        // The overview of today's batch (empty here: it says so).
        admin.click("a[href='/overview']");
        let page = admin.source_when(|p| p.contains("分の概要"));
        assert!(page.contains("この対応日の要請はありません"));
        admin.screenshot("desk-08-overview-empty");

        // Add an account: a one-time password, shown once.
        admin.click("a[href='/admin/accounts']");
        admin.source_when(|p| p.contains("add-account"));
        admin.fill("#new-name", "新人 次郎");
        admin.click("#add");
        admin.source_when(|p| p.contains("issued-password"));
        let one_time = issued(&mut admin);
        assert_eq!(one_time.chars().count(), 16);
        admin.screenshot("desk-09-account-added");

        // The new user signs in and must choose a password first.
        let mut user = Browser::start();
        user.goto(&format!("{base}/login"));
        user.fill("#name", "新人 次郎");
        user.fill("#password", &one_time);
        user.click("#login");
        let page = user.source_when(|p| p.contains("password-form"));
        assert!(user.url().contains("/account"), "{}", user.url());
        assert!(page.contains("一時パスワードでログインしています"));
        user.fill("#current", &one_time);
        user.fill("#password", "kanri-2026-yuki");
        user.fill("#again", "kanri-2026-yuki");
        user.screenshot("desk-10-password-change");
        user.click("#change-password");
        let page = user.source_when(|p| p.contains("パスワードを変更しました"));
        assert!(page.contains("パスワードを変更しました"));
        user.goto(&format!("{base}/queue"));
        assert!(
            user.url().ends_with("/queue"),
            "free to work: {}",
            user.url()
        );

        // Disable: the user is signed out at once; re-enable.
        admin.goto(&format!("{base}/admin/accounts"));
        let row = row_of(&admin.source(), "新人 次郎");
        admin.click(&format!("#{row} button.disable"));
        let page = admin.source_when(|p| p.contains("アカウントを無効にしました"));
        assert!(page.contains("無効"));
        admin.screenshot("desk-11-account-disabled");
        user.goto(&format!("{base}/queue"));
        assert!(user.url().contains("/login"), "signed out: {}", user.url());
        admin.click(&format!("#{row} button.enable"));
        admin.source_when(|p| p.contains("アカウントを有効にしました"));
        let audit = admin.text("#account-audit");
        assert!(
            audit.contains("アカウント「新人 次郎」を無効にしました。"),
            "{audit}"
        );
        assert!(audit.contains("アカウント「新人 次郎」を有効にしました。"));
        admin.screenshot("desk-12-account-audit");
        user.fill("#name", "新人 次郎");
        user.fill("#password", "kanri-2026-yuki");
        user.click("#login");
        user.source_when(|p| p.contains("受付一覧"));
        assert!(user.url().ends_with("/queue"), "{}", user.url());
    })
    .await
    .expect("browser steps");
}
