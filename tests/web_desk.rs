//! The review desk doing the day's work (issue 13) over real HTTP, on
//! SQLite and PostgreSQL: G-MIS upload with preview and confirm (UTF-8 with
//! BOM and Salesforce footer, Shift_JIS, broken files), decisions starting
//! from the prefecture's answer, values as written, and the history as
//! sentences. The browser walk is in `web_desk_browser.rs`.

mod common;

use common::browser::{self, REVIEWER, TestApp, hidden_value};
use sos_intake::queue::{self, blobs};
use sos_intake::request::Item;

/// The sample export as G-MIS (Salesforce) writes it, footer included.
fn sample() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/gmis/gmis-sos-export-salesforce.csv"
    ))
    .expect("sample export")
}

/// The sample without BOM, re-encoded as Shift_JIS (Excel's "CSV"), with
/// さくら総合病院's national quantity changed and 川越ひかり病院 (受付完了 in
/// G-MIS) changed too.
fn changed_in_shift_jis() -> Vec<u8> {
    let text = String::from_utf8(sample()).unwrap();
    let text = text.trim_start_matches('\u{FEFF}');
    let text = text.replacen(",0,12000,12000,", ",0,13000,13000,", 1);
    let text = text.replacen(
        ",0,3000,3000,過去の緊急配布：0回。卸の在庫切れ",
        ",0,3500,3500,過去の緊急配布：0回。卸の在庫切れ",
        1,
    );
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
    assert!(!unmappable, "the sample fits Shift_JIS");
    bytes.into_owned()
}

async fn requests(app: &TestApp) -> i64 {
    common::db::count(&app.test_db.db, "SELECT COUNT(*) FROM requests").await
}

async fn upload(
    http: &mut browser::Http,
    csrf: &str,
    name: &str,
    bytes: &[u8],
) -> browser::Response {
    http.post_multipart(
        "/gmis/preview",
        &[("csrf", csrf)],
        Some(("file", name, bytes)),
    )
    .await
}

async fn gmis_upload_previews_confirms_and_is_idempotent(app: TestApp) {
    let (mut http, csrf) = app.signed_in(REVIEWER).await;
    let bytes = sample();

    // Preview: what would happen, nothing filed yet.
    let resp = upload(&mut http, &csrf, "SOS要請_20261120.csv", &bytes).await;
    assert_eq!(resp.status, 200);
    let page = resp.text();
    assert!(page.contains("新規 15件"), "{page}");
    assert!(page.contains("読めない行 0件"));
    assert!(page.contains("UTF-8（BOM付き）"));
    assert!(
        page.contains("行目以降はSalesforceのフッターのため読み飛ばしました"),
        "the footer is recognised, not reported"
    );
    assert!(page.contains("さくら総合病院") && page.contains("北斗クリニック"));
    assert_eq!(requests(&app).await, 0, "the preview files nothing");
    let sha = hidden_value(&page, "sha256").expect("confirm form names the file");
    assert_eq!(sha, blobs::sha256_hex(&bytes));
    let mut conn = app.test_db.db.pool().acquire().await.unwrap();
    assert_eq!(
        blobs::get(&mut conn, &sha).await.unwrap().as_deref(),
        Some(bytes.as_slice()),
        "the uploaded file is kept"
    );

    // Confirm: imported, audited with who and which file.
    let done = http
        .post_form(
            "/gmis/import",
            &[
                ("csrf", &csrf),
                ("sha256", &sha),
                ("file_name", "SOS要請_20261120.csv"),
            ],
        )
        .await;
    assert_eq!(done.status, 200);
    let page = done.text();
    assert!(
        page.contains("G-MISのデータを取り込みました：新規 15件"),
        "{page}"
    );
    assert_eq!(requests(&app).await, 15);
    let audit = queue::audit::recent_of(&mut conn, "gmis_file_imported", 5)
        .await
        .unwrap();
    let [row] = audit.as_slice() else {
        panic!("{audit:?}")
    };
    assert_eq!(row.actor, REVIEWER);
    assert_eq!(row.detail["sha256"], sha.as_str());
    assert_eq!(row.detail["file_name"], "SOS要請_20261120.csv");
    assert_eq!(row.detail["created"], 15);
    assert!(page.contains("gmis-recent") && page.contains(&sha));
    // Each imported request's history names who imported it.
    let filter = queue::ListFilter {
        limit: 50,
        ..queue::ListFilter::default()
    };
    let records = queue::list(&mut conn, &filter).await.unwrap();
    let first = queue::get(&mut conn, records.records[0].id).await.unwrap();
    assert!(first.history.iter().any(|h| h.actor == REVIEWER));

    // The same file again: nothing new, nothing changed.
    let again = upload(&mut http, &csrf, "again.csv", &bytes).await.text();
    assert!(
        again.contains("新規 0件") && again.contains("更新 0件"),
        "{again}"
    );

    // Shift_JIS, with one change and one change to a 受付完了 record.
    let sjis = changed_in_shift_jis();
    let page = upload(&mut http, &csrf, "sjis.csv", &sjis).await.text();
    assert!(page.contains("Shift_JIS"), "{page}");
    assert!(page.contains("更新 1件"), "{page}");
    assert!(page.contains("受付完了のため据置 1件"), "{page}");
    assert!(page.contains("change-kept"), "the conflicting row is shown");
    let sha = hidden_value(&page, "sha256").unwrap();
    let done = http
        .post_form(
            "/gmis/import",
            &[("csrf", &csrf), ("sha256", &sha), ("file_name", "sjis.csv")],
        )
        .await
        .text();
    assert!(done.contains("更新 1件"), "{done}");
    assert_eq!(requests(&app).await, 15);
}

async fn broken_files_show_every_bad_row_and_are_not_imported(app: TestApp) {
    let (mut http, csrf) = app.signed_in(REVIEWER).await;
    let text = String::from_utf8(sample()).unwrap();
    let broken = text.replacen(",0,12000,12000,", ",0,たくさん,12000,", 1);
    let page = upload(&mut http, &csrf, "broken.csv", broken.as_bytes())
        .await
        .text();
    assert!(page.contains("読めない行 1件"), "{page}");
    assert!(
        page.contains("2行目") && page.contains("「国の配布枚数」の値「たくさん」を読めません"),
        "line and column, in Japanese"
    );
    assert!(
        page.contains("新規 14件"),
        "the other requests still import"
    );
    // Not a G-MIS export at all.
    let page = upload(
        &mut http,
        &csrf,
        "memo.csv",
        "氏名,電話\n山田,03".as_bytes(),
    )
    .await
    .text();
    assert!(page.contains("G-MISのCSVに必要な列がありません"), "{page}");
    assert!(!page.contains("gmis-confirm-form"));
    // No file chosen.
    let resp = http
        .post_multipart("/gmis/preview", &[("csrf", &csrf)], None)
        .await;
    assert!(resp.text().contains("CSVファイルを選んでから"));
    // A hash that names no kept file.
    let resp = http
        .post_form(
            "/gmis/import",
            &[
                ("csrf", &csrf),
                ("sha256", &"0".repeat(64)),
                ("file_name", "x"),
            ],
        )
        .await;
    assert!(resp.text().contains("取り込むファイルが見つかりません"));
    assert_eq!(requests(&app).await, 0);
}

async fn upload_routes_need_the_csrf_token(app: TestApp) {
    let (mut http, csrf) = app.signed_in(REVIEWER).await;
    let bytes = sample();
    let missing = http
        .post_multipart("/gmis/preview", &[], Some(("file", "a.csv", &bytes)))
        .await;
    assert_eq!(missing.status, 403);
    let wrong = http
        .post_multipart(
            "/gmis/preview",
            &[("csrf", "0000")],
            Some(("file", "a.csv", &bytes)),
        )
        .await;
    assert_eq!(wrong.status, 403);
    // The token after the file is still found (the whole form is read).
    let sha = blobs::sha256_hex(&bytes);
    let no_csrf = http
        .post_form("/gmis/import", &[("sha256", &sha), ("file_name", "a.csv")])
        .await;
    assert_eq!(no_csrf.status, 403);
    assert_eq!(requests(&app).await, 0);
    let mut conn = app.test_db.db.pool().acquire().await.unwrap();
    assert!(
        blobs::get(&mut conn, &sha).await.unwrap().is_none(),
        "a refused upload is not even kept"
    );
    // Anonymous: refused before the body is read.
    let mut anon = app.http();
    let resp = anon
        .post_multipart(
            "/gmis/preview",
            &[("csrf", &csrf)],
            Some(("file", "a.csv", &bytes)),
        )
        .await;
    assert_eq!(resp.status, 401);
}

/// Imports the sample through the CLI's own function (as the demo does).
async fn import_sample(app: &TestApp) {
    let rule = sos_intake::calendar::CutoffRule::Daily13;
    sos_intake::commands::gmis::import_file(&app.test_db.db, &sample(), rule, "cli:test")
        .await
        .unwrap()
        .unwrap();
}

async fn find(app: &TestApp, name: &str) -> i64 {
    let mut conn = app.test_db.db.pool().acquire().await.unwrap();
    let filter = queue::ListFilter {
        search: Some(name.into()),
        limit: 50,
        ..queue::ListFilter::default()
    };
    queue::list(&mut conn, &filter).await.unwrap().records[0].id
}

/// The panel of one item on a request page.
fn panel(page: &str, item: Item) -> &str {
    let start = page
        .find(&format!("id=\"item-{}\"", item.code()))
        .expect("item panel");
    let rest = &page[start..];
    let end = rest[1..]
        .find("class=\"panel\"")
        .map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

async fn decisions_start_from_the_prefectures_answer_and_values_read_as_written(app: TestApp) {
    import_sample(&app).await;
    let (mut http, csrf) = app.signed_in(REVIEWER).await;
    // 北斗クリニック: gloves 要, surgical masks 否.
    let id = find(&app, "北斗クリニック").await;
    let page = http.get(&format!("/requests/{id}")).await.text();
    let masks = panel(&page, Item::SurgicalMask);
    assert!(
        masks.contains("value=\"refuse\" checked"),
        "否 starts on 不承認: {masks}"
    );
    assert!(masks.contains("都道府県は「否」と回答しています"));
    assert!(masks.contains("value=\"都道府県の判断（否）のため\""));
    assert!(
        masks.contains("name=\"quantity\" value=\"\""),
        "no quantity to suggest"
    );
    let gloves = panel(&page, Item::NonSterileGloves);
    assert!(
        gloves.contains("value=\"approve\" checked"),
        "要 starts on 承認"
    );
    assert!(gloves.contains("name=\"quantity\" value=\"800\""));
    // Refusing as suggested needs no typing: the reason is there.
    let resp = http
        .post_form(
            &format!("/requests/{id}/items/surgical_mask/decision"),
            &[
                ("csrf", &csrf),
                ("decision", "refuse"),
                ("quantity", ""),
                ("ship_date", ""),
                ("reason", "都道府県の判断（否）のため"),
            ],
        )
        .await;
    assert_eq!(resp.status, 303);
    let resp = http
        .post_form(
            &format!("/requests/{id}/items/non_sterile_gloves/decision"),
            &[
                ("csrf", &csrf),
                ("decision", "approve"),
                ("quantity", "1200"),
                ("ship_date", "2026-11-25"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(resp.status, 303);
    let page = http.get(&format!("/requests/{id}")).await.text();
    // The history reads as sentences, with the mails' date and number style.
    let history = &page[page.find("id=\"history\"").unwrap()..];
    assert!(
        history
            .contains("非滅菌手袋を承認しました（配布数 1,200枚、送付日 2026年11月25日（水））。"),
        "{history}"
    );
    assert!(
        history
            .contains("サージカルマスクを不承認にしました（理由：都道府県の判断（否）のため）。")
    );
    assert!(history.contains("G-MIS（レコードID a0B5g00000Xy1AAB）から取り込み"));
    assert!(
        !history.contains("{&quot;") && !history.contains("{\""),
        "no raw JSON"
    );
    assert!(page.contains("配布数 1,200枚"));
    // The 内示 as 受付完了 would send it, in the mails' style.
    let preview = &page[page.find("id=\"naiji-preview\"").expect("内示 preview")..];
    assert!(
        preview.contains("・非滅菌手袋：承認　配布数 1,200枚　送付日 2026年11月25日（水）"),
        "{preview}"
    );
    assert!(
        preview.contains("未登録のため送信されません"),
        "no 北海道 address configured"
    );
    // G-MIS exports no address: the page says so.
    assert!(page.contains("id=\"address-missing\"") && page.contains("G-MISは住所を出力しません"));
    let resp = http
        .post_form(&format!("/requests/{id}/complete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(resp.status, 303);
    let page = http.get(&format!("/requests/{id}")).await.text();
    assert!(
        !page.contains("naiji-preview"),
        "sent, no preview after 受付完了"
    );
    let csv = http
        .get("/exports/delivery.csv?date=2026-11-24")
        .await
        .text();
    let line = csv
        .lines()
        .find(|l| l.contains("北斗クリニック"))
        .expect("delivery row");
    assert!(line.ends_with("住所未登録（送付前に要確認）"), "{line}");
    assert!(
        !page.contains("address-form"),
        "no completing after 受付完了"
    );

    // Another G-MIS request: the address is completed before 受付完了.
    let id = find(&app, "やんばる診療所").await;
    let empty = http
        .post_form(
            &format!("/requests/{id}/address"),
            &[("csrf", &csrf), ("address", "　")],
        )
        .await;
    assert_eq!(empty.status, 422);
    let resp = http
        .post_form(
            &format!("/requests/{id}/address"),
            &[
                ("csrf", &csrf),
                ("postcode", "９０５－０４０１"),
                ("address", "沖縄県国頭郡今帰仁村字仲宗根１－２"),
            ],
        )
        .await;
    assert_eq!(resp.status, 303);
    let page = http.get(&format!("/requests/{id}")).await.text();
    assert!(!page.contains("id=\"address-missing\""));
    assert!(
        page.contains("沖縄県国頭郡今帰仁村字仲宗根１－２"),
        "as typed"
    );
    assert!(
        page.contains(
            "配送先の住所を「〒905-0401 沖縄県国頭郡今帰仁村字仲宗根１－２」にしました。"
        )
    );
    assert!(csv.lines().next().unwrap().ends_with(",確認事項"));

    // さくら総合病院: numbers with separators, free text as typed.
    let id = find(&app, "さくら総合病院").await;
    let page = http.get(&format!("/requests/{id}")).await.text();
    let gloves = panel(&page, Item::NonSterileGloves);
    assert!(
        gloves.contains(">3,000<") && gloves.contains(">12,000<"),
        "{gloves}"
    );
    assert!(gloves.contains("過去の緊急配布：1回。卸3社とも欠品（聞き取り済）"));
    assert!(gloves.contains("卸の欠品（入荷未定）"));
    for bad in ["None", "null", ">none<"] {
        assert!(!page.contains(bad), "{bad} on the request page");
    }
}

async fn the_overview_counts_a_batch_and_empty_lists_say_where_the_work_is(app: TestApp) {
    import_sample(&app).await;
    let batch = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    browser::file(
        &app,
        &browser::sample_filing(
            "みどり内科クリニック",
            "1312345679",
            batch,
            chrono::Utc::now(),
        ),
    )
    .await;
    let (mut http, csrf) = app.signed_in(REVIEWER).await;
    // Approve さくら総合病院's gloves as the prefecture proposed.
    let id = find(&app, "さくら総合病院").await;
    let resp = http
        .post_form(
            &format!("/requests/{id}/items/non_sterile_gloves/decision"),
            &[
                ("csrf", &csrf),
                ("decision", "approve"),
                ("quantity", "12000"),
                ("ship_date", "2026-11-25"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(resp.status, 303);

    let page = http.get("/overview?date=2026-11-20").await.text();
    assert!(page.contains("2026年11月20日（金）分の概要"), "{page}");
    let by_status =
        &page[page.find("id=\"by-status\"").unwrap()..page.find("id=\"by-prefecture\"").unwrap()];
    let review = "/queue?date=2026-11-20&amp;source=g-mis&amp;status=%E9%83%BD%E9%81%93%E5%BA%9C%E7%9C%8C%E3%83%BB%E5%9B%BD%E7%A2%BA%E8%AA%8D%E4%B8%AD";
    assert!(
        by_status.contains(&format!(
            "<a href=\"{}\">4</a>",
            review.replacen('/', "&#x2f;", 1)
        )),
        "{by_status}"
    );
    assert!(by_status.contains(">1</a>"), "one sheet");
    let by_item = &page[page.find("id=\"by-item\"").unwrap()..];
    assert!(by_item.contains("non_sterile_gloves\">5</a>"), "{by_item}");
    assert!(
        by_item.contains(">12,000<"),
        "approved total with separators: {by_item}"
    );
    assert!(by_item.contains(">1 / 5<"), "one of five decided");
    // The link leads to exactly those records.
    let queue = http.get(&review.replace("&amp;", "&")).await.text();
    assert!(queue.contains("さくら総合病院") && queue.contains("越後みどり病院"));
    assert!(!queue.contains("みどり内科クリニック"), "G-MIS only");

    // An empty batch says where the work is.
    for path in ["/overview?date=2026-11-21", "/queue?date=2026-11-21"] {
        let page = http.get(path).await.text();
        assert!(
            page.contains("11月20日（金）分に5件あります"),
            "{path}: {page}"
        );
        assert!(page.contains("href=\"&#x2f;queue?date=2026-11-20\""));
    }
}

async fn a_batch_is_approved_as_proposed_in_one_action(app: TestApp) {
    import_sample(&app).await;
    let batch = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let sheet = browser::file(
        &app,
        &browser::sample_filing(
            "みどり内科クリニック",
            "1312345679",
            batch,
            chrono::Utc::now(),
        ),
    )
    .await;
    let sakura = find(&app, "さくら総合病院").await;
    let echigo = find(&app, "越後みどり病院").await;
    let (mut http, csrf) = app.signed_in(REVIEWER).await;
    let queue = http.get("/queue?date=2026-11-20").await.text();
    assert!(
        queue.contains(&format!("name=\"id\" value=\"{sakura}\"")),
        "check boxes in the queue"
    );
    let ids = [sakura.to_string(), echigo.to_string(), sheet.to_string()];
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend(ids.iter().map(|i| ("id", i.as_str())));

    // Preview: errors and warnings, and the plan item by item.
    let page = http.post_form("/queue/approve/preview", &fields).await;
    assert_eq!(page.status, 200);
    let page = page.text();
    assert!(
        page.contains("総配布枚数が目安（4000枚）と異なります"),
        "warnings before confirming"
    );
    assert!(page.contains("非滅菌手袋：承認（配布数 12,000枚）"));
    assert!(page.contains("アイソレーションガウン：不承認（都道府県の判断（否）のため）"));
    let mut conn = app.test_db.db.pool().acquire().await.unwrap();
    assert!(
        queue::get(&mut conn, sakura)
            .await
            .unwrap()
            .lines
            .iter()
            .all(|l| l.mhlw.approved.is_none()),
        "the preview decides nothing"
    );
    // Without CSRF, nothing happens.
    let mut no_csrf: Vec<_> = fields[1..].to_vec();
    no_csrf.push(("ship_date", "2026-11-25"));
    assert_eq!(http.post_form("/queue/approve", &no_csrf).await.status, 403);
    assert_eq!(
        http.post_form("/queue/approve/preview", &fields[1..])
            .await
            .status,
        403
    );

    let mut confirm = fields.clone();
    confirm.push(("ship_date", "2026-11-25"));
    let done = http.post_form("/queue/approve", &confirm).await;
    assert_eq!(done.status, 200);
    assert!(done.text().contains("選んだ3件を処理しました"));
    let r = queue::get(&mut conn, sakura).await.unwrap();
    let gloves = r
        .lines
        .iter()
        .find(|l| l.item == Item::NonSterileGloves)
        .unwrap();
    assert_eq!(
        (gloves.mhlw.approved, gloves.mhlw.quantity),
        (Some(true), Some(12000))
    );
    assert_eq!(gloves.mhlw.ship_date.unwrap().to_string(), "2026-11-25");
    let r = queue::get(&mut conn, echigo).await.unwrap();
    let gown = r
        .lines
        .iter()
        .find(|l| l.item == Item::IsolationGown)
        .unwrap();
    assert_eq!(gown.mhlw.approved, Some(false));
    assert!(
        r.history
            .iter()
            .filter(|h| h.action == "decided" && h.actor == REVIEWER)
            .count()
            == 2,
        "audited item by item"
    );
    assert!(
        queue::get(&mut conn, sheet)
            .await
            .unwrap()
            .lines
            .iter()
            .any(|l| l.mhlw.approved == Some(true))
    );
    // Nothing ticked: said so.
    let none = http
        .post_form("/queue/approve/preview", &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(none.status, 422);
    assert!(none.text().contains("承認する要請を一覧で選んでください"));
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

on_both!(gmis_upload_previews_confirms_and_is_idempotent);
on_both!(broken_files_show_every_bad_row_and_are_not_imported);
on_both!(upload_routes_need_the_csrf_token);
on_both!(the_overview_counts_a_batch_and_empty_lists_say_where_the_work_is);
on_both!(a_batch_is_approved_as_proposed_in_one_action);
on_both!(decisions_start_from_the_prefectures_answer_and_values_read_as_written);

/// Every page of the demo data: the sample inbox through the pipeline with
/// the sample configuration, and the sample G-MIS export imported.
async fn demo_pages_show_values_as_written(test_db: common::db::TestDb) {
    use sos_intake::config::{Config, Settings};
    use sos_intake::pipeline::Intake;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("samples/sos-intake.toml")).unwrap();
    let settings = Settings::resolve(Config::parse(&text).unwrap(), Some(test_db.data_dir()));
    let intake = Intake::new(test_db.db.clone(), &settings).unwrap();
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-20T10:00:00+09:00").unwrap();
    let mut mails: Vec<_> = std::fs::read_dir(root.join("samples/inbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    mails.sort();
    assert!(mails.len() >= 10, "the demo inbox");
    for mail in &mails {
        intake
            .process(&std::fs::read(mail).unwrap(), at)
            .await
            .unwrap();
    }
    let app = TestApp::spawn(test_db).await;
    import_sample(&app).await;

    let mut conn = app.test_db.db.pool().acquire().await.unwrap();
    let filter = queue::ListFilter {
        limit: 500,
        ..queue::ListFilter::default()
    };
    let listing = queue::list(&mut conn, &filter).await.unwrap();
    let sources: std::collections::BTreeSet<_> =
        listing.records.iter().map(|r| r.source.as_str()).collect();
    assert_eq!(sources.len(), 2, "both sources: {sources:?}");

    let (mut http, _) = app.signed_in(common::browser::ADMIN).await;
    let mut pages = vec![
        "/queue".to_string(),
        "/queue?date=all".into(),
        "/gmis".into(),
        "/outbox".into(),
        "/unprocessable".into(),
        "/admin/quarantine".into(),
    ];
    let mut dates = std::collections::BTreeSet::new();
    // Free text the sheets hold in full-width form, by the record showing it.
    let mut full_width: Vec<(String, String)> = Vec::new();
    for summary in &listing.records {
        let path = format!("/requests/{}", summary.id);
        let record = queue::get(&mut conn, summary.id).await.unwrap();
        dates.insert(record.batch_date);
        let inst = &record.institution;
        let mut texts = vec![&inst.name, &inst.address, &inst.contact];
        for line in &record.lines {
            texts.push(&line.reason);
            texts.push(&line.prefecture.opinion);
        }
        for t in texts {
            if sos_intake::text::normalize(t) != *t {
                full_width.push((path.clone(), t.clone()));
            }
        }
        pages.push(path);
    }
    for d in &dates {
        pages.push(format!("/queue?date={d}"));
        pages.push(format!("/exports/delivery.csv?date={d}"));
        pages.push(format!("/exports/summary.csv?date={d}"));
    }
    assert!(
        full_width
            .iter()
            .any(|(_, t)| t.contains('：') || t.contains('（')),
        "the demo sheets hold full-width free text, kept as typed: {full_width:?}"
    );
    for path in &pages {
        let resp = http.get(path).await;
        assert_eq!(resp.status, 200, "{path}");
        let body = resp.text();
        for bad in ["None", "null", ">none<"] {
            assert!(!body.contains(bad), "{path} shows {bad}");
        }
    }
    for (path, typed) in &full_width {
        let page = http.get(path).await.text();
        let shown = |t: &str| page.contains(&html(t));
        assert!(shown(typed), "{path} shows {typed:?} as typed");
        let folded = sos_intake::text::normalize(typed);
        assert!(!shown(&folded), "{path} shows the folded {folded:?}");
    }
}

/// Text as the templates escape it (minijinja's HTML escaping).
fn html(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

mod demo_pages_show_values_as_written {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::demo_pages_show_values_as_written(super::common::db::TestDb::sqlite().await).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::demo_pages_show_values_as_written(super::common::db::TestDb::postgres().await).await;
    }
}
