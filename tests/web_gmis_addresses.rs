//! Delivery addresses from a G-MIS institution list (issue 13.8) over real
//! HTTP, on SQLite and PostgreSQL: an admin uploads the list (Shift_JIS,
//! header variants, Salesforce footer), the preview lists the requests it
//! completes (by code, else by name within the prefecture), confirming
//! completes them, each audited, and never overwrites an address already
//! there; the same list again changes nothing. Security: anonymous, a
//! reviewer, missing CSRF.

mod common;

use chrono::{DateTime, NaiveDate, Utc};
use common::browser::{self, ADMIN, REVIEWER, TestApp, hidden_value, sample_filing};
use sos_intake::queue::{self, blobs};

fn at(hour: u32) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2026-11-19T{hour:02}:00:00+09:00"))
        .unwrap()
        .to_utc()
}

/// Files a 東京都 request of `name`/`code` with `address` (empty: none).
async fn request(app: &TestApp, name: &str, code: &str, address: &str, hour: u32) -> i64 {
    let batch = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let mut filing = sample_filing(name, code, batch, at(hour));
    filing.institution.address = address.into();
    filing.institution.postcode = String::new();
    browser::file(app, &filing).await
}

/// The list as G-MIS users save it from Excel: Shift_JIS, other header
/// words, in another order, with the Salesforce footer.
fn list_in_shift_jis() -> Vec<u8> {
    let text = "医療機関名称,医療機関番号,都道府県名,〒,所在地,TEL\r\n\
                あおば病院,1310000001,東京都,160-0023,東京都新宿区西新宿２－８－１（第一本庁舎）,03-1234-5678\r\n\
                いろは医院,,東京都,100-0001,東京都千代田区千代田１－１,03-0000-0001\r\n\
                うみべクリニック,1310000003,東京都,105-0011,東京都港区芝公園４－２－８,03-0000-0003\r\n\
                住所のない医院,1310000009,東京都,,,\r\n\
                \r\n\
                \"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.\"\r\n\
                機密情報 - 転送禁止\r\n";
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

async fn address_of(app: &TestApp, id: i64) -> (String, String) {
    let mut conn = app.test_db.db.pool().acquire().await.unwrap();
    let r = queue::get(&mut conn, id).await.unwrap();
    (r.institution.postcode, r.institution.address)
}

async fn a_list_completes_missing_addresses_and_overwrites_none(app: TestApp) {
    let by_code = request(&app, "あおば病院", "1310000001", "", 9).await;
    // No code on the request: matched by name within 東京都.
    let by_name = request(&app, "いろは医院", "", "", 10).await;
    // Typed by the prefecture: kept.
    let typed = request(
        &app,
        "うみべクリニック",
        "1310000003",
        "東京都港区芝公園4-2-8 別館",
        11,
    )
    .await;
    let unknown = request(&app, "えがお診療所", "1310000004", "", 12).await;

    let (mut admin, csrf) = app.signed_in(ADMIN).await;
    let form = admin.get("/admin/addresses").await;
    assert_eq!(form.status, 200);
    assert!(form.text().contains("addresses-upload-form"));
    let bytes = list_in_shift_jis();
    let preview = admin
        .post_multipart(
            "/admin/addresses/preview",
            &[("csrf", &csrf)],
            Some(("file", "医療機関リスト.csv", &bytes)),
        )
        .await;
    assert_eq!(preview.status, 200);
    let page = preview.text();
    assert!(page.contains("Shift_JIS"), "{page}");
    assert!(page.contains("登録される住所（2件）"), "{page}");
    assert!(
        page.contains("東京都新宿区西新宿２－８－１（第一本庁舎）"),
        "as written: {page}"
    );
    assert!(page.contains("医療機関名（同じ都道府県）"));
    assert!(page.contains("5行目：住所が空欄のため使いません"), "{page}");
    assert!(
        !page.contains("東京都港区芝公園４－２－８"),
        "a typed address is not offered"
    );
    assert!(page.contains("リストにない要請：1件"));
    // Nothing changes before the confirmation.
    assert_eq!(address_of(&app, by_code).await.1, "");

    let sha = hidden_value(&page, "sha256").expect("confirm form names the file");
    assert_eq!(sha, blobs::sha256_hex(&bytes));
    let done = admin
        .post_form(
            "/admin/addresses/apply",
            &[
                ("csrf", &csrf),
                ("sha256", &sha),
                ("file_name", "医療機関リスト.csv"),
            ],
        )
        .await;
    assert_eq!(done.status, 200);
    assert!(
        done.text()
            .contains("2件の要請に配送先の住所を登録しました。"),
        "{}",
        done.text()
    );
    assert_eq!(
        address_of(&app, by_code).await,
        (
            "160-0023".into(),
            "東京都新宿区西新宿２－８－１（第一本庁舎）".into()
        )
    );
    assert_eq!(
        address_of(&app, by_name).await,
        ("100-0001".into(), "東京都千代田区千代田１－１".into())
    );
    assert_eq!(
        address_of(&app, typed).await.1,
        "東京都港区芝公園4-2-8 別館"
    );
    assert_eq!(address_of(&app, unknown).await.1, "");

    // Audited per request, as the admin, in the history's words.
    let mut conn = app.test_db.db.pool().acquire().await.unwrap();
    for id in [by_code, by_name] {
        let r = queue::get(&mut conn, id).await.unwrap();
        assert!(
            r.history
                .iter()
                .any(|h| h.action == "address_completed" && h.actor == ADMIN),
            "{:?}",
            r.history
        );
    }
    let r = queue::get(&mut conn, typed).await.unwrap();
    assert!(!r.history.iter().any(|h| h.action == "address_completed"));
    drop(conn);
    let page = admin.get(&format!("/requests/{by_code}")).await.text();
    assert!(page.contains("配送先の住所を"), "{page}");

    // The same list again: nothing left to complete.
    let again = admin
        .post_form(
            "/admin/addresses/apply",
            &[
                ("csrf", &csrf),
                ("sha256", &sha),
                ("file_name", "医療機関リスト.csv"),
            ],
        )
        .await;
    assert!(
        again
            .text()
            .contains("0件の要請に配送先の住所を登録しました。")
    );
    let audits = common::db::count(
        &app.test_db.db,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'address_completed'",
    )
    .await;
    assert_eq!(audits, 2);
}

async fn list_routes_need_an_admin_and_the_csrf_token(app: TestApp) {
    let id = request(&app, "あおば病院", "1310000001", "", 9).await;
    let bytes = list_in_shift_jis();
    let sha = blobs::sha256_hex(&bytes);

    // Anonymous: refused.
    let mut anon = app.http();
    assert_ne!(anon.get("/admin/addresses").await.status, 200);
    let resp = anon
        .post_multipart(
            "/admin/addresses/preview",
            &[],
            Some(("file", "a.csv", &bytes)),
        )
        .await;
    assert_eq!(resp.status, 401);

    // A reviewer: not theirs.
    let (mut reviewer, rcsrf) = app.signed_in(REVIEWER).await;
    assert_eq!(reviewer.get("/admin/addresses").await.status, 403);
    let resp = reviewer
        .post_multipart(
            "/admin/addresses/preview",
            &[("csrf", &rcsrf)],
            Some(("file", "a.csv", &bytes)),
        )
        .await;
    assert_eq!(resp.status, 403);

    // An admin without the token.
    let (mut admin, csrf) = app.signed_in(ADMIN).await;
    let resp = admin
        .post_multipart(
            "/admin/addresses/preview",
            &[],
            Some(("file", "a.csv", &bytes)),
        )
        .await;
    assert_eq!(resp.status, 403);
    let mut conn = app.test_db.db.pool().acquire().await.unwrap();
    assert!(
        blobs::get(&mut conn, &sha).await.unwrap().is_none(),
        "not even kept"
    );
    drop(conn);
    // Kept by a real preview, then applied without the token: refused.
    let ok = admin
        .post_multipart(
            "/admin/addresses/preview",
            &[("csrf", &csrf)],
            Some(("file", "a.csv", &bytes)),
        )
        .await;
    assert_eq!(ok.status, 200);
    let resp = admin
        .post_form("/admin/addresses/apply", &[("sha256", &sha)])
        .await;
    assert_eq!(resp.status, 403);
    let resp = reviewer
        .post_form(
            "/admin/addresses/apply",
            &[("csrf", &rcsrf), ("sha256", &sha)],
        )
        .await;
    assert_eq!(resp.status, 403);
    assert_eq!(address_of(&app, id).await.1, "", "nothing changed");
}

macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(TestApp::sqlite().await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(TestApp::postgres().await).await;
            }
        }
    };
}

on_both!(a_list_completes_missing_addresses_and_overwrites_none);
on_both!(list_routes_need_an_admin_and_the_csrf_token);
