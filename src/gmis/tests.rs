//! Unit tests of the G-MIS export reader on the sample export, its
//! Shift_JIS and BOM-less versions, and broken files.

use super::*;
// The tests read the sentences staff see, so they word the rows.
use crate::messages::gmis_csv::row_error;
use crate::request::{Method, Need, Outlook};

const SAMPLE: &[u8] = include_bytes!("../../tests/fixtures/gmis/gmis-sos-export-sample.csv");

const HEADER: &str = "レコードID,申請日時,医療機関名,医療機関コード,都道府県,対応ステータス,物資,前日時点の在庫量,現在の備蓄見通し,今後1週間の想定消費量,今後1週間の購入見込み量,調達不可事由,要否,配布方法,県の配布枚数,国の配布枚数,総配布枚数,都道府県意見,都道府県確認ステータス";

/// A data row of the sample's shape for `id`, with `qty` as 総配布枚数.
fn row(id: &str, item: &str, total: &str) -> String {
    format!(
        "{id},2026/11/20 10:15,さくら総合病院,1313000018,東京都,都道府県・国確認中,{item},3000,1週間以内,8000,2000,卸の欠品,要,国による直送,0,{total},{total},過去の緊急配布：1回。欠品,完了"
    )
}

fn csv(rows: &[String]) -> Vec<u8> {
    let mut text = String::from(HEADER);
    for r in rows {
        text.push_str("\r\n");
        text.push_str(r);
    }
    text.push_str("\r\n");
    text.into_bytes()
}

fn sample_text() -> &'static str {
    std::str::from_utf8(SAMPLE)
        .unwrap()
        .trim_start_matches('\u{FEFF}')
}

fn assert_sample_requests(export: &GmisExport) {
    assert!(export.errors.is_empty(), "{:?}", export.errors);
    assert_eq!(export.rows, 3);
    let [tokyo, hokkaido] = export.requests.as_slice() else {
        panic!("two requests expected: {:?}", export.requests);
    };
    assert_eq!(tokyo.record_id, "a0B5g00000Xy1AAA");
    assert_eq!(tokyo.submitted_at.to_rfc3339(), "2026-11-20T10:15:00+09:00");
    assert_eq!(tokyo.institution.name, "さくら総合病院");
    assert_eq!(tokyo.institution.code, "1313000018");
    assert_eq!(tokyo.prefecture.name(), "東京都");
    assert_eq!(tokyo.institution.prefecture, Some(tokyo.prefecture));
    assert_eq!(tokyo.status, Status::UnderReview);
    assert_eq!(tokyo.prefecture_status, "完了");
    assert_eq!(tokyo.first_line, 2);
    let [gloves] = tokyo.lines.as_slice() else {
        panic!("one line")
    };
    assert_eq!(gloves.item, Item::NonSterileGloves);
    assert!(gloves.requested);
    assert_eq!(
        (gloves.stock, gloves.weekly_use, gloves.weekly_purchase),
        (Some(3000), Some(8000), Some(2000))
    );
    assert_eq!(gloves.outlook, Some(Outlook::WithinOneWeek));
    assert_eq!(gloves.reason, "卸の欠品（入荷未定）");
    assert_eq!(gloves.prefecture.need, Some(Need::Needed));
    assert_eq!(gloves.prefecture.method, Some(Method::NationalDirect));
    assert_eq!(
        (
            gloves.prefecture.prefecture_quantity,
            gloves.prefecture.national_quantity,
            gloves.prefecture.total_quantity
        ),
        (Some(0), Some(12000), Some(12000))
    );
    assert_eq!(
        gloves.prefecture.opinion,
        "過去の緊急配布：1回。卸3社とも欠品（聞き取り済）"
    );

    assert_eq!(hokkaido.record_id, "a0B5g00000Xy1AAB");
    assert_eq!(hokkaido.institution.code, "0110113719");
    assert_eq!(
        hokkaido.submitted_at.to_rfc3339(),
        "2026-11-20T14:02:00+09:00"
    );
    assert_eq!(hokkaido.first_line, 3);
    let items: Vec<Item> = hokkaido.lines.iter().map(|l| l.item).collect();
    assert_eq!(
        items,
        vec![Item::SurgicalMask, Item::NonSterileGloves],
        "form order"
    );
    let mask = &hokkaido.lines[0];
    assert_eq!(mask.outlook, Some(Outlook::FourWeeksOrMore));
    assert_eq!(mask.prefecture.need, Some(Need::NotNeeded));
    assert_eq!(
        (mask.prefecture.method, mask.prefecture.total_quantity),
        (None, None)
    );
    assert_eq!(mask.reason, "");
    assert_eq!(hokkaido.lines[1].outlook, Some(Outlook::TwoToThreeWeeks));
    assert_eq!(
        hokkaido.lines[1].prefecture.method,
        Some(Method::PrefectureStock)
    );
}

#[test]
fn sample_export_with_bom() {
    assert!(
        SAMPLE.starts_with(b"\xEF\xBB\xBF"),
        "the fixture is the BOM version"
    );
    let export = parse(SAMPLE).unwrap();
    assert_eq!(export.encoding, TextEncoding::Utf8Bom);
    assert!(!export.decode_errors);
    assert_sample_requests(&export);
}

#[test]
fn sample_export_without_bom() {
    let export = parse(sample_text().as_bytes()).unwrap();
    assert_eq!(export.encoding, TextEncoding::Utf8);
    assert_sample_requests(&export);
}

#[test]
fn sample_export_in_shift_jis() {
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(sample_text());
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err(), "really not UTF-8");
    let export = parse(&bytes).unwrap();
    assert_eq!(export.encoding, TextEncoding::ShiftJis);
    assert!(!export.decode_errors);
    assert_sample_requests(&export);
}

#[test]
fn sample_export_in_utf16_tab_separated() {
    let tsv = sample_text().replace(',', "\t");
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(tsv.encode_utf16().flat_map(u16::to_le_bytes));
    let export = parse(&bytes).unwrap();
    assert_eq!(export.encoding, TextEncoding::Utf16);
    assert_sample_requests(&export);
}

#[test]
fn shift_jis_with_undecodable_bytes_is_reported() {
    let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(sample_text());
    let mut bytes = bytes.into_owned();
    // Break the last row's institution name with a lone lead byte.
    let pos = bytes
        .windows(2)
        .rposition(|w| w == b",\x96")
        .expect("a kanji after a comma")
        + 1;
    bytes.insert(pos, 0xFF);
    bytes.insert(pos, 0x81);
    let export = parse(&bytes).unwrap();
    assert_eq!(export.encoding, TextEncoding::ShiftJis);
    assert!(export.decode_errors);
    assert!(
        export
            .errors
            .iter()
            .any(|e| row_error(e).contains("文字化け")),
        "{:?}",
        export.errors
    );
}

#[test]
fn bad_row_in_the_middle_is_reported_and_the_others_read() {
    let bytes = csv(&[
        row("R1", "非滅菌手袋", "100"),
        row("R2", "非滅菌手袋", "たくさん"),
        row("R3", "非滅菌手袋", "300"),
    ]);
    let export = parse(&bytes).unwrap();
    let ids: Vec<&str> = export
        .requests
        .iter()
        .map(|r| r.record_id.as_str())
        .collect();
    assert_eq!(ids, vec!["R1", "R3"]);
    // 国の配布枚数 and 総配布枚数 both hold the bad value.
    let [national, total] = export.errors.as_slice() else {
        panic!("{:?}", export.errors)
    };
    for err in [national, total] {
        assert_eq!(err.line, 3);
        assert_eq!(err.record_id.as_deref(), Some("R2"));
        assert!(
            row_error(err).contains("たくさん") && row_error(err).contains("R2"),
            "{}",
            row_error(err)
        );
    }
    assert!(row_error(national).contains("国の配布枚数"));
    assert!(row_error(total).contains("総配布枚数"));
}

#[test]
fn a_bad_row_leaves_out_its_whole_request() {
    let bytes = csv(&[
        row("R1", "非滅菌手袋", "100"),
        row("R1", "サージカルマスク", "-5"),
        row("R2", "非滅菌手袋", "1"),
    ]);
    let export = parse(&bytes).unwrap();
    let ids: Vec<&str> = export
        .requests
        .iter()
        .map(|r| r.record_id.as_str())
        .collect();
    assert_eq!(ids, vec!["R2"]);
    assert_eq!(
        export.errors.len(),
        2,
        "国 and 総 are both negative: {:?}",
        export.errors
    );
    assert!(
        export
            .errors
            .iter()
            .all(|e| e.line == 3 && row_error(e).contains("R1"))
    );
}

#[test]
fn quoted_fields_with_commas_and_line_breaks() {
    let opinion_row = row("R1", "非滅菌手袋", "100").replace(
        "過去の緊急配布：1回。欠品",
        "\"初回。欠品, 入荷未定\r\n（聞き取り済）\"\"要\"\"\"",
    );
    let bytes = csv(&[
        opinion_row,
        row("R2", "非滅菌手袋", "x"),
        row("R3", "非滅菌手袋", "3"),
    ]);
    let export = parse(&bytes).unwrap();
    assert_eq!(export.requests.len(), 2);
    assert_eq!(
        export.requests[0].lines[0].prefecture.opinion,
        "初回。欠品, 入荷未定\r\n（聞き取り済）\"要\""
    );
    // R1 spans lines 2–3, so R2 starts on physical line 4.
    assert_eq!(export.errors.len(), 2);
    assert!(
        export.errors.iter().all(|e| e.line == 4),
        "{:?}",
        export.errors
    );
    assert_eq!(export.requests[1].first_line, 5);
}

#[test]
fn columns_found_by_name_in_any_order_with_extras() {
    let mut records: Vec<Vec<String>> = sample_text()
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    for r in &mut records {
        r.reverse();
        r.insert(3, "extra".into());
    }
    records[0][3] = "G-MIS内部番号".into();
    // The sheet's wording of a header is accepted too.
    for cell in &mut records[0] {
        if cell == "現在の備蓄見通し" {
            *cell = "現在の在庫の備蓄見通し".into();
        }
    }
    let text: String = records.iter().map(|r| r.join(",") + "\n").collect();
    let export = parse(text.as_bytes()).unwrap();
    assert_sample_requests(&export);
}

#[test]
fn missing_required_column_is_a_file_error() {
    let text = sample_text().replacen(",物資,", ",品目,", 1);
    let err = parse(text.as_bytes()).unwrap_err();
    assert_eq!(
        err,
        FileError::MissingColumns {
            columns: vec!["物資"],
            encoding: TextEncoding::Utf8
        }
    );
    assert!(err.to_string().contains("「物資」"));
    assert_eq!(parse(b"").unwrap_err(), FileError::NoHeader);
    assert_eq!(parse(b"\r\n,,,\r\n").unwrap_err(), FileError::NoHeader);
    let dup = sample_text().replacen("レコードID,", "レコードID,レコードID,", 1);
    assert_eq!(
        parse(dup.as_bytes()).unwrap_err(),
        FileError::DuplicateColumn {
            column: "レコードID"
        }
    );
}

#[test]
fn rows_of_one_request_must_agree() {
    let other_code = row("R1", "サージカルマスク", "5").replace("1313000018", "1313000026");
    let bytes = csv(&[row("R1", "非滅菌手袋", "100"), other_code]);
    let export = parse(&bytes).unwrap();
    assert!(export.requests.is_empty());
    assert_eq!(export.errors[0].line, 3);
    assert!(
        row_error(&export.errors[0]).contains("医療機関コード")
            && row_error(&export.errors[0]).contains("2行目")
    );

    let bytes = csv(&[
        row("R1", "非滅菌手袋", "100"),
        row("R1", "非滅菌手袋（枚で記入）", "100"),
    ]);
    let export = parse(&bytes).unwrap();
    assert!(export.requests.is_empty());
    assert!(
        row_error(&export.errors[0]).contains("非滅菌手袋"),
        "{:?}",
        export.errors
    );
}

#[test]
fn field_values_as_people_and_spreadsheets_write_them() {
    let messy = row("R1", "医療用(サージカル)マスク", "\"１２,０００\"")
        .replace("2026/11/20 10:15", "2026/1/5 9:05")
        .replace("1313000018", "131-300-0018")
        .replace(",東京都,", ",東京,")
        .replace("1週間以内", "２〜３週間");
    let lost_zero = row("R2", "非滅菌手袋", "10").replace("1313000018,東京都", "110113719,北海道");
    let short = row("R3", "非滅菌手袋", "10").replace("1313000018", "131300001");
    let export = parse(&csv(&[messy, lost_zero, short])).unwrap();
    let r1 = &export.requests[0];
    assert_eq!(r1.submitted_at.to_rfc3339(), "2026-01-05T09:05:00+09:00");
    assert_eq!(r1.institution.code, "1313000018");
    assert_eq!(r1.prefecture.name(), "東京都");
    assert_eq!(r1.lines[0].item, Item::SurgicalMask);
    assert_eq!(r1.lines[0].outlook, Some(Outlook::TwoToThreeWeeks));
    assert_eq!(r1.lines[0].prefecture.total_quantity, Some(12000));
    assert_eq!(export.requests[1].institution.code, "0110113719");
    // A 9-digit code that does not start with its prefecture's number is not guessed.
    assert_eq!(export.requests.len(), 2);
    assert_eq!(export.errors.len(), 1);
    assert!(row_error(&export.errors[0]).contains("医療機関コード"));
}

#[test]
fn every_problem_of_a_row_is_listed() {
    let bad = row("", "傘", "1")
        .replace("2026/11/20 10:15", "昨日")
        .replace(",東京都,", ",東京県,")
        .replace("都道府県・国確認中", "保留")
        .replace("国による直送", "宅配");
    let export = parse(&csv(&[bad])).unwrap();
    let text: Vec<String> = export.errors.iter().map(row_error).collect();
    for column in [
        "レコードID",
        "申請日時",
        "都道府県",
        "対応ステータス",
        "物資",
        "配布方法",
    ] {
        assert!(
            text.iter().any(|m| m.contains(column)),
            "{column} missing in {text:?}"
        );
    }
    assert!(
        export
            .errors
            .iter()
            .all(|e| e.line == 2 && e.record_id.is_none())
    );
}

#[test]
fn field_count_mismatch_and_blank_rows() {
    let bytes = csv(&[
        row("R1", "非滅菌手袋", "1"),
        String::new(),
        ",,,,".into(),
        "R9,2026/11/20 10:15".into(),
    ]);
    let export = parse(&bytes).unwrap();
    assert_eq!(export.requests.len(), 1);
    assert_eq!(export.rows, 2);
    let [err] = export.errors.as_slice() else {
        panic!("{:?}", export.errors)
    };
    assert_eq!(err.line, 5);
    assert!(row_error(err).contains("列の数"));
}

/// A tiny deterministic generator, so the fuzz cases are the same each run.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn never_panics_on_mangled_bytes() {
    let mut rng = Lcg(7);
    for cut in 0..SAMPLE.len() {
        let _ = parse(&SAMPLE[..cut]);
    }
    let alphabet: &[u8] = b",\"\r\n\t\xEF\xBB\xBF\x81\x82\xFF\xFE\x00a1/:";
    for _ in 0..3000 {
        let mut bytes = SAMPLE.to_vec();
        for _ in 0..(rng.next() % 8 + 1) {
            let len = bytes.len() as u64;
            let pos = (rng.next() % len.max(1)) as usize;
            let b = alphabet[(rng.next() % alphabet.len() as u64) as usize];
            match rng.next() % 3 {
                0 => bytes.insert(pos, b),
                1 if pos < bytes.len() => {
                    bytes.remove(pos);
                }
                _ => {
                    if let Some(x) = bytes.get_mut(pos) {
                        *x = b;
                    }
                }
            }
        }
        if let Ok(export) = parse(&bytes) {
            for e in &export.errors {
                assert!(!row_error(e).is_empty());
            }
        }
    }
}

#[test]
fn newcomer_sample_in_samples_reads_cleanly() {
    let bytes = include_bytes!("../../samples/gmis/gmis-sos-export-sample.csv");
    let export = parse(bytes).unwrap();
    assert!(export.errors.is_empty(), "{:?}", export.errors);
    assert_eq!((export.rows, export.requests.len()), (18, 15));
    let prefectures: std::collections::BTreeSet<&str> = export
        .requests
        .iter()
        .map(|r| r.prefecture.name())
        .collect();
    assert_eq!(prefectures.len(), 15);
    let count = |s: Status| export.requests.iter().filter(|r| r.status == s).count();
    assert_eq!(
        (
            count(Status::UnderReview),
            count(Status::Completed),
            count(Status::NotSubmitted)
        ),
        (13, 1, 1)
    );
    let chiba = export
        .requests
        .iter()
        .find(|r| r.prefecture.name() == "千葉県")
        .unwrap();
    assert_eq!(chiba.lines[0].prefecture.opinion.lines().count(), 3);
    for r in &export.requests {
        assert!(
            r.institution.code.starts_with(&r.prefecture.code()),
            "{}",
            r.record_id
        );
    }
}

/// The lines a Salesforce report export ends with (G-MIS is built on it).
const FOOTER: [&str; 5] = [
    "",
    "\"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.\"",
    "\"機密情報 - 転送禁止\"",
    "\"作成者: 厚労 太郎\"",
    "\"厚生労働省\"",
];

#[test]
fn salesforce_footer_is_recognised_not_reported() {
    let mut rows = vec![row("R1", "非滅菌手袋", "1"), row("R2", "非滅菌手袋", "2")];
    rows.extend(FOOTER.iter().map(|l| l.to_string()));
    let export = parse(&csv(&rows)).unwrap();
    assert!(export.errors.is_empty(), "{:?}", export.errors);
    assert_eq!(export.requests.len(), 2);
    assert_eq!(export.rows, 2, "footer lines are not data rows");
    assert_eq!(export.footer_line, Some(5), "header 1, rows 2-3, blank 4");
}

#[test]
fn a_footer_padded_by_excel_with_empty_cells_is_a_footer_too() {
    let mut rows = vec![row("R1", "非滅菌手袋", "1")];
    rows.extend(FOOTER.iter().map(|l| format!("{l},,,,,,,,,,,,,,,,,,")));
    let export = parse(&csv(&rows)).unwrap();
    assert!(export.errors.is_empty(), "{:?}", export.errors);
    assert_eq!(export.footer_line, Some(4));
}

#[test]
fn broken_rows_are_still_reported_beside_a_footer() {
    let mut rows = vec![
        row("R1", "非滅菌手袋", "1"),
        // A row that lost its cells is not a footer: it does not start one.
        "作成者: だれか".to_string(),
        row("R2", "非滅菌手袋", "x"),
    ];
    rows.extend(FOOTER.iter().map(|l| l.to_string()));
    // Data after the footer is data, and reported when broken.
    rows.push("R3,2026/11/20 10:15".into());
    let export = parse(&csv(&rows)).unwrap();
    assert_eq!(export.requests.len(), 1);
    let mut lines: Vec<usize> = export.errors.iter().map(|e| e.line).collect();
    lines.dedup();
    assert_eq!(lines, vec![3, 4, 10], "{:?}", export.errors);
    assert_eq!(export.footer_line, Some(6));
}

#[test]
fn the_sample_export_with_its_salesforce_footer_reads_cleanly() {
    let read = |name: &str| {
        let path = format!("{}/samples/gmis/{name}", env!("CARGO_MANIFEST_DIR"));
        parse(&std::fs::read(path).unwrap()).unwrap()
    };
    let with_footer = read("gmis-sos-export-salesforce.csv");
    let without = read("gmis-sos-export-sample.csv");
    assert!(with_footer.errors.is_empty(), "{:?}", with_footer.errors);
    assert_eq!(with_footer.requests, without.requests);
    assert_eq!(with_footer.rows, without.rows);
    assert!(with_footer.footer_line.is_some());
}
