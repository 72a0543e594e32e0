//! The review desk with real mail: a quarantined sender authorised by an
//! admin is processed at once, its record links the original mail and
//! sheet, and its 内示 is threaded with the original request.

mod common;

use chrono::{DateTime, FixedOffset};
use common::browser::{ADMIN, REVIEWER, TestApp};
use sos_intake::pipeline::{Disposition, Intake};
use sos_intake::queue;

const SENDER: &str = "jimu@midori-naika.example.jp";
const ORIGINAL_ID: &str = "20261119140251.77@midori-naika.example.jp";

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples/mail")
            .join(name),
    )
    .unwrap()
}

fn received() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-11-19T14:02:55+09:00").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorised_quarantined_sender_is_filed_and_gets_a_threaded_naiji() {
    let app = TestApp::sqlite().await;
    let intake = Intake::new(app.test_db.db.clone(), &app.settings).unwrap();
    let first = intake
        .process(&sample("07-unknown-sender.eml"), received())
        .await
        .unwrap();
    assert_eq!(first.disposition, Disposition::Quarantined);
    let quarantined_id = first.mail_message_id.expect("recorded");

    // A reviewer cannot release it; an admin sees it listed.
    let (mut reviewer, rcsrf) = app.signed_in(REVIEWER).await;
    let path = format!("/admin/quarantine/{quarantined_id}/authorise");
    assert_eq!(
        reviewer
            .post_form(&path, &[("csrf", &rcsrf), ("prefecture", "東京都")])
            .await
            .status,
        403
    );
    let (mut admin, csrf) = app.signed_in(ADMIN).await;
    let page = admin.get("/admin/quarantine").await.text();
    assert!(page.contains(SENDER), "the quarantined sender is listed");
    assert!(
        page.contains(&format!("/admin/quarantine/{quarantined_id}/release\""))
            && page.contains(&format!("/admin/quarantine/{quarantined_id}/authorise\""))
    );
    let bad = admin
        .post_form(&path, &[("csrf", &csrf), ("prefecture", "どこか")])
        .await;
    assert_eq!(bad.status, 422);

    let resp = admin
        .post_form(&path, &[("csrf", &csrf), ("prefecture", "東京都")])
        .await;
    assert_eq!(resp.status, 303, "{}", resp.text());
    let page = admin.get("/admin/quarantine").await.text();
    assert!(!page.contains(SENDER), "released mail leaves the list");
    // Releasing again is refused, and files nothing twice.
    let again = admin
        .post_form(&path, &[("csrf", &csrf), ("prefecture", "東京都")])
        .await;
    assert_eq!(again.status, 409);

    let mut conn = app.test_db.db.pool().acquire().await.unwrap();
    let listing = queue::list(&mut conn, &queue::ListFilter::default())
        .await
        .unwrap();
    assert_eq!(
        listing.records.len(),
        1,
        "one record filed from the released mail"
    );
    let id = listing.records[0].id;
    let record = queue::get(&mut conn, id).await.unwrap();
    drop(conn);

    // The original mail and sheet are one click away.
    let page = admin.get(&format!("/requests/{id}")).await.text();
    assert!(page.contains("/files/mail") && page.contains("/files/sheet"));
    let mail = admin.get(&format!("/requests/{id}/files/mail")).await;
    assert_eq!(mail.status, 200);
    assert!(mail.text().contains(ORIGINAL_ID));
    let sheet = admin.get(&format!("/requests/{id}/files/sheet")).await;
    assert_eq!(sheet.status, 200);
    assert!(
        sheet
            .header("content-disposition")
            .unwrap_or_default()
            .starts_with("attachment;")
    );
    assert!(!sheet.body.is_empty());
    assert_eq!(
        app.http()
            .get(&format!("/requests/{id}/files/sheet"))
            .await
            .status,
        401
    );

    if record.status.as_str() != "都道府県・国確認中" {
        panic!(
            "the sample sheet should be clean enough for review: {:?}",
            record.findings
        );
    }
    for line in record.requested_lines() {
        let resp = admin
            .post_form(
                &format!("/requests/{id}/items/{}/decision", line.item.code()),
                &[
                    ("csrf", &csrf),
                    ("decision", "approve"),
                    ("quantity", "2000"),
                    ("ship_date", "2026-11-24"),
                ],
            )
            .await;
        assert_eq!(resp.status, 303, "{}", resp.text());
    }
    assert_eq!(
        admin
            .post_form(&format!("/requests/{id}/complete"), &[("csrf", &csrf)])
            .await
            .status,
        303
    );

    let mut conn = app.test_db.db.pool().acquire().await.unwrap();
    let naiji: Vec<_> = sos_intake::outbox::list(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == "naiji")
        .collect();
    assert_eq!(naiji.len(), 1);
    assert_eq!(
        naiji[0].recipient, SENDER,
        "the 内示 goes to the address the request came from"
    );
    let raw = sos_intake::outbox::raw(&mut conn, naiji[0].id)
        .await
        .unwrap()
        .unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(parsed.in_reply_to().as_text(), Some(ORIGINAL_ID));
    assert!(String::from_utf8_lossy(&raw).contains(&format!("References: <{ORIGINAL_ID}>")));
    let body = parsed.body_text(0).unwrap().to_string();
    assert!(
        body.contains("配布数 2,000枚") && body.contains("送付日 2026年11月24日（火）"),
        "{body}"
    );

    // The sender's next mail (the next day, after the cut-off: a new batch)
    // is filed by the pipeline that was already running, without a restart.
    let next = String::from_utf8(sample("07-unknown-sender.eml"))
        .unwrap()
        .replace(ORIGINAL_ID, "20261120140000.12@midori-naika.example.jp");
    let next_day = DateTime::parse_from_rfc3339("2026-11-20T14:00:00+09:00").unwrap();
    let next = intake.process(next.as_bytes(), next_day).await.unwrap();
    assert_eq!(next.disposition, Disposition::Accepted, "{next:?}");
    assert_eq!(next.receipts.len(), 1, "{next:?}");
}
