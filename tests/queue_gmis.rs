//! Importing the G-MIS export into the queue (issue 3 item 3), on SQLite and
//! PostgreSQL, from the sample export in `shared/forms/` (copied as a
//! fixture below so the test does not depend on the shared folder).

mod common;

use sos_intake::calendar::CutoffRule;
use sos_intake::commands::gmis::import_file;
use sos_intake::queue::{self, GmisChange, ListFilter};
use sos_intake::request::{Item, Source, Status};

/// The sample export (UTF-8 with BOM), as G-MIS writes it.
const SAMPLE: &str = "\u{feff}レコードID,申請日時,医療機関名,医療機関コード,都道府県,対応ステータス,物資,前日時点の在庫量,現在の備蓄見通し,今後1週間の想定消費量,今後1週間の購入見込み量,調達不可事由,要否,配布方法,県の配布枚数,国の配布枚数,総配布枚数,都道府県意見,都道府県確認ステータス
a0B5g00000Xy1AAA,2026/11/20 10:15,さくら総合病院,1313000018,東京都,都道府県・国確認中,非滅菌手袋,3000,1週間以内,8000,2000,卸の欠品（入荷未定）,要,国による直送,0,12000,12000,過去の緊急配布：1回。卸3社とも欠品（聞き取り済）,完了
a0B5g00000Xy1AAB,2026/11/20 14:02,北斗クリニック,0110113719,北海道,都道府県・国確認中,非滅菌手袋,400,2～3週間,600,200,院内クラスター発生により消費増,要,都道府県の備蓄,800,0,800,初回。クラスター発生のため（聞き取り済）,完了
a0B5g00000Xy1AAB,2026/11/20 14:02,北斗クリニック,0110113719,北海道,都道府県・国確認中,サージカルマスク,5000,4週間以上,500,500,,否,,,,,在庫が1ヶ月分以上あるため対象外,完了
";

async fn import(
    db: &queue::Db,
    csv: &str,
) -> (sos_intake::gmis::GmisExport, Vec<queue::GmisImported>) {
    import_file(db, csv.as_bytes(), CutoffRule::Daily13, "gmis-test")
        .await
        .unwrap()
        .unwrap()
}

fn changes(results: &[queue::GmisImported]) -> Vec<GmisChange> {
    results.iter().map(|r| r.change).collect()
}

both_backends!(sample_export_files_requests_with_batch_dates, |t| {
    let (export, results) = import(&t.db, SAMPLE).await;
    assert!(export.errors.is_empty(), "{:?}", export.errors);
    assert_eq!(
        changes(&results),
        vec![GmisChange::Created, GmisChange::Created]
    );
    let mut conn = t.db.pool().acquire().await.unwrap();
    let sakura = queue::get(&mut conn, results[0].record_id).await.unwrap();
    assert_eq!(sakura.source, Source::Gmis);
    assert_eq!(sakura.gmis_record_id.as_deref(), Some("a0B5g00000Xy1AAA"));
    assert_eq!(sakura.status, Status::UnderReview);
    assert_eq!(
        sakura.batch_date.to_string(),
        "2026-11-20",
        "10:15 is before the cut-off"
    );
    let hokuto = queue::get(&mut conn, results[1].record_id).await.unwrap();
    // 14:02 on Friday 2026-11-20; Monday 11-23 is 勤労感謝の日.
    assert_eq!(hokuto.batch_date.to_string(), "2026-11-24");
    let items: Vec<Item> = hokuto.lines.iter().map(|l| l.item).collect();
    assert_eq!(items, vec![Item::SurgicalMask, Item::NonSterileGloves]);
    assert_eq!(hokuto.history[0].action, "gmis_imported");

    let gmis_only = queue::list(
        &mut conn,
        &ListFilter {
            source: Some(Source::Gmis),
            ..ListFilter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(gmis_only.total, 2);
});

both_backends!(importing_the_same_file_twice_changes_nothing, |t| {
    let (_, first) = import(&t.db, SAMPLE).await;
    let mut conn = t.db.pool().acquire().await.unwrap();
    let before = queue::get(&mut conn, first[0].record_id).await.unwrap();
    drop(conn);
    let (_, second) = import(&t.db, SAMPLE).await;
    assert_eq!(
        changes(&second),
        vec![GmisChange::Unchanged, GmisChange::Unchanged]
    );
    assert_eq!(
        second.iter().map(|r| r.record_id).collect::<Vec<_>>(),
        first.iter().map(|r| r.record_id).collect::<Vec<_>>()
    );
    let mut conn = t.db.pool().acquire().await.unwrap();
    let after = queue::get(&mut conn, first[0].record_id).await.unwrap();
    assert_eq!(after.updated_at, before.updated_at);
    assert_eq!(after.history.len(), before.history.len());
    let all = queue::list(
        &mut conn,
        &ListFilter {
            include_superseded: true,
            ..ListFilter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(all.total, 2);
});

both_backends!(later_export_updates_open_records_only, |t| {
    let (_, first) = import(&t.db, SAMPLE).await;
    // Staff decide and complete さくら; 北斗 stays open with a decision.
    let mut tx = t.db.begin().await.unwrap();
    let approve = sos_intake::request::MhlwDecision {
        approved: Some(true),
        quantity: Some(12000),
        ship_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 25),
        reason: String::new(),
    };
    queue::set_mhlw_decision(
        &mut tx,
        first[0].record_id,
        Item::NonSterileGloves,
        &approve,
        "r",
        "",
    )
    .await
    .unwrap();
    queue::complete(&mut tx, first[0].record_id, "r")
        .await
        .unwrap();
    queue::set_mhlw_decision(
        &mut tx,
        first[1].record_id,
        Item::NonSterileGloves,
        &approve,
        "r",
        "",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // The next export: both requests' quantities changed.
    let later = SAMPLE
        .replace(",0,12000,12000,", ",0,15000,15000,")
        .replace(",800,0,800,", ",1000,0,1000,");
    let (_, second) = import(&t.db, &later).await;
    assert_eq!(
        changes(&second),
        vec![GmisChange::KeptCompleted, GmisChange::Updated]
    );

    let mut conn = t.db.pool().acquire().await.unwrap();
    let sakura = queue::get(&mut conn, first[0].record_id).await.unwrap();
    assert_eq!(
        sakura.lines[0].prefecture.total_quantity,
        Some(12000),
        "受付完了 is never touched"
    );
    let hokuto = queue::get(&mut conn, first[1].record_id).await.unwrap();
    let gloves = hokuto
        .lines
        .iter()
        .find(|l| l.item == Item::NonSterileGloves)
        .unwrap();
    assert_eq!(gloves.prefecture.total_quantity, Some(1000));
    assert_eq!(gloves.mhlw, approve, "an update keeps MHLW's decision");
    assert_eq!(hokuto.history.last().unwrap().action, "gmis_updated");
});

both_backends!(bad_rows_are_reported_and_the_rest_imported, |t| {
    let bad = format!(
        "{SAMPLE}a0B5g00000Xy1AAC,2026/13/45 99:99,誤り病院,1310000014,東京都,都道府県・国確認中,非滅菌手袋,1,1週間以内,1,1,欠品,要,国による直送,0,1,1,初回,完了\n"
    );
    let (export, results) = import(&t.db, &bad).await;
    assert_eq!(export.errors.len(), 1);
    assert_eq!(
        export.errors[0].line, 5,
        "header is line 1, the bad row line 5"
    );
    assert_eq!(
        changes(&results),
        vec![GmisChange::Created, GmisChange::Created]
    );
});

both_backends!(gmis_institutions_are_remembered, |t| {
    import(&t.db, SAMPLE).await;
    let mut tx = t.db.begin().await.unwrap();
    let sheet = common::db::sheet_filing(
        "0110113719",
        &[Item::NonSterileGloves],
        "2026-11-21T09:00:00+09:00",
        "2026-11-24",
        "s",
    );
    let out = queue::file_sheet(&mut tx, &sheet).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(out.status, Status::HasErrors);
    assert_eq!(out.findings_added[0].code, "queue.gmis_registered");
});

both_backends!(shift_jis_export_imports_the_same, |t| {
    let (sjis, _, unmappable) =
        encoding_rs::SHIFT_JIS.encode(SAMPLE.trim_start_matches('\u{feff}'));
    assert!(!unmappable);
    let (export, results) = import_file(&t.db, &sjis, CutoffRule::Daily13, "gmis-test")
        .await
        .unwrap()
        .unwrap();
    assert!(export.errors.is_empty(), "{:?}", export.errors);
    assert_eq!(
        changes(&results),
        vec![GmisChange::Created, GmisChange::Created]
    );
    // And the UTF-8 file afterwards is the same content.
    let (_, again) = import(&t.db, SAMPLE).await;
    assert_eq!(
        changes(&again),
        vec![GmisChange::Unchanged, GmisChange::Unchanged]
    );
});
