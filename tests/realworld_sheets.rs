//! Sheets as prefecture officials really send them: variants of the filled
//! reference form (`samples/forms/example-filled.xlsx`) with the edits
//! people make in Excel — 〒 marks, full-width dashes, `1,000枚`, notes in
//! labels, inserted columns and rows, split headers, instruction sheets,
//! numbers that lost their leading zero — and the same variants re-saved by
//! LibreOffice as .xls and .ods. Each test builds the variant with
//! rust_xlsxwriter, reads it with [`read_workbook`], runs [`check`] and states
//! the values read and every finding (code and A1 cell).
//!
//! Decisions taken here (what an official would expect):
//! - `-`, `－`, `なし` in a quantity cell mean 0; `約1000`, `1.5`, `千`,
//!   negatives are `item.quantity.invalid`; `8箱` / `20ケース` are
//!   `item.quantity.unit` (the number of pieces is unknown), never read as 8.
//! - Gloves in 双 are read as 2 × 枚 with the warning `item.quantity.pairs`.
//! - `〇` / `○` instead of 要請する is `item.request.invalid` (a clear
//!   finding saying what to select); `○要請する` and `要請する（手袋のみ）`
//!   read as 要請する. `必要` for 要否 reads as 要 and `不要` as 否 (what
//!   an official typing instead of using the dropdown means); `検討中` is
//!   `prefecture.need.invalid`.
//! - A sheet whose MHLW block was deleted is accepted: the rule is that the
//!   block must be empty, and a missing block is empty.
//! - Text typed through the IME carries its reading (`<rPh>` furigana) and
//!   rich-text runs in the shared strings: only the text is read.
//! - A hidden item row that repeats a visible one (an old version hidden
//!   instead of deleted) is not read; a hidden row that is its item's only
//!   row still is.
//! - A hidden tab, a 記入例 / 見本 tab, a tab duplicated unchanged, and the
//!   institution's original beside the prefecture's filled copy are not
//!   requests of their own (unless no other tab holds the form).
//! - An address that does not start with the prefecture is a warning; a
//!   `〒160-0023` before it is skipped. `東京` reads as 東京都; `Tokyo` is
//!   `institution.prefecture.unknown`.

use calamine::{Data, Reader, Xlsx, open_workbook};
use rust_xlsxwriter::{Format, Formula, Workbook as XWorkbook};
use sos_intake::request::{Item, Method, Need, Outlook};
use sos_intake::sheet::{RequestSheet, read_workbook};
use sos_intake::validation::{Checked, Policy, check};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/samples/forms/example-filled.xlsx"
);

/// A cell value as written by the variant.
#[derive(Clone, Debug)]
enum V {
    /// Text.
    S(String),
    /// A number, with an optional number format.
    N(f64, Option<&'static str>),
    /// A formula and its cached value (none: written without one).
    F(String, Option<String>),
}

fn s(t: &str) -> V {
    V::S(t.to_string())
}

/// One worksheet of a variant: cells at zero-based (row, col), merged ranges
/// (r1, c1, r2, c2) and hidden rows.
#[derive(Clone, Debug, Default)]
struct Form {
    cells: BTreeMap<(u32, u32), V>,
    merges: Vec<(u32, u32, u32, u32)>,
    hidden: Vec<u32>,
}

/// Zero-based (row, col) of an A1 reference.
fn rc(a1: &str) -> (u32, u32) {
    let split = a1.find(|c: char| c.is_ascii_digit()).expect("A1 reference");
    let (letters, digits) = a1.split_at(split);
    let col = letters
        .bytes()
        .fold(0u32, |acc, b| acc * 26 + u32::from(b - b'A' + 1));
    (digits.parse::<u32>().expect("row") - 1, col - 1)
}

impl Form {
    /// The filled example, cell for cell, with its merged ranges.
    fn example() -> Form {
        let mut book: Xlsx<_> = open_workbook(EXAMPLE).expect("example-filled.xlsx");
        let name = book.sheet_names()[0].clone();
        let range = book.worksheet_range(&name).expect("example sheet");
        let (r0, c0) = range.start().expect("non-empty example");
        let mut form = Form::default();
        for (r, c, v) in range.used_cells() {
            let pos = (r0 + r as u32, c0 + c as u32);
            let v = match v {
                Data::String(t) => V::S(t.clone()),
                Data::Float(f) => V::N(*f, None),
                Data::Int(i) => V::N(*i as f64, None),
                other => V::S(other.to_string()),
            };
            form.cells.insert(pos, v);
        }
        let merges = book.merge_cells_by_sheet_name(&name).unwrap_or_default();
        form.merges = merges
            .iter()
            .map(|d| (d.start.0, d.start.1, d.end.0, d.end.1))
            .collect();
        assert!(
            !form.merges.is_empty(),
            "the example has merged value cells"
        );
        form
    }

    fn set(mut self, a1: &str, v: V) -> Form {
        self.cells.insert(rc(a1), v);
        self
    }

    fn text(self, a1: &str, t: &str) -> Form {
        self.set(a1, s(t))
    }

    fn clear(mut self, a1: &str) -> Form {
        self.cells.remove(&rc(a1));
        self
    }

    fn merge(mut self, from: &str, to: &str) -> Form {
        let ((r1, c1), (r2, c2)) = (rc(from), rc(to));
        self.merges
            .retain(|m| m.2 < r1 || m.0 > r2 || m.3 < c1 || m.1 > c2);
        self.merges.push((r1, c1, r2, c2));
        self
    }

    /// Inserts `n` empty rows before row `a1_row` (1-based, as Excel shows).
    fn insert_rows(mut self, a1_row: u32, n: u32) -> Form {
        let at = a1_row - 1;
        self.cells = std::mem::take(&mut self.cells)
            .into_iter()
            .map(|((r, c), v)| ((if r >= at { r + n } else { r }, c), v))
            .collect();
        for m in &mut self.merges {
            if m.0 >= at {
                m.0 += n;
                m.2 += n;
            }
        }
        for h in &mut self.hidden {
            if *h >= at {
                *h += n;
            }
        }
        self
    }

    /// Inserts `n` empty columns before column `letter`.
    fn insert_cols(mut self, letter: &str, n: u32) -> Form {
        let at = rc(&format!("{letter}1")).1;
        self.cells = std::mem::take(&mut self.cells)
            .into_iter()
            .map(|((r, c), v)| ((r, if c >= at { c + n } else { c }), v))
            .collect();
        for m in &mut self.merges {
            if m.1 >= at {
                m.1 += n;
                m.3 += n;
            } else if m.3 >= at {
                m.3 += n;
            }
        }
        self
    }

    fn hide_row(mut self, a1_row: u32) -> Form {
        self.hidden.push(a1_row - 1);
        self
    }

    /// Moves the text of `from` to `to`.
    fn mv(mut self, from: &str, to: &str) -> Form {
        if let Some(v) = self.cells.remove(&rc(from)) {
            self.cells.insert(rc(to), v);
        }
        self
    }

    /// Removes every cell of rows `first..=last` (1-based).
    fn clear_rows(mut self, first: u32, last: u32) -> Form {
        self.cells
            .retain(|(r, _), _| !(first - 1..=last - 1).contains(r));
        self.merges
            .retain(|m| !(first - 1..=last - 1).contains(&m.0));
        self
    }
}

/// Writes the sheets into one .xlsx.
fn xlsx(sheets: &[(&str, &Form)]) -> Vec<u8> {
    xlsx_hiding(sheets, &[])
}

/// Writes the sheets into one .xlsx, the sheets named in `hidden` hidden.
fn xlsx_hiding(sheets: &[(&str, &Form)], hidden: &[&str]) -> Vec<u8> {
    let mut book = XWorkbook::new();
    for (name, form) in sheets {
        let ws = book.add_worksheet();
        ws.set_name(*name).expect("sheet name");
        let plain = Format::new();
        for m in &form.merges {
            ws.merge_range(m.0, m.1 as u16, m.2, m.3 as u16, "", &plain)
                .expect("merge");
        }
        for (&(r, c), v) in &form.cells {
            let c = c as u16;
            match v {
                V::S(t) => ws.write_string(r, c, t).map(|_| ()),
                V::N(n, None) => ws.write_number(r, c, *n).map(|_| ()),
                V::N(n, Some(fmt)) => ws
                    .write_number_with_format(r, c, *n, &Format::new().set_num_format(*fmt))
                    .map(|_| ()),
                V::F(f, cached) => {
                    let mut formula = Formula::new(f);
                    if let Some(v) = cached {
                        formula = formula.set_result(v);
                    }
                    ws.write_formula(r, c, formula).map(|_| ())
                }
            }
            .expect("write cell");
        }
        for &h in &form.hidden {
            ws.set_row_hidden(h).expect("hide row");
        }
        if hidden.contains(name) {
            ws.set_hidden(true);
        }
    }
    book.save_to_buffer().expect("xlsx bytes")
}

/// Every form read from `bytes`, checked with the default policy.
fn run(bytes: &[u8]) -> Vec<(RequestSheet, Checked)> {
    let book = read_workbook(bytes).unwrap_or_else(|e| panic!("unreadable: {e:?}"));
    book.forms
        .into_iter()
        .map(|sheet| {
            let checked = check(&sheet, &Policy::default());
            (sheet, checked)
        })
        .collect()
}

/// The one form of a one-sheet variant.
fn one(form: &Form) -> Checked {
    let mut forms = run(&xlsx(&[("緊急配布要請シート", form)]));
    assert_eq!(forms.len(), 1, "one form expected");
    forms.remove(0).1
}

/// The findings as `code@cell`, in order.
fn codes(c: &Checked) -> Vec<String> {
    c.findings
        .iter()
        .map(|f| format!("{}@{}", f.code, f.cell.as_deref().unwrap_or("-")))
        .collect()
}

fn gloves(c: &Checked) -> &sos_intake::request::ItemLine {
    c.lines
        .iter()
        .find(|l| l.item == Item::NonSterileGloves)
        .expect("gloves line")
}

fn assert_clean(c: &Checked) {
    assert!(c.findings.is_empty(), "{:#?}", c.findings);
    let g = gloves(c);
    assert!(g.requested);
    assert_eq!(g.stock, Some(800));
    assert_eq!(g.prefecture.total_quantity, Some(2000));
}

#[test]
fn reference_example_is_clean() {
    let c = one(&Form::example());
    assert_clean(&c);
    assert_eq!(c.institution.code, "1312345679");
}

// ---------------------------------------------------------------------------
// Postcode, phone, code as typed.

#[test]
fn postcode_with_postal_mark() {
    let c = one(&Form::example().text("C14", "〒160-0023"));
    assert_clean(&c);
    assert_eq!(c.institution.postcode, "160-0023");
}

#[test]
fn fullwidth_hyphen_variants_in_postcode_phone_and_code() {
    for dash in ['－', '‐', '―', 'ー', '−', 'ｰ', '‑', '–'] {
        let form = Form::example()
            .text("C14", &format!("１６０{dash}００２３"))
            .text("C16", &format!("03{dash}1234{dash}5678"))
            .text("C13", &format!("13{dash}1{dash}2345679"));
        let c = one(&form);
        assert!(c.findings.is_empty(), "dash {dash:?}: {:#?}", c.findings);
        assert_eq!(c.institution.postcode, "160-0023", "dash {dash:?}");
        assert_eq!(c.institution.code, "1312345679", "dash {dash:?}");
    }
}

#[test]
fn phone_with_brackets_tel_prefix_and_extension_notes() {
    for phone in [
        "(03)1234-5678",
        "03（1234）5678",
        "TEL 03-1234-5678",
        "TEL：03-1234-5678",
        "℡03-1234-5678",
        "03-1234-5678（内線123）",
        "03-1234-5678 内線123",
        "03-1234-5678　内線：123",
        "03-1234-5678(代表)",
        "０３－１２３４－５６７８",
        "0312345678",
        "090-1234-5678",
    ] {
        let c = one(&Form::example().text("C16", phone));
        assert!(c.findings.is_empty(), "{phone}: {:#?}", c.findings);
    }
    // Too short stays an error, at the value cell.
    let c = one(&Form::example().text("C16", "03-1234-567"));
    assert_eq!(codes(&c), ["institution.phone.format@C16"]);
}

#[test]
fn phone_typed_as_number_lost_leading_zero() {
    // 03-1234-5678 typed as a number shows 312345678 in Excel.
    let c = one(&Form::example().set("C16", V::N(312_345_678.0, None)));
    assert!(c.findings.is_empty(), "{:#?}", c.findings);
    assert_eq!(c.institution.phone, "0312345678");
}

#[test]
fn postcode_typed_as_number_lost_leading_zero() {
    // 060-0001 (札幌) typed as a number shows 600001.
    let form = Form::example()
        .text("C12", "さっぽろ内科")
        .text("C13", "0110113719")
        .set("C14", V::N(600_001.0, None))
        .text("F14", "北海道")
        .text("C15", "北海道札幌市中央区北1条西1丁目")
        .text("C16", "011-123-4567");
    let c = one(&form);
    assert!(c.findings.is_empty(), "{:#?}", c.findings);
    assert_eq!(c.institution.postcode, "060-0001");
}

#[test]
fn institution_code_with_hyphens_spaces_and_fullwidth_digits() {
    for code in [
        "13-1-2345679",
        "1312 345679",
        "１３１２３４５６７９",
        "13 1 2345679",
        " 1312345679 ",
    ] {
        let c = one(&Form::example().text("C13", code));
        assert!(c.findings.is_empty(), "{code}: {:#?}", c.findings);
        assert_eq!(c.institution.code, "1312345679", "{code}");
    }
    let c = one(&Form::example().set("C13", V::N(1_312_345_679.0, None)));
    assert!(c.findings.is_empty(), "{:#?}", c.findings);
    assert_eq!(c.institution.code, "1312345679");
}

#[test]
fn hokkaido_code_with_hyphens_and_as_number() {
    let hokkaido = |code: V| {
        Form::example()
            .set("C13", code)
            .text("C14", "060-0001")
            .text("F14", "北海道")
            .text("C15", "北海道札幌市中央区北1条西1丁目")
    };
    for code in [
        s("01-1-0113719"),
        s("0110 113719"),
        V::N(110_113_719.0, None),
    ] {
        let c = one(&hokkaido(code.clone()));
        assert!(c.findings.is_empty(), "{code:?}: {:#?}", c.findings);
        assert_eq!(c.institution.code, "0110113719", "{code:?}");
    }
}

// ---------------------------------------------------------------------------
// Quantities.

#[test]
fn quantities_as_typed_read_as_counts() {
    for (typed, expected) in [
        (s("1,000枚"), 1000),
        (s("１，０００"), 1000),
        (s("2000 枚"), 2000),
        (s("2000　枚"), 2000),
        (s("１０００"), 1000),
        (s("1000"), 1000),
        (V::N(1000.0, Some("#,##0")), 1000),
        (V::N(1000.0, Some("#,##0\"枚\"")), 1000),
    ] {
        let c = one(&Form::example().set("D23", typed.clone()));
        assert!(c.findings.is_empty(), "{typed:?}: {:#?}", c.findings);
        assert_eq!(gloves(&c).stock, Some(expected), "{typed:?}");
    }
}

#[test]
fn gloves_counted_in_pairs_is_a_warning_and_converted() {
    let c = one(&Form::example().text("D23", "400双"));
    assert_eq!(codes(&c), ["item.quantity.pairs@D23"]);
    assert_eq!(gloves(&c).stock, Some(800));
    assert!(!c.has_errors());
}

#[test]
fn approximate_fraction_negative_and_words_are_invalid_quantities() {
    for typed in [
        "約1000",
        "1000程度",
        "1.5",
        "-5",
        "－５",
        "千",
        "1000~2000",
        "不明",
    ] {
        let c = one(&Form::example().text("D23", typed));
        assert_eq!(codes(&c), ["item.quantity.invalid@D23"], "{typed}");
        assert_eq!(gloves(&c).stock, None, "{typed}");
    }
}

#[test]
fn dash_or_nashi_for_zero_stock_reads_as_zero() {
    for typed in ["-", "－", "ー", "―", "なし", "無し", "0", "０", "0枚"] {
        let c = one(&Form::example().text("D23", typed));
        assert!(c.findings.is_empty(), "{typed}: {:#?}", c.findings);
        assert_eq!(gloves(&c).stock, Some(0), "{typed}");
    }
    // In the prefecture columns, `-` for the national quantity is 0 too.
    let c = one(&Form::example().text("F31", "－"));
    assert!(c.findings.is_empty(), "{:#?}", c.findings);
    assert_eq!(gloves(&c).prefecture.national_quantity, Some(0));
}

// ---------------------------------------------------------------------------
// Dropdown words.

#[test]
fn request_typed_with_spaces_reads_as_requested() {
    for typed in ["要請 する", "要請する ", "　要請する", "要請　する"] {
        let c = one(&Form::example().text("C23", typed));
        assert_clean(&c);
    }
}

#[test]
fn circle_mark_instead_of_request_word_is_a_clear_finding() {
    for typed in ["〇", "○", "◯", "はい"] {
        let c = one(&Form::example().text("C23", typed));
        let f = codes(&c);
        assert!(
            f.contains(&"item.request.invalid@C23".to_string()),
            "{typed}: {f:?}"
        );
        let finding = c
            .findings
            .iter()
            .find(|f| f.code == "item.request.invalid")
            .expect("finding");
        let message = sos_intake::messages::findings::message(finding);
        assert!(message.contains("要請する"), "{}", message);
        assert_eq!(finding.value, typed);
    }
}

#[test]
fn need_with_trailing_space_hitsuyou_and_fuyou() {
    for typed in ["要 ", "要\u{3000}", "必要", "必要 "] {
        let c = one(&Form::example().text("C31", typed));
        assert_clean(&c);
        assert_eq!(gloves(&c).prefecture.need, Some(Need::Needed), "{typed}");
    }
    // 否 and 不要 read the same; quantities must then be blank.
    for typed in ["否", "不要"] {
        let form = Form::example()
            .text("C31", typed)
            .clear("D31")
            .clear("E31")
            .clear("F31")
            .clear("G31")
            .text("H31", "在庫が十分にあり、卸からの入荷も再開したため。");
        let c = one(&form);
        assert!(c.findings.is_empty(), "{typed}: {:#?}", c.findings);
        assert_eq!(gloves(&c).prefecture.need, Some(Need::NotNeeded));
    }
}

#[test]
fn outlook_written_with_wave_dash_tilde_hyphen_or_short_week() {
    for typed in [
        "2〜3週間",
        "２～３週間",
        "2-3週間",
        "2～3週",
        "２〜３週間以内",
        "2~3週間",
        "2ー3週間",
    ] {
        let c = one(&Form::example().text("E23", typed));
        assert!(c.findings.is_empty(), "{typed}: {:#?}", c.findings);
        assert_eq!(
            gloves(&c).outlook,
            Some(Outlook::TwoToThreeWeeks),
            "{typed}"
        );
    }
    for typed in ["１週間以内", "1週間以内 ", "1週以内"] {
        let c = one(&Form::example().text("E23", typed));
        assert!(c.findings.is_empty(), "{typed}: {:#?}", c.findings);
        assert_eq!(gloves(&c).outlook, Some(Outlook::WithinOneWeek), "{typed}");
    }
}

// ---------------------------------------------------------------------------
// Item labels.

#[test]
fn item_labels_with_line_breaks_numbering_and_gmis_names() {
    let form = Form::example()
        .text("B23", "非滅菌手袋\n（枚で記入）")
        .text("A19", "1")
        .text("A23", "5")
        .text("B31", "⑤非滅菌手袋")
        .text("B39", "５．非滅菌手袋")
        .text("B19", "医療用(サージカル)マスク")
        .text("B27", "①医療用（サージカル）マスク")
        .text("B20", "N95マスク又はDS2マスク")
        .text("B28", "N95マスク\n又はDS2マスク");
    let c = one(&form);
    assert_clean(&c);
}

// ---------------------------------------------------------------------------
// Table shape.

#[test]
fn extra_column_between_item_name_and_request() {
    // A 単位 column after 配布物品一覧 in every table.
    let mut form = Form::example().insert_cols("C", 1);
    for row in [18, 26, 34] {
        form = form.text(&format!("C{row}"), "単位");
    }
    for row in 19..=23 {
        form = form.text(&format!("C{row}"), "枚");
    }
    let c = one(&form);
    assert_clean(&c);
    // The shifted total is H31 now: a mismatch points there.
    let c = one(&form.set("H31", V::N(2500.0, None)));
    assert_eq!(codes(&c), ["prefecture.total.mismatch@H31"]);
}

#[test]
fn header_split_over_two_rows_and_merged_vertically() {
    // 【都道府県記入欄】's header over rows 26–27: 緊急配布要請 / 要否 in two
    // cells, the other titles merged vertically.
    let mut form = Form::example().insert_rows(27, 1);
    form = form.text("C26", "緊急配布要請").text("C27", "要否");
    for col in ["B", "D", "E", "F", "G", "H"] {
        form = form.merge(&format!("{col}26"), &format!("{col}27"));
    }
    let c = one(&form);
    assert_clean(&c);
    // The rows moved one down: an error points at row 32.
    let c = one(&form.text("C32", "必要か検討中"));
    assert_eq!(codes(&c), ["prefecture.need.invalid@C32"]);
}

#[test]
fn group_header_over_item_header_row() {
    // Institution header as two rows: a group title merged over the
    // quantities, the column titles below it.
    let form = Form::example()
        .insert_rows(18, 1)
        .text("D18", "在庫・消費の状況（単位：枚）")
        .merge("D18", "G18")
        .merge("B18", "B19")
        .merge("C18", "C19")
        .merge("H18", "H19")
        .mv("C19", "C18")
        .mv("H19", "H18")
        .mv("B19", "B18");
    let c = one(&form);
    assert_clean(&c);
}

#[test]
fn hidden_rows_blank_rows_and_notes_row_in_item_table() {
    let form = Form::example()
        // a blank row between 21 and 22, hidden
        .insert_rows(22, 1)
        .hide_row(22)
        // a notes row under each table
        .text("B25", "※非滅菌手袋は枚数で記入してください（1双＝2枚）。")
        .text("B33", "※手袋のサイズ指定は1000双までとなります。");
    let c = one(&form);
    assert_clean(&c);
    assert_eq!(
        c.lines.iter().map(|l| l.item).collect::<Vec<_>>(),
        Item::ALL.to_vec()
    );
}

/// An official corrected the gloves row by inserting a new one under it
/// and hiding the old one instead of deleting it.
#[test]
fn hidden_old_copy_of_an_item_row_is_not_a_duplicate() {
    let mut form = Form::example().insert_rows(24, 1);
    let old_row: Vec<((u32, u32), V)> = form
        .cells
        .range((22, 0)..(23, 0))
        .map(|(&(_, c), v)| ((23, c), v.clone()))
        .collect();
    form.cells.extend(old_row);
    let form = form.text("D23", "500").hide_row(23);
    let c = one(&form);
    assert_clean(&c);
    // Unhidden, the same sheet has two gloves rows: an error.
    let mut shown = form.clone();
    shown.hidden.clear();
    assert!(codes(&one(&shown)).contains(&"sheet.item_row.duplicate@B24".to_string()));
}

/// Hiding the only row of an item does not make the request disappear.
#[test]
fn hidden_only_item_row_is_still_read() {
    let c = one(&Form::example().hide_row(23).hide_row(31));
    assert_clean(&c);
}

#[test]
fn short_note_naming_an_item_under_the_table_is_not_an_item_row() {
    let form = Form::example()
        .text("B24", "注）手袋は枚数で記入")
        .text("B32", "（注）手袋は枚で記入");
    let c = one(&form);
    assert_clean(&c);
}

// ---------------------------------------------------------------------------
// Institution labels.

#[test]
fn institution_labels_in_column_a() {
    let mut form = Form::example();
    for row in 12..=16 {
        form = form.mv(&format!("B{row}"), &format!("A{row}"));
    }
    assert_clean(&one(&form));
}

#[test]
fn institution_labels_in_column_c_values_further_right() {
    let mut form = Form::example();
    for row in [12, 13, 15] {
        form = form
            .merge(&format!("D{row}"), &format!("H{row}"))
            .mv(&format!("C{row}"), &format!("D{row}"))
            .mv(&format!("B{row}"), &format!("C{row}"));
    }
    for row in [14, 16] {
        form = form
            .mv(&format!("C{row}"), &format!("D{row}"))
            .mv(&format!("B{row}"), &format!("C{row}"));
    }
    assert_clean(&one(&form));
}

#[test]
fn value_two_cells_right_of_label_with_blank_between() {
    let form = Form::example()
        .clear_rows(12, 16)
        .text("B12", "医療機関名")
        .text("D12", "みどり内科クリニック")
        .text("B13", "医療機関コード（10桁）")
        .text("D13", "1312345679")
        .text("B14", "郵便番号")
        .text("D14", "160-0023")
        .text("E14", "都道府県")
        .text("G14", "東京都")
        .text("B15", "医療機関住所")
        .text("D15", "東京都新宿区西新宿2-8-1")
        .text("B16", "連絡先電話番号")
        .text("D16", "03-1234-5678")
        .text("E16", "医療機関担当者名")
        .text("G16", "山田 花子");
    let c = one(&form);
    assert_clean(&c);
    assert_eq!(c.institution.contact, "山田 花子");
}

#[test]
fn institution_label_variants() {
    let form = Form::example()
        .text("B12", "医療機関名：")
        .text("B13", "医療機関コード\n（10桁）")
        .text("B14", "郵便番号（〒）")
        .text("E14", "都道府県名")
        .text("B15", "所在地")
        .text("B16", "電話番号")
        .text("E16", "担当者氏名");
    assert_clean(&one(&form));
}

// ---------------------------------------------------------------------------
// Workbooks with several sheets.

#[test]
fn form_sheet_named_sheet1_after_an_instructions_sheet() {
    let instructions = Form::default()
        .text("A1", "記入上の注意")
        .text("A2", "【医療機関記入欄】は医療機関が記入してください。")
        .text("A3", "【都道府県記入欄】は都道府県が記入してください。")
        .text("A4", "配布物品一覧の数量は枚で記入してください。")
        .text("A5", "非滅菌手袋は1双＝2枚で換算してください。");
    let forms = run(&xlsx(&[
        ("記入上の注意", &instructions),
        ("Sheet1", &Form::example()),
    ]));
    assert_eq!(forms.len(), 1, "only the form sheet is a form");
    assert_eq!(forms[0].0.sheet, "Sheet1");
    assert_clean(&forms[0].1);
}

#[test]
fn two_institutions_in_one_workbook() {
    let osaka = Form::example()
        .text("C12", "なにわ病院")
        .text("C13", "2712345673")
        .text("C14", "530-0001")
        .text("F14", "大阪府")
        .text("C15", "大阪府大阪市北区梅田1-1-1")
        .text("C16", "06-1234-5678");
    let forms = run(&xlsx(&[("東京", &Form::example()), ("大阪", &osaka)]));
    assert_eq!(forms.len(), 2);
    assert_clean(&forms[0].1);
    assert_eq!(codes(&forms[1].1), Vec::<String>::new());
    assert_eq!(forms[1].1.institution.code, "2712345673");
}

#[test]
fn prefecture_block_filled_on_a_second_copy_sheet() {
    // The institution's sheet as received, and the prefecture's copy of it
    // with 【都道府県記入欄】 filled.
    let received = Form::example()
        .clear("C31")
        .clear("D31")
        .clear("E31")
        .clear("F31")
        .clear("G31")
        .clear("H31");
    let forms = run(&xlsx(&[
        ("医療機関提出", &received),
        ("都道府県記入", &Form::example()),
    ]));
    let filled: Vec<&Checked> = forms.iter().map(|(_, c)| c).collect();
    // The copy with the prefecture's decision is the request; the
    // institution's original is not read as a second, unfinished request.
    assert_eq!(
        filled.len(),
        1,
        "{:#?}",
        forms.iter().map(|f| &f.0.sheet).collect::<Vec<_>>()
    );
    assert_clean(filled[0]);
    assert_eq!(forms[0].0.sheet, "都道府県記入");
}

#[test]
fn example_sheet_beside_the_filled_form_is_not_a_request() {
    // Prefectures pass the form on with MHLW's 記入例 tab left in.
    let own = Form::example()
        .text("C12", "さくら病院")
        .text("C15", "東京都新宿区西新宿1-1-1");
    let forms = run(&xlsx(&[("記入例", &Form::example()), ("様式", &own)]));
    assert_eq!(forms.len(), 1);
    assert_eq!(forms[0].0.sheet, "様式");
    assert_eq!(forms[0].1.institution.name, "さくら病院");
}

// ---------------------------------------------------------------------------
// MHLW block.

#[test]
fn mhlw_block_deleted_entirely_is_accepted() {
    let c = one(&Form::example().clear_rows(33, 39));
    assert_clean(&c);
}

#[test]
fn date_typed_into_mhlw_sending_date_is_an_error() {
    let c = one(&Form::example().set("E39", V::N(46_154.0, Some("yyyy/m/d"))));
    assert_eq!(codes(&c), ["mhlw.not_empty@E39"]);
    assert!(c.has_errors());
    let c = one(&Form::example().text("E39", "5月12日"));
    assert_eq!(codes(&c), ["mhlw.not_empty@E39"]);
}

// ---------------------------------------------------------------------------
// Formulas.

#[test]
fn total_as_formula_with_and_without_cached_value() {
    for (f, cached) in [
        ("=E31+F31", Some("2000")),
        ("=E31+F31", None),
        ("=SUM(E31:F31)", Some("2000")),
        ("=SUM(E31:F31)", None),
        ("=SUM(E31,F31)", None),
    ] {
        let c = one(&Form::example().set("G31", V::F(f.into(), cached.map(String::from))));
        assert!(c.findings.is_empty(), "{f} {cached:?}: {:#?}", c.findings);
        assert_eq!(gloves(&c).prefecture.total_quantity, Some(2000));
    }
    // A formula over a cell that does not add up is still checked.
    let c = one(&Form::example().set("G31", V::F("=E31+F31+100".into(), None)));
    assert_eq!(codes(&c), ["prefecture.total.mismatch@G31"]);
}

// ---------------------------------------------------------------------------
// 都道府県 and 住所.

#[test]
fn prefecture_without_suffix_trailing_space_and_romaji() {
    for typed in ["東京", "東京都 ", "東京都　", " 東京都"] {
        let c = one(&Form::example().text("F14", typed));
        assert!(c.findings.is_empty(), "{typed}: {:#?}", c.findings);
        assert_eq!(c.institution.prefecture.map(|p| p.name()), Some("東京都"));
    }
    let c = one(&Form::example().text("F14", "Tokyo"));
    assert_eq!(codes(&c), ["institution.prefecture.unknown@F14"]);
}

#[test]
fn address_without_prefecture_is_a_warning() {
    let c = one(&Form::example().text("C15", "新宿区西新宿2-8-1"));
    assert_eq!(codes(&c), ["institution.address.prefecture@C15"]);
    assert!(!c.has_errors());
}

#[test]
fn address_with_postcode_before_prefecture_is_not_warned() {
    for typed in [
        "〒160-0023 東京都新宿区西新宿2-8-1",
        "東京都 新宿区西新宿2-8-1",
    ] {
        let c = one(&Form::example().text("C15", typed));
        assert!(c.findings.is_empty(), "{typed}: {:#?}", c.findings);
    }
}

// ---------------------------------------------------------------------------
// The same variants re-saved by LibreOffice.

/// Converts `xlsx` bytes with LibreOffice to each of `exts`; `None` when
/// soffice is not installed.
fn libreoffice(name: &str, bytes: &[u8], exts: &[&str]) -> Option<Vec<Vec<u8>>> {
    if Command::new("soffice").arg("--version").output().is_err() {
        eprintln!("soffice not installed: skipped");
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join(format!("{name}.xlsx"));
    std::fs::write(&src, bytes).expect("write variant");
    let profile = format!(
        "-env:UserInstallation=file:///tmp/lo-profile-i-{}",
        std::process::id()
    );
    let mut out = Vec::new();
    for ext in exts {
        let filter = match *ext {
            "xls" => "xls:MS Excel 97",
            other => other,
        };
        let status = Command::new("soffice")
            .args([&profile, "--headless", "--convert-to", filter, "--outdir"])
            .arg(dir.path())
            .arg(&src)
            .output()
            .expect("run soffice");
        let converted = dir.path().join(format!("{name}.{ext}"));
        assert!(
            Path::new(&converted).exists(),
            "soffice made no .{ext}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        out.push(std::fs::read(converted).expect("converted file"));
    }
    Some(out)
}

#[test]
fn libreoffice_xls_and_ods_copies_give_the_same_findings() {
    let variants: Vec<(&str, Form)> = vec![
        (
            "hokkaido-number",
            Form::example()
                .set("C13", V::N(110_113_719.0, None))
                .text("C14", "〒060－0001")
                .text("F14", "北海道")
                .text("C15", "北海道札幌市中央区北1条西1丁目")
                .text("C16", "(011)123-4567"),
        ),
        (
            "quantities",
            Form::example()
                .text("D23", "1,000枚")
                .set("F23", V::N(1200.0, Some("#,##0")))
                .text("G23", "２００")
                .text("E23", "2〜3週間")
                .set("G31", V::F("=E31+F31".into(), None)),
        ),
        (
            "shifted-errors",
            Form::example()
                .insert_rows(2, 2)
                .insert_cols("C", 1)
                .text("E25", "約800")
                .text("F41", "2026/5/12"),
        ),
    ];
    for (name, form) in &variants {
        let bytes = xlsx(&[("Sheet1", form)]);
        let original: Vec<Vec<String>> = run(&bytes).iter().map(|(_, c)| codes(c)).collect();
        let Some(copies) = libreoffice(name, &bytes, &["xls", "ods"]) else {
            return;
        };
        for (ext, copy) in ["xls", "ods"].iter().zip(copies) {
            let got: Vec<Vec<String>> = run(&copy).iter().map(|(_, c)| codes(c)).collect();
            assert_eq!(got, original, "{name}.{ext}");
        }
        match *name {
            "hokkaido-number" => assert_eq!(original, [Vec::<String>::new()]),
            "quantities" => assert_eq!(original, [Vec::<String>::new()]),
            _ => assert_eq!(
                original,
                [vec![
                    "item.quantity.invalid@E25".to_string(),
                    "mhlw.not_empty@F41".to_string()
                ]]
            ),
        }
    }
}

#[test]
fn method_words_as_typed() {
    for typed in ["都道府県の備蓄", "都道府県備蓄", "県の備蓄"] {
        let c = one(&Form::example().text("D31", typed));
        assert_clean(&c);
        assert_eq!(gloves(&c).prefecture.method, Some(Method::PrefectureStock));
    }
}

// ---------------------------------------------------------------------------
// Second round: notes inside quantity cells, packages, opinion wording.

#[test]
fn quantity_with_pairs_note_in_brackets_and_per_week_suffix() {
    let c = one(&Form::example().text("D23", "800枚（400双）"));
    assert_clean(&c);
    let c = one(&Form::example().text("D23", "400双（800枚）"));
    assert_eq!(codes(&c), ["item.quantity.pairs@D23"]);
    assert_eq!(gloves(&c).stock, Some(800));
    let c = one(&Form::example()
        .text("F23", "1,200枚/週")
        .text("G23", "200枚／週"));
    assert!(c.findings.is_empty(), "{:#?}", c.findings);
    assert_eq!(gloves(&c).weekly_use, Some(1200));
    assert_eq!(gloves(&c).weekly_purchase, Some(200));
}

#[test]
fn quantity_in_boxes_is_a_clear_finding() {
    // 8箱 of gloves is 800 or 1000 枚 depending on the box: never read as 8.
    let c = one(&Form::example().text("D23", "8箱"));
    assert_eq!(codes(&c), ["item.quantity.unit@D23"]);
    assert_eq!(gloves(&c).stock, None);
    let msg = &sos_intake::messages::findings::message(&c.findings[0]);
    assert!(msg.contains("枚数"), "{msg}");
    let c = one(&Form::example().text("E31", "20ケース"));
    assert_eq!(codes(&c), ["prefecture.quantity.unit@E31"]);
}

#[test]
fn opinion_counting_earlier_distributions_in_do() {
    for opinion in [
        "過去の緊急配布：1度。卸での欠品により入荷見込みなし。",
        "緊急配布は今回が初。メーカー欠品のため入荷未定。",
        "これまでに２回受領。卸の在庫切れのため。",
    ] {
        let c = one(&Form::example().text("H31", opinion));
        assert!(c.findings.is_empty(), "{opinion}: {:#?}", c.findings);
    }
}

// ---------------------------------------------------------------------------
// Third round: prefecture templates with formulas in every row, hidden sheets.

#[test]
fn total_formulas_prefilled_in_every_prefecture_row() {
    // Prefectures add 総配布枚数 formulas to all five rows of their copy.
    let mut sum = Form::example();
    let mut iff = Form::example();
    for row in 27..=31 {
        sum = sum.set(
            &format!("G{row}"),
            V::F(
                format!("=E{row}+F{row}"),
                Some(if row == 31 { "2000" } else { "0" }.into()),
            ),
        );
        iff = iff.set(
            &format!("G{row}"),
            V::F(
                format!("=IF(E{row}+F{row}=0,\"\",E{row}+F{row})"),
                Some(if row == 31 { "2000" } else { "" }.into()),
            ),
        );
    }
    for (name, form) in [("sum", &sum), ("if", &iff)] {
        let c = one(form);
        assert!(c.findings.is_empty(), "{name}: {:#?}", c.findings);
        assert_eq!(gloves(&c).prefecture.total_quantity, Some(2000), "{name}");
    }
}

#[test]
fn hidden_old_form_sheet_is_not_a_second_request() {
    // A workbook whose hidden tab still holds last month's form.
    let old = Form::example()
        .text("D23", "1500")
        .text("H31", "過去の緊急配布：0回。欠品のため。");
    let bytes = xlsx_hiding(&[("様式", &Form::example()), ("旧様式", &old)], &["旧様式"]);
    let forms = run(&bytes);
    assert_eq!(
        forms.iter().map(|f| f.0.sheet.as_str()).collect::<Vec<_>>(),
        ["様式"]
    );
    assert_clean(&forms[0].1);
    // When the only form is on a hidden tab, it is still read.
    let forms = run(&xlsx_hiding(
        &[
            ("メモ", &Form::default().text("A1", "メモ")),
            ("様式", &Form::example()),
        ],
        &["様式"],
    ));
    assert_eq!(forms.len(), 1);
    assert_clean(&forms[0].1);
}

// ---------------------------------------------------------------------------
// Fourth round: notes beside dropdown words, two phone numbers.

#[test]
fn request_and_need_with_a_note_or_circle_mark() {
    let c = one(&Form::example()
        .text("C23", "要請する（手袋のみ）")
        .text("C31", "要（Mサイズ希望なし）"));
    assert_clean(&c);
    let c = one(&Form::example().text("C23", "○要請する"));
    assert_clean(&c);
    // A bare mark stays a finding.
    let c = one(&Form::example().text("C23", "〇"));
    assert!(codes(&c).contains(&"item.request.invalid@C23".to_string()));
}

#[test]
fn two_phone_numbers_in_one_cell() {
    for phone in ["03-1234-5678／090-1234-5678", "03-1234-5678、090-1234-5678"] {
        let c = one(&Form::example().text("C16", phone));
        assert!(c.findings.is_empty(), "{phone}: {:#?}", c.findings);
    }
}

#[test]
fn libreoffice_copies_of_structural_variants_read_the_same() {
    let instructions = Form::default()
        .text("A1", "記入上の注意")
        .text("A2", "【医療機関記入欄】は医療機関が記入してください。")
        .text("A3", "配布物品一覧の数量は枚で記入してください。");
    let mut split = Form::example()
        .insert_rows(27, 1)
        .text("C26", "緊急配布要請")
        .text("C27", "要否");
    for col in ["B", "D", "E", "F", "G", "H"] {
        split = split.merge(&format!("{col}26"), &format!("{col}27"));
    }
    let split = split
        .text("B25", "※非滅菌手袋は枚数で記入してください。")
        .insert_rows(22, 1)
        .hide_row(22)
        .text("C33", "否か検討中");
    let mut col_a = Form::example();
    for row in 12..=16 {
        col_a = col_a.mv(&format!("B{row}"), &format!("A{row}"));
    }
    let old = Form::example().text("D23", "1500");
    let books: Vec<(&str, Vec<u8>)> = vec![
        (
            "instructions",
            xlsx(&[("記入上の注意", &instructions), ("Sheet1", &col_a)]),
        ),
        (
            "example-tab",
            xlsx(&[("記入例", &Form::example()), ("様式", &split)]),
        ),
        (
            "hidden-old",
            xlsx_hiding(&[("様式", &col_a), ("旧様式", &old)], &["旧様式"]),
        ),
    ];
    let summary = |bytes: &[u8]| -> Vec<(String, Vec<String>)> {
        run(bytes)
            .iter()
            .map(|(s, c)| (s.sheet.clone(), codes(c)))
            .collect()
    };
    for (name, bytes) in &books {
        let original = summary(bytes);
        let Some(copies) = libreoffice(name, bytes, &["xls", "ods"]) else {
            return;
        };
        for (ext, copy) in ["xls", "ods"].iter().zip(copies) {
            assert_eq!(summary(&copy), original, "{name}.{ext}");
        }
        let expected: Vec<(String, Vec<String>)> = match *name {
            "instructions" => vec![("Sheet1".into(), vec![])],
            "example-tab" => vec![("様式".into(), vec!["prefecture.need.invalid@C33".into()])],
            _ => vec![("様式".into(), vec![])],
        };
        assert_eq!(original, expected, "{name}");
    }
}

// ---------------------------------------------------------------------------
// Fifth round: what prefectures put in the rows of items not requested.

#[test]
fn zeros_and_dashes_in_prefecture_rows_of_items_not_requested() {
    let mut zeros = Form::example();
    let mut dashes = Form::example();
    for row in 27..=30 {
        for col in ["E", "F", "G"] {
            zeros = zeros.set(&format!("{col}{row}"), V::N(0.0, None));
            dashes = dashes.text(&format!("{col}{row}"), "－");
        }
        dashes = dashes.text(&format!("H{row}"), "－");
    }
    for (name, form) in [("zeros", &zeros), ("dashes", &dashes)] {
        let c = one(form);
        assert!(c.findings.is_empty(), "{name}: {:#?}", c.findings);
    }
}

#[test]
fn not_needed_marked_on_items_not_requested() {
    let mut form = Form::example();
    for row in 27..=30 {
        form = form.text(&format!("C{row}"), "否");
    }
    let c = one(&form);
    assert!(c.findings.is_empty(), "{:#?}", c.findings);
    // A quantity on such a row is still an error.
    let c = one(&form.set("E27", V::N(500.0, None)));
    assert_eq!(codes(&c), ["prefecture.row_for_unrequested_item@E27"]);
}

#[test]
fn values_pasted_from_a_web_page_or_mail() {
    // Zero-width spaces, a byte-order mark, non-breaking spaces.
    let form = Form::example()
        .text("C13", "1312345679\u{200B}")
        .text("F14", "\u{FEFF}東京都")
        .text("C14", "160-0023\u{00A0}")
        .text("C16", "03\u{2011}1234\u{2011}5678")
        .text("D23", "800\u{200B}");
    assert_clean(&one(&form));
}

#[test]
fn group_title_merged_over_two_columns_above_their_titles() {
    // 「今後1週間の見込み」 over F:G, with 想定消費量 / 購入できる見込み量 below.
    let form = Form::example()
        .insert_rows(19, 1)
        .mv("F18", "F19")
        .mv("G18", "G19")
        .text("F18", "今後1週間の見込み（枚）")
        .merge("F18", "G18");
    let mut form = form;
    for col in ["B", "C", "D", "E", "H"] {
        form = form.merge(&format!("{col}18"), &format!("{col}19"));
    }
    let c = one(&form);
    assert_clean(&c);
    assert_eq!(gloves(&c).weekly_use, Some(1200));
    assert_eq!(gloves(&c).weekly_purchase, Some(200));
}

#[test]
fn tab_duplicated_unchanged_is_read_once() {
    let forms = run(&xlsx(&[
        ("Sheet1", &Form::example()),
        ("Sheet1 (2)", &Form::example()),
    ]));
    assert_eq!(
        forms.iter().map(|f| f.0.sheet.as_str()).collect::<Vec<_>>(),
        ["Sheet1"]
    );
    assert_clean(&forms[0].1);
    // Two tabs that differ in anything are two forms.
    let forms = run(&xlsx(&[
        ("Sheet1", &Form::example()),
        ("Sheet1 (2)", &Form::example().text("D23", "900")),
    ]));
    assert_eq!(forms.len(), 2);
}

#[test]
fn label_and_value_typed_in_one_cell() {
    let form = Form::example()
        .clear_rows(12, 16)
        .text("B12", "医療機関名：みどり内科クリニック")
        .text("B13", "医療機関コード：1312345679")
        .text("B14", "郵便番号：〒160-0023")
        .text("E14", "都道府県：東京都")
        .text("B15", "医療機関住所：東京都新宿区西新宿2-8-1")
        .text("B16", "連絡先電話番号: 03-1234-5678")
        .text("E16", "医療機関担当者名：山田 花子");
    let c = one(&form);
    assert_clean(&c);
    assert_eq!(c.institution.name, "みどり内科クリニック");
    assert_eq!(c.institution.postcode, "160-0023");
    // A wrong value points at the cell holding it.
    let c = one(&form.text("B13", "医療機関コード：131234567"));
    assert_eq!(codes(&c), ["institution.code.format@B13"]);
}

#[test]
fn institution_labels_as_offices_write_them() {
    let form = Form::example()
        .text("B12", "施設名")
        .text("B13", "保険医療機関コード")
        .text("B14", "〒")
        .text("B16", "ＴＥＬ");
    let c = one(&form);
    assert_clean(&c);
    assert_eq!(c.institution.name, "みどり内科クリニック");
}

#[test]
fn reason_that_denies_an_economic_cause_is_not_economic() {
    for reason in [
        "経済的な理由ではなく、卸の欠品により入荷未定のため。",
        "価格の問題ではない。メーカー欠品で納品の目途が立たない。",
        "予算以外の理由（卸の在庫切れ）",
    ] {
        let c = one(&Form::example().text("H23", reason));
        assert!(c.findings.is_empty(), "{reason}: {:#?}", c.findings);
    }
    // Stating an economic cause stays an error.
    for reason in [
        "価格高騰のため購入できない",
        "予算が不足しているため。欠品ではない。",
    ] {
        let c = one(&Form::example().text("H23", reason));
        assert_eq!(codes(&c), ["item.reason.economic@H23"], "{reason}");
    }
}

#[test]
fn opinion_reasons_as_prefectures_phrase_them() {
    for opinion in [
        "過去の緊急配布：0回。発注しても届かない状況。",
        "初回。取引業者が取り扱いを中止したため。",
        "緊急配布は2回目。注文済みだが納期未定。",
    ] {
        let c = one(&Form::example().text("H31", opinion));
        assert!(c.findings.is_empty(), "{opinion}: {:#?}", c.findings);
    }
    // No reason at all stays an error.
    let c = one(&Form::example().text("H31", "過去の緊急配布：0回。"));
    assert_eq!(codes(&c), ["prefecture.opinion.reason_missing@H31"]);
}

#[test]
fn rows_of_other_items_deleted_leave_only_warnings() {
    // Only gloves are accepted: institutions delete the other rows.
    let mut form = Form::example();
    for row in [19, 20, 21, 22, 27, 28, 29, 30, 35, 36, 37, 38] {
        form = form.clear_rows(row, row);
    }
    // No noise about rows of items that cannot be requested now.
    let c = one(&form);
    assert_clean(&c);
    // The gloves row deleted is still reported.
    let c = one(&Form::example().clear_rows(23, 23));
    assert!(
        codes(&c).contains(&"sheet.item_row.missing@B18".to_string()),
        "{:?}",
        codes(&c)
    );
}

#[test]
fn item_tables_retitled_hinmoku() {
    // The item column titled 品目 / 物品名 instead of 配布物品一覧, and no
    // 【都道府県記入欄】 heading.
    let form = Form::example()
        .text("B18", "品目")
        .text("B26", "物品名")
        .text("B34", "品目")
        .clear("A25");
    let c = one(&form);
    assert_clean(&c);
    // A stray 品目 without column titles is not a table.
    let c = one(&Form::example().text("A41", "品目"));
    assert_clean(&c);
}

/// `bytes` with every shared string rewritten as Excel writes text typed
/// through the Japanese IME: in rich-text runs, followed by its reading
/// (`<rPh>` furigana) and `<phoneticPr>`.
fn with_furigana(bytes: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let si = regex::Regex::new(r"<si><t([^>]*)>([^<]*)</t></si>").unwrap();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).expect("entry");
        let name = entry.name().expect("entry name").to_string();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("inflate");
        if name == "xl/sharedStrings.xml" {
            let xml = String::from_utf8(content).expect("utf-8");
            assert!(
                si.find_iter(&xml).count() > 20,
                "every label gets a reading"
            );
            let xml = si.replace_all(&xml, |c: &regex::Captures| {
                let text = &c[2];
                let split = text.char_indices().nth(1).map_or(text.len(), |(i, _)| i);
                format!(
                    "<si><r><rPr><b/></rPr><t{a}>{head}</t></r><r><t{a}>{tail}</t></r>\
                     <rPh sb=\"0\" eb=\"1\"><t>ヨミガナ</t></rPh>\
                     <phoneticPr fontId=\"1\" type=\"noConversion\"/></si>",
                    a = &c[1],
                    head = &text[..split],
                    tail = &text[split..],
                )
            });
            content = xml.into_owned().into_bytes();
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("start entry");
        out.write_all(&content).expect("write entry");
    }
    out.finish().expect("zip").into_inner()
}

#[test]
fn text_typed_through_the_ime_with_furigana_and_runs_reads_without_the_reading() {
    let bytes = with_furigana(&xlsx(&[("緊急配布要請シート", &Form::example())]));
    let plain = one(&Form::example());
    let forms = run(&bytes);
    assert_eq!(forms.len(), 1);
    let checked = &forms[0].1;
    assert_clean(checked);
    assert!(!checked.institution.name.contains("ヨミガナ"));
    assert_eq!(checked.institution, plain.institution);
    assert_eq!(checked.lines, plain.lines);
}
