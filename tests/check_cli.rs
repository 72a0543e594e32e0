//! `sos-intake check` end to end: the built binary on the reference forms and
//! on sheets generated here with rust_xlsxwriter (inserted rows and columns,
//! merged cells, full-width and text numbers, formulas without cached values,
//! several worksheets, a code that lost its leading zero), plus files that
//! cannot be read at all.

use rust_xlsxwriter::{Format, Workbook, Worksheet};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const FORMS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/forms");

/// A cell value of a generated sheet.
#[derive(Clone, Debug)]
enum V {
    /// Text.
    S(&'static str),
    /// Owned text.
    T(String),
    /// A number.
    N(f64),
    /// A formula, written without a cached value.
    F(&'static str),
    /// A date (year, month, day), formatted as a date.
    D(u16, u8, u8),
}

/// A form as cells at zero-based (row, col) and merged ranges.
#[derive(Clone, Debug)]
struct Form {
    cells: Vec<(u32, u16, V)>,
    merges: Vec<(u32, u16, u32, u16)>,
}

fn pos(a1: &str) -> (u32, u16) {
    let split = a1.find(|c: char| c.is_ascii_digit()).unwrap();
    let (letters, digits) = a1.split_at(split);
    let col = letters
        .bytes()
        .fold(0u16, |acc, b| acc * 26 + (b - b'A' + 1) as u16)
        - 1;
    (digits.parse::<u32>().unwrap() - 1, col)
}

impl Form {
    /// The filled example of `shared/forms/example-filled.xlsx`, rebuilt.
    fn example() -> Form {
        use V::*;
        let cells: Vec<(&str, V)> = vec![
            ("A1", S("緊急配布要請シート（G-MIS未登録医療機関用）")),
            ("A11", S("【医療機関記入欄】")),
            ("B12", S("医療機関名")),
            ("C12", S("みどり内科クリニック")),
            ("B13", S("医療機関コード")),
            ("C13", S("1312345679")),
            ("B14", S("郵便番号")),
            ("C14", S("160-0023")),
            ("E14", S("都道府県")),
            ("F14", S("東京都")),
            ("B15", S("医療機関住所")),
            ("C15", S("東京都新宿区西新宿2-8-1")),
            ("B16", S("連絡先電話番号")),
            ("C16", S("03-1234-5678")),
            ("E16", S("医療機関担当者名")),
            ("F16", S("山田 花子")),
            ("B18", S("配布物品一覧")),
            ("C18", S("緊急配布要請")),
            ("D18", S("前日時点の在庫量")),
            ("E18", S("現在の在庫の備蓄見通し\n（プルダウンで選択）")),
            ("F18", S("今後1週間あたりの\n想定消費量")),
            ("G18", S("今後1週間に購入できる\n見込み量")),
            ("H18", S("調達不可事由")),
            ("B19", S("サージカルマスク")),
            ("B20", S("N95マスク")),
            ("B21", S("フェイスシールド")),
            ("B22", S("アイソレーションガウン")),
            ("B23", S("非滅菌手袋（枚で記入)")),
            ("C23", S("要請する")),
            ("D23", N(800.0)),
            ("E23", S("1週間以内")),
            ("F23", N(1200.0)),
            ("G23", N(200.0)),
            ("H23", S("欠品のため卸から入荷未定")),
            ("A25", S("【都道府県記入欄】")),
            ("B26", S("配布物品一覧")),
            ("C26", S("緊急配布要請\n要否")),
            ("D26", S("配布方法")),
            ("E26", S("県の配布枚数")),
            ("F26", S("国の配布枚数")),
            ("G26", S("総配布枚数")),
            ("H26", S("都道府県意見（要否決定理由）")),
            ("B27", S("サージカルマスク")),
            ("B28", S("N95マスク")),
            ("B29", S("フェイスシールド")),
            ("B30", S("アイソレーションガウン")),
            ("B31", S("非滅菌手袋（枚で記入)")),
            ("C31", S("要")),
            ("D31", S("都道府県の備蓄")),
            ("E31", N(2000.0)),
            ("F31", N(0.0)),
            ("G31", N(2000.0)),
            (
                "H31",
                S("過去の緊急配布回数：0回。卸での欠品により入荷見込みなし（聞き取り済）。"),
            ),
            (
                "A33",
                S("※※以下、厚生労働省記入欄にて記入しないようにお願い申し上げます。※※"),
            ),
            ("B34", S("配布物品一覧")),
            ("C34", S("配布承認")),
            ("D34", S("配布数")),
            ("E34", S("送付日")),
            ("F34", S("受領日時")),
            ("B35", S("サージカルマスク")),
            ("B36", S("N95マスク")),
            ("B37", S("フェイスシールド")),
            ("B38", S("アイソレーションガウン")),
            ("B39", S("非滅菌手袋（枚で記入)")),
        ];
        Form {
            cells: cells
                .into_iter()
                .map(|(a1, v)| {
                    let (r, c) = pos(a1);
                    (r, c, v)
                })
                .collect(),
            merges: vec![],
        }
    }

    /// Sets (or replaces) the value of a cell given in the reference layout.
    fn set(mut self, a1: &str, v: V) -> Form {
        let (r, c) = pos(a1);
        self.cells.retain(|(rr, cc, _)| (*rr, *cc) != (r, c));
        self.cells.push((r, c, v));
        self
    }

    /// The reference form's merged value cells.
    fn with_merges(mut self) -> Form {
        for (a, b) in [
            ("C12", "H12"),
            ("C13", "H13"),
            ("F14", "H14"),
            ("C15", "H15"),
            ("F16", "H16"),
        ] {
            let (r1, c1) = pos(a);
            let (r2, c2) = pos(b);
            self.merges.push((r1, c1, r2, c2));
        }
        self
    }

    /// Inserts `n` rows before zero-based row `at`.
    fn insert_rows(mut self, at: u32, n: u32) -> Form {
        for (r, _, _) in &mut self.cells {
            if *r >= at {
                *r += n;
            }
        }
        for (r1, _, r2, _) in &mut self.merges {
            if *r1 >= at {
                *r1 += n;
                *r2 += n;
            }
        }
        self
    }

    /// Inserts `n` columns before zero-based column `at`.
    fn insert_cols(mut self, at: u16, n: u16) -> Form {
        for (_, c, _) in &mut self.cells {
            if *c >= at {
                *c += n;
            }
        }
        for (_, c1, _, c2) in &mut self.merges {
            if *c1 >= at {
                *c1 += n;
                *c2 += n;
            }
        }
        self
    }

    fn write_to(&self, sheet: &mut Worksheet) {
        // Formulas get no cached value, as some tools write them.
        sheet.set_formula_result_default("");
        let plain = Format::new();
        for (r1, c1, r2, c2) in &self.merges {
            let text = self
                .cells
                .iter()
                .find(|(r, c, _)| (r, c) == (r1, c1))
                .and_then(|(_, _, v)| match v {
                    V::S(s) => Some(s.to_string()),
                    V::T(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            sheet
                .merge_range(*r1, *c1, *r2, *c2, &text, &plain)
                .unwrap();
        }
        for (r, c, v) in &self.cells {
            if self.merges.iter().any(|(r1, c1, _, _)| (r1, c1) == (r, c))
                && matches!(v, V::S(_) | V::T(_))
            {
                continue;
            }
            match v {
                V::S(s) => sheet.write_string(*r, *c, *s).map(|_| ()),
                V::T(s) => sheet.write_string(*r, *c, s).map(|_| ()),
                V::N(n) => sheet.write_number(*r, *c, *n).map(|_| ()),
                V::F(f) => sheet.write_formula(*r, *c, *f).map(|_| ()),
                V::D(y, m, d) => {
                    let date = rust_xlsxwriter::ExcelDateTime::from_ymd(*y, *m, *d).unwrap();
                    let format = Format::new().set_num_format("yyyy/mm/dd");
                    sheet
                        .write_datetime_with_format(*r, *c, &date, &format)
                        .map(|_| ())
                }
            }
            .unwrap();
        }
    }

    fn save(&self, dir: &Path, name: &str) -> PathBuf {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("緊急配布要請シート").unwrap();
        self.write_to(sheet);
        save(&mut book, dir, name)
    }
}

fn save(book: &mut Workbook, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, book.save_to_buffer().unwrap()).unwrap();
    path
}

/// Runs `check --json` and returns the exit code and the JSON lines.
fn check_json(files: &[&Path]) -> (i32, Vec<Value>) {
    let out = Command::new(env!("CARGO_BIN_EXE_sos-intake"))
        .arg("check")
        .arg("--json")
        .args(files)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code().unwrap(), lines)
}

fn findings(line: &Value) -> Vec<(String, String)> {
    line["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["cell"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn pair(code: &str, cell: &str) -> (String, String) {
    (code.to_string(), cell.to_string())
}

#[test]
fn reference_example_is_ok() {
    let path = Path::new(FORMS).join("example-filled.xlsx");
    let (code, lines) = check_json(&[&path]);
    assert_eq!(code, 0);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["status"], "ok");
    assert_eq!(lines[0]["institution"]["code"], "1312345679");
    assert_eq!(lines[0]["institution"]["prefecture"], "東京都");
    let gloves = &lines[0]["items"][4];
    assert_eq!(gloves["item"], "non_sterile_gloves");
    assert_eq!(gloves["requested"], true);
    assert_eq!(gloves["prefecture"]["total_quantity"], 2000);
    assert_eq!(findings(&lines[0]), vec![]);
}

#[test]
fn blank_reference_form_has_errors_at_the_value_cells() {
    let path = Path::new(FORMS).join("sos-request-sheet.xlsx");
    let (code, lines) = check_json(&[&path]);
    assert_eq!(code, 1);
    assert_eq!(lines[0]["status"], "errors");
    let f = findings(&lines[0]);
    assert!(
        f.contains(&pair("institution.field.missing", "C12")),
        "{f:?}"
    );
    assert!(
        f.contains(&pair("institution.field.missing", "F14")),
        "{f:?}"
    );
    assert!(
        f.contains(&pair("institution.no_item_requested", "C19")),
        "{f:?}"
    );
}

#[test]
fn generated_example_matches_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let path = Form::example().with_merges().save(dir.path(), "ok.xlsx");
    let (code, lines) = check_json(&[&path]);
    assert_eq!(findings(&lines[0]), vec![]);
    assert_eq!(code, 0);
}

#[test]
fn inserted_rows_and_columns_shift_the_references() {
    let dir = tempfile::tempdir().unwrap();
    let form = Form::example()
        .set("G31", V::N(2500.0)) // total ≠ 2000 + 0
        .set("C13", V::S("131234567")) // nine digits
        .with_merges()
        .insert_rows(20, 2) // two rows inside the item table (after row 20)
        .insert_rows(0, 3) // three rows on top
        .insert_cols(0, 1); // one column before A
    let path = form.save(dir.path(), "shifted.xlsx");
    let (code, lines) = check_json(&[&path]);
    assert_eq!(code, 1);
    let f = findings(&lines[0]);
    // C13 → D16; G31 → H36 (3 + 2 rows, 1 column).
    assert_eq!(
        f,
        vec![
            pair("institution.code.format", "D16"),
            pair("prefecture.total.mismatch", "H36")
        ]
    );
    assert_eq!(lines[0]["findings"][1]["value"], "2500");
}

#[test]
fn full_width_and_text_numbers_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let form = Form::example()
        .set("D23", V::S("８００"))
        .set("F23", V::S("1,200"))
        .set("G23", V::S("200枚"))
        .set("E23", V::S("２～３週間"))
        .set("E31", V::S("２，０００"))
        .set("G31", V::S("2000 "));
    let path = form.save(dir.path(), "fullwidth.xlsx");
    let (code, lines) = check_json(&[&path]);
    assert_eq!(findings(&lines[0]), vec![]);
    assert_eq!(code, 0);
    let gloves = &lines[0]["items"][4];
    assert_eq!(
        (gloves["stock"].as_i64(), gloves["weekly_use"].as_i64()),
        (Some(800), Some(1200))
    );
    assert_eq!(gloves["outlook"], "2～3週間");
}

#[test]
fn wave_dash_outlook_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = Form::example()
        .set("E23", V::S("2〜3週間"))
        .save(dir.path(), "wave.xlsx");
    let (_, lines) = check_json(&[&path]);
    assert_eq!(lines[0]["items"][4]["outlook"], "2～3週間");
}

#[test]
fn simple_sum_formula_without_cached_value_is_computed() {
    let dir = tempfile::tempdir().unwrap();
    let path = Form::example()
        .set("G31", V::F("=E31+F31"))
        .save(dir.path(), "formula.xlsx");
    let (code, lines) = check_json(&[&path]);
    assert_eq!(findings(&lines[0]), vec![]);
    assert_eq!(lines[0]["items"][4]["prefecture"]["total_quantity"], 2000);
    assert_eq!(code, 0);

    let path = Form::example()
        .set("G31", V::F("=SUM(E31:F31)"))
        .set("F31", V::N(500.0))
        .save(dir.path(), "sum.xlsx");
    let (_, lines) = check_json(&[&path]);
    // 2500 = 2000 + 500 is consistent; national with prefecture stock is not.
    assert_eq!(
        findings(&lines[0])[0],
        pair("prefecture.method.stock_with_national", "F31")
    );
}

#[test]
fn other_formula_without_cached_value_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = Form::example()
        .set("G31", V::F("=E31*1"))
        .save(dir.path(), "formula.xlsx");
    let (code, lines) = check_json(&[&path]);
    assert_eq!(code, 1);
    assert_eq!(
        findings(&lines[0]),
        vec![pair("sheet.formula.no_value", "G31")]
    );
    assert_eq!(lines[0]["findings"][0]["value"], "=E31*1");
}

#[test]
fn numeric_code_gets_its_leading_zero_back() {
    let dir = tempfile::tempdir().unwrap();
    let form = Form::example()
        .set("C13", V::N(110113719.0))
        .set("F14", V::S("北海道"))
        .set("C15", V::S("北海道札幌市中央区北1条西1丁目"))
        .set("C14", V::S("060-0001"));
    let path = form.save(dir.path(), "hokkaido.xlsx");
    let (code, lines) = check_json(&[&path]);
    assert_eq!(findings(&lines[0]), vec![]);
    assert_eq!(lines[0]["institution"]["code"], "0110113719");
    assert_eq!(code, 0);
}

#[test]
fn short_prefecture_name_reads_as_the_full_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = Form::example()
        .set("F14", V::S("東京"))
        .save(dir.path(), "tokyo.xlsx");
    let (_, lines) = check_json(&[&path]);
    assert_eq!(lines[0]["institution"]["prefecture"], "東京都");
    assert_eq!(findings(&lines[0]), vec![]);
}

#[test]
fn every_worksheet_with_the_form_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mut book = Workbook::new();
    let notes = book.add_worksheet();
    notes.set_name("記入例の説明").unwrap();
    notes
        .write_string(0, 0, "このブックには2医療機関分のシートがあります")
        .unwrap();
    let first = book.add_worksheet();
    first.set_name("A病院").unwrap();
    Form::example().write_to(first);
    let second = book.add_worksheet();
    second.set_name("B病院").unwrap();
    Form::example()
        .set("E23", V::S("4週間以上"))
        .write_to(second);
    let path = save(&mut book, dir.path(), "two.xlsx");
    let (code, lines) = check_json(&[&path]);
    assert_eq!(code, 1);
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (lines[0]["sheet"].as_str(), lines[0]["status"].as_str()),
        (Some("A病院"), Some("ok"))
    );
    assert_eq!(
        (lines[1]["sheet"].as_str(), lines[1]["status"].as_str()),
        (Some("B病院"), Some("errors"))
    );
    assert_eq!(
        findings(&lines[1]),
        vec![pair("item.outlook.not_eligible", "E23")]
    );
}

#[test]
fn warnings_alone_exit_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = Form::example()
        .set("D23", V::N(5000.0))
        .save(dir.path(), "stock.xlsx");
    let (code, lines) = check_json(&[&path]);
    assert_eq!(code, 0);
    assert_eq!(lines[0]["status"], "ok");
    assert_eq!(
        findings(&lines[0]),
        vec![pair("item.stock.over_month", "D23")]
    );
    assert_eq!(lines[0]["findings"][0]["severity"], "warning");
    assert_eq!(
        lines[0]["findings"][0]["message"],
        "在庫量が1ヶ月分以上の可能性あり（自動判定）"
    );
}

#[test]
fn unreadable_files_get_a_line_and_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.xlsx");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("note.xlsx");
    std::fs::write(&text, "これはExcelではありません").unwrap();
    let good = Form::example().save(dir.path(), "good.xlsx");
    let truncated = dir.path().join("truncated.xlsx");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let (code, lines) = check_json(&[&empty, &text, &truncated, &good]);
    assert_eq!(code, 2);
    assert_eq!(lines.len(), 4);
    let reasons: Vec<_> = lines
        .iter()
        .map(|l| (l["status"].as_str().unwrap(), l["reason"]["code"].as_str()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("unreadable", Some("empty")),
            ("unreadable", Some("not_a_spreadsheet")),
            ("unreadable", Some("corrupt")),
            ("ok", None)
        ]
    );
    assert!(
        lines[0]["reason"]["message"]
            .as_str()
            .unwrap()
            .contains("空")
    );
}

#[test]
fn workbook_without_the_form_is_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let mut book = Workbook::new();
    book.add_worksheet().write_string(0, 0, "売上集計").unwrap();
    let path = save(&mut book, dir.path(), "other.xlsx");
    let (code, lines) = check_json(&[&path]);
    assert_eq!(code, 2);
    assert_eq!(lines[0]["reason"]["code"], "no_form");
}

#[test]
fn human_report_names_cell_field_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = Form::example()
        .set("G31", V::N(2500.0))
        .save(dir.path(), "bad.xlsx");
    let out = Command::new(env!("CARGO_BIN_EXE_sos-intake"))
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("G31 総配布枚数（非滅菌手袋）「2500」"),
        "{text}"
    );
    assert!(text.contains("prefecture.total.mismatch"), "{text}");
}

#[test]
fn merged_value_cells_read_from_the_top_left() {
    let dir = tempfile::tempdir().unwrap();
    // Name blank in a merged C12:H12: the finding points at C12, not D12.
    let form = Form::example().set("C12", V::S("")).with_merges();
    let path = form.save(dir.path(), "merged.xlsx");
    let (_, lines) = check_json(&[&path]);
    assert_eq!(
        findings(&lines[0]),
        vec![pair("institution.field.missing", "C12")]
    );
    // A label merged over two columns: the value is right of the merge.
    let mut form = Form::example()
        .set("C16", V::S(""))
        .set("D16", V::S("03-1234-5678"));
    form.merges.push((15, 1, 15, 2));
    let path = form.save(dir.path(), "merged-label.xlsx");
    let (_, lines) = check_json(&[&path]);
    assert_eq!(findings(&lines[0]), vec![]);
    assert_eq!(lines[0]["institution"]["phone"], "03-1234-5678");
    let _ = V::T(String::new());
}

#[test]
fn labels_with_notes_and_numbered_rows_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut form = Form::example()
        .set("B13", V::S("医療機関コード（10桁・半角）"))
        .set("B14", V::S("郵便番号 ※ハイフンあり"));
    for (i, a1) in [
        "A19", "A20", "A21", "A22", "A23", "A27", "A28", "A29", "A30", "A31",
    ]
    .iter()
    .enumerate()
    {
        form = form.set(a1, V::T(format!("{}", i % 5 + 1)));
    }
    let path = form
        .set("C13", V::S("1312345670"))
        .save(dir.path(), "notes.xlsx");
    let (_, lines) = check_json(&[&path]);
    // The code is read from C13 (its check digit is wrong), gloves from row 23.
    assert_eq!(
        findings(&lines[0]),
        vec![pair("institution.code.check_digit", "C13")]
    );
    assert_eq!(lines[0]["items"][4]["stock"], 800);
    assert_eq!(lines[0]["items"][4]["prefecture"]["total_quantity"], 2000);
}

#[test]
fn reason_merged_down_over_several_rows_reads_for_each() {
    let dir = tempfile::tempdir().unwrap();
    // 調達不可事由 merged H22:H23 with the text in H22: gloves (row 23) reads it.
    let mut form = Form::example()
        .set("H23", V::S(""))
        .set("H22", V::S("欠品のため卸から入荷未定"));
    form.merges.push((21, 7, 22, 7));
    let path = form.save(dir.path(), "merged-down.xlsx");
    let (_, lines) = check_json(&[&path]);
    assert_eq!(findings(&lines[0]), vec![]);
    assert_eq!(lines[0]["items"][4]["reason"], "欠品のため卸から入荷未定");
}

#[test]
fn second_form_on_one_worksheet_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut form = Form::example();
    let mut copy = Form::example().insert_rows(0, 45);
    form.cells.append(&mut copy.cells);
    let path = form.save(dir.path(), "stacked.xlsx");
    let (code, lines) = check_json(&[&path]);
    assert_eq!(code, 1);
    assert_eq!(
        findings(&lines[0]),
        vec![pair("sheet.form.repeated", "A56")]
    );
}

#[test]
fn dates_read_as_iso_text() {
    let dir = tempfile::tempdir().unwrap();
    // 送付日 filled in the MHLW block: reported with the date as text.
    let path = Form::example()
        .set("E39", V::D(2026, 5, 12))
        .save(dir.path(), "date.xlsx");
    let (code, lines) = check_json(&[&path]);
    assert_eq!(code, 1);
    assert_eq!(findings(&lines[0]), vec![pair("mhlw.not_empty", "E39")]);
    assert_eq!(lines[0]["findings"][0]["value"], "2026-05-12");
}
