//! Listing the queue: every filter, counts per status, paging and order, on
//! SQLite and PostgreSQL.

mod common;

use chrono::NaiveDate;
use common::db::{gmis_filing, sheet_filing};
use sos_intake::prefecture::Prefecture;
use sos_intake::queue::{self, ListFilter, Listing};
use sos_intake::request::{Item, Source, Status};
use sos_intake::validation::{Finding, Severity};

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// A small queue: three sheets on 11-20 (one with errors, one from 大阪府),
/// one sheet on 11-24, one G-MIS request on 11-20 asking for masks.
async fn seed(db: &queue::Db) {
    let mut tx = db.begin().await.unwrap();
    let gloves = &[Item::NonSterileGloves];
    queue::file_sheet(
        &mut tx,
        &sheet_filing(
            "1310000014",
            gloves,
            "2026-11-20T09:00:00+09:00",
            "2026-11-20",
            "a",
        ),
    )
    .await
    .unwrap();
    let mut bad = sheet_filing(
        "1310000022",
        gloves,
        "2026-11-20T09:30:00+09:00",
        "2026-11-20",
        "b",
    );
    bad.findings.push(Finding {
        severity: Severity::Error,
        code: "x".into(),
        cell: Some("C6".into()),
        field: "医療機関コード".into(),
        value: String::new(),
        message: "m".into(),
        fact: None,
    });
    bad.findings.push(Finding {
        severity: Severity::Warning,
        ..bad.findings[0].clone()
    });
    queue::file_sheet(&mut tx, &bad).await.unwrap();
    let mut osaka = sheet_filing(
        "2710000019",
        gloves,
        "2026-11-20T08:00:00+09:00",
        "2026-11-20",
        "c",
    );
    osaka.prefecture = Prefecture::parse("大阪府").unwrap();
    osaka.institution.name = "なにわ_100%病院".into();
    queue::file_sheet(&mut tx, &osaka).await.unwrap();
    queue::file_sheet(
        &mut tx,
        &sheet_filing(
            "1310000030",
            gloves,
            "2026-11-20T15:00:00+09:00",
            "2026-11-24",
            "d",
        ),
    )
    .await
    .unwrap();
    queue::import_gmis(
        &mut tx,
        &gmis_filing(
            "REC1",
            "1313000018",
            &[Item::SurgicalMask],
            Status::UnderReview,
            "2026-11-20T10:00:00+09:00",
            "2026-11-20",
        ),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn list(db: &queue::Db, filter: ListFilter) -> Listing {
    let mut conn = db.pool().acquire().await.unwrap();
    queue::list(&mut conn, &filter).await.unwrap()
}

fn codes(l: &Listing) -> Vec<&str> {
    l.records
        .iter()
        .map(|r| r.institution_code.as_str())
        .collect()
}

both_backends!(a_days_batch_in_receipt_order_with_counts, |t| {
    seed(&t.db).await;
    let day = list(
        &t.db,
        ListFilter {
            batch_date: date("2026-11-20"),
            ..ListFilter::default()
        },
    )
    .await;
    assert_eq!(
        codes(&day),
        vec!["2710000019", "1310000014", "1310000022", "1313000018"]
    );
    assert_eq!(day.total, 4);
    let count = |l: &Listing, s: Status| l.counts.iter().find(|c| c.status == s).unwrap().count;
    assert_eq!(count(&day, Status::UnderReview), 3);
    assert_eq!(count(&day, Status::HasErrors), 1);
    assert_eq!(count(&day, Status::Completed), 0);
    let bad = day
        .records
        .iter()
        .find(|r| r.institution_code == "1310000022")
        .unwrap();
    assert_eq!((bad.error_count, bad.warning_count), (1, 1));

    // A status filter narrows the records and the total, not the counts.
    let review = list(
        &t.db,
        ListFilter {
            batch_date: date("2026-11-20"),
            status: Some(Status::UnderReview),
            ..ListFilter::default()
        },
    )
    .await;
    assert_eq!(review.total, 3);
    assert_eq!(review.records.len(), 3);
    assert_eq!(count(&review, Status::HasErrors), 1);

    // Without a date: newest batch first.
    let all = list(&t.db, ListFilter::default()).await;
    assert_eq!(all.records[0].batch_date, date("2026-11-24").unwrap());
    assert_eq!(all.total, 5);
});

both_backends!(filters_by_prefecture_source_item_and_search, |t| {
    seed(&t.db).await;
    let osaka = list(
        &t.db,
        ListFilter {
            prefecture: Prefecture::parse("大阪"),
            ..ListFilter::default()
        },
    )
    .await;
    assert_eq!(codes(&osaka), vec!["2710000019"]);
    let gmis = list(
        &t.db,
        ListFilter {
            source: Some(Source::Gmis),
            ..ListFilter::default()
        },
    )
    .await;
    assert_eq!(codes(&gmis), vec!["1313000018"]);
    let masks = list(
        &t.db,
        ListFilter {
            item: Some(Item::SurgicalMask),
            ..ListFilter::default()
        },
    )
    .await;
    assert_eq!(codes(&masks), vec!["1313000018"]);
    assert_eq!(masks.records[0].items, vec![Item::SurgicalMask]);
    let gloves = list(
        &t.db,
        ListFilter {
            item: Some(Item::NonSterileGloves),
            ..ListFilter::default()
        },
    )
    .await;
    assert_eq!(gloves.total, 4);

    let by_code = list(
        &t.db,
        ListFilter {
            search: Some("１３１０".into()),
            ..ListFilter::default()
        },
    )
    .await;
    assert_eq!(
        by_code.total, 3,
        "full-width digits fold; codes match by prefix"
    );
    let by_name = list(
        &t.db,
        ListFilter {
            search: Some("_100%".into()),
            ..ListFilter::default()
        },
    )
    .await;
    assert_eq!(
        codes(&by_name),
        vec!["2710000019"],
        "LIKE wildcards in the search are literal"
    );
    let wildcard_only = list(
        &t.db,
        ListFilter {
            search: Some("%".into()),
            ..ListFilter::default()
        },
    )
    .await;
    assert_eq!(wildcard_only.total, 1);
    let nothing = list(
        &t.db,
        ListFilter {
            search: Some("存在しない".into()),
            ..ListFilter::default()
        },
    )
    .await;
    assert_eq!(nothing.total, 0);
    assert!(nothing.records.is_empty());
});

both_backends!(pages_cover_the_batch_once, |t| {
    seed(&t.db).await;
    let mut seen = Vec::new();
    for offset in (0..6).step_by(2) {
        let page = list(
            &t.db,
            ListFilter {
                limit: 2,
                offset,
                ..ListFilter::default()
            },
        )
        .await;
        assert_eq!(page.total, 5);
        seen.extend(page.records.into_iter().map(|r| r.id));
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(seen.len(), 5);
    assert_eq!(unique.len(), 5);
});
