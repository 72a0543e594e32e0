//! Keyboard use through the queue (issue 13.4). The pages allow no
//! scripts, so everything is HTML: autofocus on the first request and on
//! the first item to decide, Enter to open and to save, accesskeys for
//! 前の要請 / 次の要請 / the list. Headless Chromium walks a batch without
//! the mouse; over HTTP (both backends) 前の要請 / 次の要請 stay within the
//! filter the request was opened from and survive a decision.

mod common;

use chrono::{DateTime, NaiveDate, Utc};
use common::browser::{
    self, Browser, KEY_ALT, KEY_ENTER, KEY_RIGHT, KEY_TAB, KEY_UP, PASSWORD, REVIEWER, TestApp,
    sample_filing,
};

fn batch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

fn at(hour: u32) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2026-11-19T{hour:02}:00:00+09:00"))
        .unwrap()
        .to_utc()
}

/// Three requests of the 2026-11-20 batch, in list order (received at 9,
/// 10 and 11 o'clock).
async fn three_requests(app: &TestApp) -> [i64; 3] {
    let mut ids = [0; 3];
    for (n, (name, code)) in [
        ("あおば病院", "1310000001"),
        ("いろは医院", "1310000002"),
        ("うみべクリニック", "1310000003"),
    ]
    .into_iter()
    .enumerate()
    {
        let filing = sample_filing(name, code, batch(), at(9 + n as u32));
        ids[n] = browser::file(app, &filing).await;
    }
    ids
}

/// Decides the focused request's one item by keyboard alone: from the
/// autofocused 承認 radio, Tab to 配布数 (suggested) and 送付日, type the
/// date (↑ on each part: 1 January of this year), Enter. Returns the
/// 送付日 chosen.
fn decide_by_keyboard(b: &mut Browser) -> String {
    let focused = b.focused();
    assert!(
        focused.contains("value=\"approve\"") && focused.contains("autofocus"),
        "the first item to decide has the focus: {focused}"
    );
    b.press(&[KEY_TAB, KEY_TAB], None);
    assert!(
        b.focused().contains("name=\"ship_date\""),
        "{}",
        b.focused()
    );
    // The date field's parts follow the browser's locale (年/月/日 or
    // month/day/year); ↑ on an empty part fills it whatever the order.
    b.press(&[KEY_UP, KEY_RIGHT, KEY_UP, KEY_RIGHT, KEY_UP], None);
    let typed = b.value("input[name=ship_date]:focus");
    assert!(typed.ends_with("-01-01"), "{typed}");
    // Enter in the date field sends nothing: Tab on to 理由・メモ (Tab
    // first walks the date's remaining parts), where Enter sends the form.
    for _ in 0..3 {
        if !b.focused().contains("name=\"reason\"") {
            b.press(&[KEY_TAB], None);
        }
    }
    assert!(b.focused().contains("name=\"reason\""), "{}", b.focused());
    b.press(&[KEY_ENTER], None);
    typed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_official_walks_a_batch_with_the_keyboard_alone() {
    let app = TestApp::sqlite().await;
    let [first, second, third] = three_requests(&app).await;
    let base = app.base.clone();
    tokio::task::spawn_blocking(move || {
        let mut b = Browser::start();
        b.goto(&format!("{base}/login"));
        b.fill("#name", REVIEWER);
        b.fill("#password", PASSWORD);
        b.click("#login");
        b.source_when(|p| p.contains("受付一覧"));

        // The queue opens with the first request focused and the help.
        b.goto(&format!("{base}/queue?date=2026-11-20"));
        let page = b.source_when(|p| p.contains("keyboard-help"));
        assert!(page.contains("キーボード操作"), "{page}");
        let focused = b.focused();
        assert!(
            focused.contains(&format!("/requests/{first}?date=2026-11-20")),
            "{focused}"
        );
        b.screenshot("desk-17-keyboard-queue");

        // Enter opens it; decide; the focus moves on to 次の要請.
        b.press(&[KEY_ENTER], None);
        b.source_when(|p| p.contains("id=\"walk\""));
        assert!(
            b.url().contains(&format!("/requests/{first}?")),
            "{}",
            b.url()
        );
        b.screenshot("desk-18-keyboard-request");
        let ship = decide_by_keyboard(&mut b);
        let ship = NaiveDate::parse_from_str(&ship, "%Y-%m-%d").unwrap();
        let page = b.source_when(|p| p.contains("判断を保存しました"));
        assert!(page.contains("判断を保存しました"), "{page}");
        let history = b.text("#history");
        assert!(
            history.contains(&format!(
                "非滅菌手袋を承認しました（配布数 5,000枚、送付日 {}）。",
                sos_intake::messages::calendar::date(ship)
            )),
            "{history}"
        );
        assert!(history.contains(REVIEWER), "{history}");
        assert!(b.focused().contains("id=\"walk-next\""), "{}", b.focused());
        b.screenshot("desk-19-keyboard-decided");

        // Enter: the next request of the same list; decide it too.
        b.press(&[KEY_ENTER], None);
        b.source_when(|p| {
            p.contains(&format!(
                "/requests/{first}?date=2026-11-20\" id=\"walk-prev\""
            ))
        });
        assert!(
            b.url().contains(&format!("/requests/{second}?")),
            "{}",
            b.url()
        );
        decide_by_keyboard(&mut b);
        b.source_when(|p| p.contains("判断を保存しました"));
        assert!(b.text("#history").contains("非滅菌手袋を承認しました"));

        // Alt+N to the last one (nothing after it), Alt+P back, Alt+Q to
        // the list as it was filtered.
        b.press(&["n"], Some(KEY_ALT));
        let page = b.source_when(|p| p.contains("walk-last"));
        assert!(b.url().contains(&format!("/requests/{third}?")), "{page}");
        b.press(&["p"], Some(KEY_ALT));
        b.source_when(|p| p.contains("walk-next"));
        assert!(
            b.url().contains(&format!("/requests/{second}?")),
            "{}",
            b.url()
        );
        b.press(&["q"], Some(KEY_ALT));
        b.source_when(|p| p.contains("id=\"queue\""));
        assert!(b.url().ends_with("/queue?date=2026-11-20"), "{}", b.url());
    })
    .await
    .expect("browser steps");
}

/// The `href` of the element with `id` in `page`, if any.
fn href_of(page: &str, id: &str) -> Option<String> {
    let at = page.find(&format!("id=\"{id}\""))?;
    let start = page[..at].rfind("href=\"")? + 6;
    let end = start + page[start..].find('"')?;
    Some(
        page[start..end]
            .replace("&amp;", "&")
            .replace("&#x2f;", "/"),
    )
}

async fn prev_and_next_stay_within_the_filter(app: TestApp) {
    let [first, second, third] = three_requests(&app).await;
    let (mut http, csrf) = app.signed_in(REVIEWER).await;

    // Opened from the whole batch: neighbours in list order.
    let page = http
        .get(&format!("/requests/{second}?date=2026-11-20"))
        .await
        .text();
    assert_eq!(
        href_of(&page, "walk-prev").as_deref(),
        Some(format!("/requests/{first}?date=2026-11-20").as_str())
    );
    assert_eq!(
        href_of(&page, "walk-next").as_deref(),
        Some(format!("/requests/{third}?date=2026-11-20").as_str())
    );
    assert_eq!(
        href_of(&page, "walk-back").as_deref(),
        Some("/queue?date=2026-11-20")
    );

    // Opened from a search: only what the search lists.
    let q = browser::encode("うみべ");
    let page = http
        .get(&format!("/requests/{third}?date=2026-11-20&q={q}"))
        .await
        .text();
    assert!(href_of(&page, "walk-prev").is_none(), "{page}");
    assert!(page.contains("walk-last"));

    // Opened without a filter (a link from elsewhere): its own batch.
    let page = http.get(&format!("/requests/{first}")).await.text();
    assert!(href_of(&page, "walk-prev").is_none());
    assert_eq!(
        href_of(&page, "walk-next").as_deref(),
        Some(format!("/requests/{second}?date=2026-11-20").as_str())
    );

    // A decision keeps the filter: back on the page, next still there.
    assert!(
        page.contains(&format!(
            "action=\"/requests/{first}/items/non_sterile_gloves/decision?date=2026-11-20\""
        )),
        "{page}"
    );
    let form = format!(
        "/requests/{first}/items/non_sterile_gloves/decision?date=2026-11-20&status={}",
        browser::encode("都道府県・国確認中")
    );
    let r = http
        .post_form(
            &form,
            &[
                ("csrf", &csrf),
                ("decision", "approve"),
                ("quantity", "5000"),
                ("ship_date", "2026-11-25"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let to = r.header("location").unwrap().to_string();
    assert!(
        to.starts_with(&format!("/requests/{first}?date=2026-11-20&status="))
            && to.ends_with("&notice=decided"),
        "{to}"
    );
    let page = http.get(&to).await.text();
    assert!(page.contains("判断を保存しました"));
    assert!(
        href_of(&page, "walk-next").is_some_and(|h| h.starts_with(&format!("/requests/{second}?")))
    );
    // Everything decided: the focus goes to 次の要請.
    let tag = &page[..page.find("id=\"walk-next\"").unwrap()];
    assert!(
        page[tag.rfind('<').unwrap()..]
            .split('>')
            .next()
            .unwrap()
            .contains("autofocus"),
        "{page}"
    );
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

on_both!(prev_and_next_stay_within_the_filter);
