//! Writing the 緊急配布要請シート: the blank form (`sos-intake template`) and
//! filled-in copies for tests, samples and benchmarks.
//!
//! The layout reproduces MHLW's form as reconstructed in
//! `shared/forms/sos-request-sheet.xlsx`: the same labels in the same cells,
//! the same merges and column widths, dropdowns on the four choice columns,
//! and the 厚生労働省記入欄 greyed out and locked (worksheet protection
//! without a password; only the input cells are unlocked).
//!
//! Positions are given in the *reference* layout ([`Slot::reference_cell`]);
//! a [`FormShape`] can insert rows or columns, the way officials reshape the
//! form, and every cell, merge and dropdown moves with them.

use super::CellPos;
use crate::request::Item;
use rust_xlsxwriter::{
    Color, DataValidation, Format, FormatAlign, FormatBorder, Formula, Workbook, Worksheet,
    XlsxError,
};
use std::collections::BTreeMap;

/// The worksheet name of the form (タブ名).
pub const SHEET_NAME: &str = "緊急配布要請シート";

/// Title, row 1.
const TITLE: &str = "緊急配布要請シート（G-MIS未登録医療機関用）";

/// Notes, rows 2–9 (each merged across A:H).
const NOTES: [&str; 8] = [
    "○G-MIS登録のない医療機関のみ、こちらのシートにて要請が可能です。",
    "○緊急配布要請にあたり、以下の要件を満たす事が条件となります。",
    "①欠品等により自己調達が出来ないこと。（経済的な理由は不可)",
    "②新型コロナウイルス感染症患者（疑い患者を含む）を受け入れる医療機関若しくは発熱患者等の診療に対応する外来対応医療機関として都道府県から指定される医療機関又は新型コロナウィルス感染症回復後患者を受け入れる後方支援医療機関であること。",
    "③要請を行う医療用物資の備蓄見通しが1週間以内または2〜3週間以内であること。",
    "○上記を満たし緊急配布要請を行う医療機関は、下記【医療機関記入欄】へ情報を記入の上、所在地の都道府県へ提出をお願い致します。",
    "○提出を受けた都道府県は、医療機関へヒアリングの上、【都道府県記入欄】へ配布要否、配布枚数、決定に際しての都道府県としての意見を記載頂き、以下へ宛先へメール添付にて送付をお願い致します。※ヒアリング内容や配布ルールに関してはG-MIS申請分に準じます。",
    "厚生労働省 医政局医薬産業振興・医療情報企画課 医療用物資等確保対策推進室（マスク等物資対策班） 緊急配布チーム\u{3000}E-mail：sos-busshi@mhlw.go.jp",
];

const INSTITUTION_HEADING: &str = "【医療機関記入欄】";
const PREFECTURE_HEADING: &str = "【都道府県記入欄】";
const MHLW_HEADING: &str = "※※以下、厚生労働省記入欄にて記入しないようにお願い申し上げます。※※";
const TABLE_HEADER: &str = "配布物品一覧";

/// Column headers of the institution's item table (C..H).
const INSTITUTION_COLUMNS: [&str; 6] = [
    "緊急配布要請",
    "前日時点の在庫量",
    "現在の在庫の備蓄見通し\n（プルダウンで選択）",
    "今後1週間あたりの\n想定消費量",
    "今後1週間に購入できる\n見込み量",
    "調達不可事由",
];

/// Column headers of 【都道府県記入欄】 (C..H).
const PREFECTURE_COLUMNS: [&str; 6] = [
    "緊急配布要請\n要否",
    "配布方法",
    "県の配布枚数",
    "国の配布枚数",
    "総配布枚数",
    "都道府県意見（要否決定理由）",
];

/// Column headers of the MHLW block (C..F).
const MHLW_COLUMNS: [&str; 4] = ["配布承認", "配布数", "送付日", "受領日時"];

/// Row labels of the three tables, in the form's order.
const ITEM_LABELS: [(Item, &str); 5] = [
    (Item::SurgicalMask, "サージカルマスク"),
    (Item::N95Mask, "N95マスク"),
    (Item::FaceShield, "フェイスシールド"),
    (Item::IsolationGown, "アイソレーションガウン"),
    (Item::NonSterileGloves, "非滅菌手袋（枚で記入)"),
];

/// Dropdown choices, worded exactly as in MHLW's form.
const REQUEST_CHOICES: [&str; 2] = ["要請する", "要請しない"];
const OUTLOOK_CHOICES: [&str; 3] = ["1週間以内", "2～3週間", "4週間以上"];
const NEED_CHOICES: [&str; 2] = ["要", "否"];
const METHOD_CHOICES: [&str; 2] = ["都道府県の備蓄", "国による直送"];

/// Column widths A..H, as in the reference form.
const COLUMN_WIDTHS: [f64; 8] = [4.0, 26.0, 14.0, 16.0, 20.0, 18.0, 20.0, 40.0];

/// Reference rows (zero-based) of the blocks.
const INSTITUTION_HEADING_ROW: u32 = 10;
const INSTITUTION_TABLE_ROW: u32 = 17;
const PREFECTURE_HEADING_ROW: u32 = 24;
const PREFECTURE_TABLE_ROW: u32 = 25;
const MHLW_HEADING_ROW: u32 = 32;
const MHLW_TABLE_ROW: u32 = 33;

/// Column letters as zero-based numbers, for readability.
const COL_A: u32 = 0;
const COL_B: u32 = 1;
const COL_C: u32 = 2;
const COL_E: u32 = 4;
const COL_F: u32 = 5;
const COL_H: u32 = 7;

/// A field of the institution block (医療機関記入欄, upper part).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum InstitutionField {
    /// 医療機関名 (C12, merged C12:H12).
    Name,
    /// 医療機関コード (C13, merged C13:H13).
    Code,
    /// 郵便番号 (C14).
    Postcode,
    /// 都道府県 (F14, merged F14:H14).
    Prefecture,
    /// 医療機関住所 (C15, merged C15:H15).
    Address,
    /// 連絡先電話番号 (C16).
    Phone,
    /// 医療機関担当者名 (F16, merged F16:H16).
    Contact,
}

/// A column of the institution's item table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ItemColumn {
    /// 緊急配布要請 (C).
    Request,
    /// 前日時点の在庫量 (D).
    Stock,
    /// 現在の在庫の備蓄見通し (E).
    Outlook,
    /// 今後1週間あたりの想定消費量 (F).
    WeeklyUse,
    /// 今後1週間に購入できる見込み量 (G).
    WeeklyPurchase,
    /// 調達不可事由 (H).
    Reason,
}

/// A column of 【都道府県記入欄】.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PrefectureColumn {
    /// 緊急配布要請 要否 (C).
    Need,
    /// 配布方法 (D).
    Method,
    /// 県の配布枚数 (E).
    PrefectureQuantity,
    /// 国の配布枚数 (F).
    NationalQuantity,
    /// 総配布枚数 (G).
    TotalQuantity,
    /// 都道府県意見（要否決定理由） (H).
    Opinion,
}

/// A column of the MHLW block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MhlwColumn {
    /// 配布承認 (C).
    Approval,
    /// 配布数 (D).
    Quantity,
    /// 送付日 (E).
    ShipDate,
    /// 受領日時 (F).
    ReceivedAt,
}

/// A value cell of the form, named by what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Slot {
    /// A field of the institution block.
    Institution(InstitutionField),
    /// A cell of the institution's item table.
    Item(Item, ItemColumn),
    /// A cell of 【都道府県記入欄】.
    Prefecture(Item, PrefectureColumn),
    /// A cell of the MHLW block.
    Mhlw(Item, MhlwColumn),
}

impl Slot {
    /// Where the slot is in the reference layout (`Slot::Item(gloves,
    /// Stock)` is D23).
    pub fn reference_cell(self) -> CellPos {
        match self {
            Slot::Institution(field) => match field {
                InstitutionField::Name => CellPos::new(11, COL_C),
                InstitutionField::Code => CellPos::new(12, COL_C),
                InstitutionField::Postcode => CellPos::new(13, COL_C),
                InstitutionField::Prefecture => CellPos::new(13, COL_F),
                InstitutionField::Address => CellPos::new(14, COL_C),
                InstitutionField::Phone => CellPos::new(15, COL_C),
                InstitutionField::Contact => CellPos::new(15, COL_F),
            },
            Slot::Item(item, column) => CellPos::new(
                INSTITUTION_TABLE_ROW + 1 + item_index(item),
                COL_C + column as u32,
            ),
            Slot::Prefecture(item, column) => CellPos::new(
                PREFECTURE_TABLE_ROW + 1 + item_index(item),
                COL_C + column as u32,
            ),
            Slot::Mhlw(item, column) => {
                CellPos::new(MHLW_TABLE_ROW + 1 + item_index(item), COL_C + column as u32)
            }
        }
    }
}

fn item_index(item: Item) -> u32 {
    Item::ALL.iter().position(|i| *i == item).unwrap_or(0) as u32
}

/// A value typed into a cell.
#[derive(Clone, Debug, PartialEq)]
pub enum CellValue {
    /// Text (also digits stored as text, `1,000枚`, `２～３週間`…).
    Text(String),
    /// A number cell.
    Number(f64),
    /// A formula (without `=`) in absolute, already shifted references, with
    /// its cached value when the writing tool stored one (`None`: no value,
    /// as files from tools that never calculate).
    Formula {
        /// The formula, e.g. `E31+F31`.
        formula: String,
        /// The cached result, e.g. `2000`.
        cached: Option<String>,
    },
}

impl From<&str> for CellValue {
    fn from(s: &str) -> CellValue {
        CellValue::Text(s.to_string())
    }
}

impl From<String> for CellValue {
    fn from(s: String) -> CellValue {
        CellValue::Text(s)
    }
}

impl From<f64> for CellValue {
    fn from(n: f64) -> CellValue {
        CellValue::Number(n)
    }
}

impl From<i64> for CellValue {
    fn from(n: i64) -> CellValue {
        // Sheet quantities are far below 2^53, so the conversion is exact.
        CellValue::Number(n as f64)
    }
}

/// What is typed into the form, by reference position.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FormFill {
    /// Values keyed by their cell in the reference layout.
    pub values: BTreeMap<CellPos, CellValue>,
}

impl FormFill {
    /// An empty form.
    pub fn new() -> FormFill {
        FormFill::default()
    }

    /// Sets (or replaces) the value of a slot.
    pub fn set(&mut self, slot: Slot, value: impl Into<CellValue>) -> &mut FormFill {
        self.values.insert(slot.reference_cell(), value.into());
        self
    }

    /// Sets a value at any reference position (e.g. a note beside the form).
    pub fn set_cell(&mut self, cell: CellPos, value: impl Into<CellValue>) -> &mut FormFill {
        self.values.insert(cell, value.into());
        self
    }

    /// Clears a slot.
    pub fn clear(&mut self, slot: Slot) -> &mut FormFill {
        self.values.remove(&slot.reference_cell());
        self
    }

    /// The filled example of `shared/forms/example-filled.xlsx`: a Tokyo
    /// clinic asking for non-sterile gloves, which the prefecture supplies
    /// from its own stock. It is valid under the default configuration.
    pub fn example() -> FormFill {
        use InstitutionField as F;
        use ItemColumn as I;
        use PrefectureColumn as P;
        let gloves = Item::NonSterileGloves;
        let mut fill = FormFill::new();
        fill.set(Slot::Institution(F::Name), "みどり内科クリニック")
            .set(Slot::Institution(F::Code), "1312345679")
            .set(Slot::Institution(F::Postcode), "160-0023")
            .set(Slot::Institution(F::Prefecture), "東京都")
            .set(Slot::Institution(F::Address), "東京都新宿区西新宿2-8-1")
            .set(Slot::Institution(F::Phone), "03-1234-5678")
            .set(Slot::Institution(F::Contact), "山田 花子")
            .set(Slot::Item(gloves, I::Request), "要請する")
            .set(Slot::Item(gloves, I::Stock), 800i64)
            .set(Slot::Item(gloves, I::Outlook), "1週間以内")
            .set(Slot::Item(gloves, I::WeeklyUse), 1200i64)
            .set(Slot::Item(gloves, I::WeeklyPurchase), 200i64)
            .set(Slot::Item(gloves, I::Reason), "欠品のため卸から入荷未定")
            .set(Slot::Prefecture(gloves, P::Need), "要")
            .set(Slot::Prefecture(gloves, P::Method), "都道府県の備蓄")
            .set(Slot::Prefecture(gloves, P::PrefectureQuantity), 2000i64)
            .set(Slot::Prefecture(gloves, P::NationalQuantity), 0i64)
            .set(Slot::Prefecture(gloves, P::TotalQuantity), 2000i64)
            .set(
                Slot::Prefecture(gloves, P::Opinion),
                "過去の緊急配布回数：0回。卸での欠品により入荷見込みなし（聞き取り済）。",
            );
        fill
    }
}

/// How the form is laid out on the worksheet: the reference layout, or one
/// with rows or columns inserted, protected or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormShape {
    /// `(reference_row, count)`: `count` blank rows inserted just above the
    /// zero-based reference row.
    pub inserted_rows: Vec<(u32, u32)>,
    /// `(reference_col, count)`: `count` blank columns inserted just left of
    /// the zero-based reference column.
    pub inserted_cols: Vec<(u32, u32)>,
    /// Worksheet protection (no password) with only the input cells
    /// unlocked, as MHLW distributes the form.
    pub protect: bool,
}

impl Default for FormShape {
    fn default() -> FormShape {
        FormShape::reference()
    }
}

impl FormShape {
    /// The reference layout, protected.
    pub fn reference() -> FormShape {
        FormShape {
            inserted_rows: Vec::new(),
            inserted_cols: Vec::new(),
            protect: true,
        }
    }

    /// Where a reference position lands on this worksheet.
    pub fn map(&self, pos: CellPos) -> CellPos {
        let shift = |inserts: &[(u32, u32)], at: u32| -> u32 {
            inserts
                .iter()
                .filter(|(before, _)| *before <= at)
                .map(|(_, n)| *n)
                .sum()
        };
        CellPos::new(
            pos.row + shift(&self.inserted_rows, pos.row),
            pos.col + shift(&self.inserted_cols, pos.col),
        )
    }
}

/// The cell formats of the form.
struct Formats {
    title: Format,
    heading: Format,
    label: Format,
    input: Format,
    institution_header: Format,
    prefecture_header: Format,
    mhlw_header: Format,
    row_label: Format,
    mhlw_cell: Format,
}

impl Formats {
    fn new() -> Formats {
        let bordered = Format::new().set_border(FormatBorder::Thin);
        let header = bordered
            .clone()
            .set_bold()
            .set_align(FormatAlign::Center)
            .set_align(FormatAlign::VerticalCenter)
            .set_text_wrap();
        let grey = Color::RGB(0xD9D9D9);
        Formats {
            title: Format::new().set_bold().set_font_size(14),
            heading: Format::new().set_bold(),
            label: bordered.clone().set_background_color(Color::RGB(0xDDEBF7)),
            input: bordered.clone().set_unlocked(),
            institution_header: header.clone().set_background_color(Color::RGB(0xDDEBF7)),
            prefecture_header: header.clone().set_background_color(Color::RGB(0xFFF2CC)),
            mhlw_header: header.set_background_color(grey),
            row_label: bordered.clone(),
            mhlw_cell: bordered.set_background_color(grey).set_locked(),
        }
    }
}

/// Writes the form onto `ws` in `shape`, with `fill`'s values.
pub fn write_form(ws: &mut Worksheet, shape: &FormShape, fill: &FormFill) -> Result<(), XlsxError> {
    let formats = Formats::new();
    let mut writer = FormWriter {
        ws,
        shape,
        fill,
        written: Vec::new(),
    };
    writer.layout(&formats)?;
    writer.validations()?;
    writer.extra_values()?;
    if shape.protect {
        writer.ws.protect();
    }
    Ok(())
}

/// The blank form as .xlsx bytes.
pub fn template() -> Result<Vec<u8>, XlsxError> {
    filled(&FormShape::reference(), &FormFill::new())
}

/// A one-sheet workbook holding the form in `shape` with `fill`'s values,
/// as .xlsx bytes.
pub fn filled(shape: &FormShape, fill: &FormFill) -> Result<Vec<u8>, XlsxError> {
    workbook(shape, fill)?.save_to_buffer()
}

/// The same workbook before saving, for callers that add sheets or set
/// document properties (the sample generator fixes the creation time).
pub fn workbook(shape: &FormShape, fill: &FormFill) -> Result<Workbook, XlsxError> {
    let mut workbook = Workbook::new();
    let ws = workbook.add_worksheet();
    ws.set_name(SHEET_NAME)?;
    write_form(ws, shape, fill)?;
    Ok(workbook)
}

/// A row of the institution block: label and field, and the second pair
/// on the same row (郵便番号 | 都道府県, 電話番号 | 担当者名).
type LabelRow = (
    &'static str,
    InstitutionField,
    Option<(&'static str, InstitutionField)>,
);

/// Writes the layout cell by cell, so that each cell gets its value and
/// format in one go (a value written later would drop the format).
struct FormWriter<'a> {
    ws: &'a mut Worksheet,
    shape: &'a FormShape,
    fill: &'a FormFill,
    /// Reference positions already written (to write the rest afterwards).
    written: Vec<CellPos>,
}

impl FormWriter<'_> {
    fn layout(&mut self, f: &Formats) -> Result<(), XlsxError> {
        self.merged_text(CellPos::new(0, COL_A), COL_H, TITLE, &f.title)?;
        for (i, note) in NOTES.iter().enumerate() {
            self.merged_text(
                CellPos::new(1 + i as u32, COL_A),
                COL_H,
                note,
                &Format::new(),
            )?;
        }
        self.text(
            CellPos::new(INSTITUTION_HEADING_ROW, COL_A),
            INSTITUTION_HEADING,
            &f.heading,
        )?;
        self.institution_block(f)?;
        self.table(
            INSTITUTION_TABLE_ROW,
            &INSTITUTION_COLUMNS,
            &f.institution_header,
            &f.row_label,
        )?;
        for item in Item::ALL {
            for col in 0..INSTITUTION_COLUMNS.len() as u32 {
                let pos = CellPos::new(INSTITUTION_TABLE_ROW + 1 + item_index(item), COL_C + col);
                self.value(pos, &f.input)?;
            }
        }
        self.text(
            CellPos::new(PREFECTURE_HEADING_ROW, COL_A),
            PREFECTURE_HEADING,
            &f.heading,
        )?;
        self.table(
            PREFECTURE_TABLE_ROW,
            &PREFECTURE_COLUMNS,
            &f.prefecture_header,
            &f.row_label,
        )?;
        for item in Item::ALL {
            for col in 0..PREFECTURE_COLUMNS.len() as u32 {
                let pos = CellPos::new(PREFECTURE_TABLE_ROW + 1 + item_index(item), COL_C + col);
                self.value(pos, &f.input)?;
            }
        }
        self.text(
            CellPos::new(MHLW_HEADING_ROW, COL_A),
            MHLW_HEADING,
            &Format::new(),
        )?;
        self.table(MHLW_TABLE_ROW, &MHLW_COLUMNS, &f.mhlw_header, &f.mhlw_cell)?;
        for item in Item::ALL {
            for col in 0..MHLW_COLUMNS.len() as u32 {
                let pos = CellPos::new(MHLW_TABLE_ROW + 1 + item_index(item), COL_C + col);
                self.value(pos, &f.mhlw_cell)?;
            }
        }
        for (i, width) in COLUMN_WIDTHS.iter().enumerate() {
            let col = self.shape.map(CellPos::new(0, i as u32)).col;
            self.ws.set_column_width(col as u16, *width)?;
        }
        Ok(())
    }

    /// 【医療機関記入欄】 upper part: label cells and (merged) value cells.
    fn institution_block(&mut self, f: &Formats) -> Result<(), XlsxError> {
        use InstitutionField as F;
        let rows: [LabelRow; 5] = [
            ("医療機関名", F::Name, None),
            ("医療機関コード", F::Code, None),
            ("郵便番号", F::Postcode, Some(("都道府県", F::Prefecture))),
            ("医療機関住所", F::Address, None),
            (
                "連絡先電話番号",
                F::Phone,
                Some(("医療機関担当者名", F::Contact)),
            ),
        ];
        for (label, field, second) in rows {
            let value = Slot::Institution(field).reference_cell();
            self.text(CellPos::new(value.row, COL_B), label, &f.label)?;
            match second {
                None => self.merged_value(value, COL_H, &f.input)?,
                Some((label2, field2)) => {
                    self.value(value, &f.input)?;
                    self.text(CellPos::new(value.row, COL_E), label2, &f.label)?;
                    let value2 = Slot::Institution(field2).reference_cell();
                    self.merged_value(value2, COL_H, &f.input)?;
                }
            }
        }
        Ok(())
    }

    /// A table header row and the item labels below it.
    fn table(
        &mut self,
        header_row: u32,
        columns: &[&str],
        header: &Format,
        row_label: &Format,
    ) -> Result<(), XlsxError> {
        self.text(CellPos::new(header_row, COL_B), TABLE_HEADER, header)?;
        for (i, name) in columns.iter().enumerate() {
            self.text(CellPos::new(header_row, COL_C + i as u32), name, header)?;
        }
        for (item, label) in ITEM_LABELS {
            self.text(
                CellPos::new(header_row + 1 + item_index(item), COL_B),
                label,
                row_label,
            )?;
        }
        Ok(())
    }

    fn text(&mut self, pos: CellPos, text: &str, format: &Format) -> Result<(), XlsxError> {
        let at = self.shape.map(pos);
        self.ws
            .write_string_with_format(at.row, at.col as u16, text, format)?;
        Ok(())
    }

    fn merged_text(
        &mut self,
        pos: CellPos,
        last_col: u32,
        text: &str,
        format: &Format,
    ) -> Result<(), XlsxError> {
        let first = self.shape.map(pos);
        let last = self.shape.map(CellPos::new(pos.row, last_col));
        self.ws.merge_range(
            first.row,
            first.col as u16,
            last.row,
            last.col as u16,
            text,
            format,
        )?;
        Ok(())
    }

    /// A value cell merged up to `last_col`, then its value (if any).
    fn merged_value(
        &mut self,
        pos: CellPos,
        last_col: u32,
        format: &Format,
    ) -> Result<(), XlsxError> {
        self.merged_text(pos, last_col, "", format)?;
        self.value(pos, format)
    }

    /// A value cell: the fill's value with `format`, or a blank formatted cell.
    fn value(&mut self, pos: CellPos, format: &Format) -> Result<(), XlsxError> {
        let at = self.shape.map(pos);
        self.written.push(pos);
        match self.fill.values.get(&pos) {
            Some(value) => write_value(self.ws, at, value, format),
            None => {
                self.ws.write_blank(at.row, at.col as u16, format)?;
                Ok(())
            }
        }
    }

    /// The four dropdowns, spanning the (shifted) item rows.
    fn validations(&mut self) -> Result<(), XlsxError> {
        let first = Item::ALL[0];
        let last = Item::NonSterileGloves;
        let lists: [(Slot, Slot, &[&str]); 4] = [
            (
                Slot::Item(first, ItemColumn::Request),
                Slot::Item(last, ItemColumn::Request),
                &REQUEST_CHOICES,
            ),
            (
                Slot::Item(first, ItemColumn::Outlook),
                Slot::Item(last, ItemColumn::Outlook),
                &OUTLOOK_CHOICES,
            ),
            (
                Slot::Prefecture(first, PrefectureColumn::Need),
                Slot::Prefecture(last, PrefectureColumn::Need),
                &NEED_CHOICES,
            ),
            (
                Slot::Prefecture(first, PrefectureColumn::Method),
                Slot::Prefecture(last, PrefectureColumn::Method),
                &METHOD_CHOICES,
            ),
        ];
        for (top, bottom, choices) in lists {
            let top = self.shape.map(top.reference_cell());
            let bottom = self.shape.map(bottom.reference_cell());
            let validation = DataValidation::new().allow_list_strings(choices)?;
            self.ws.add_data_validation(
                top.row,
                top.col as u16,
                bottom.row,
                bottom.col as u16,
                &validation,
            )?;
        }
        Ok(())
    }

    /// Values at positions outside the form's value cells (notes beside the
    /// form, text in inserted rows…), written without a format.
    fn extra_values(&mut self) -> Result<(), XlsxError> {
        for (pos, value) in &self.fill.values {
            if !self.written.contains(pos) {
                let at = self.shape.map(*pos);
                write_value(self.ws, at, value, &Format::new())?;
            }
        }
        Ok(())
    }
}

/// Writes one value with its format at an absolute position.
fn write_value(
    ws: &mut Worksheet,
    at: CellPos,
    value: &CellValue,
    format: &Format,
) -> Result<(), XlsxError> {
    let col = at.col as u16;
    match value {
        CellValue::Text(text) => {
            ws.write_string_with_format(at.row, col, text, format)?;
        }
        CellValue::Number(n) => {
            ws.write_number_with_format(at.row, col, *n, format)?;
        }
        CellValue::Formula { formula, cached } => {
            // Without a cached value rust_xlsxwriter would store 0, which
            // reads as a real zero; an empty string result is what tools that
            // never calculate leave behind.
            let formula = Formula::new(formula).set_result(cached.as_deref().unwrap_or(""));
            ws.write_formula_with_format(at.row, col, formula, format)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::{Policy, check};
    use std::io::Read;

    fn worksheet_xml(bytes: &[u8]) -> String {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
        let mut part = archive.by_name("xl/worksheets/sheet1.xml").expect("sheet1");
        let mut xml = String::new();
        part.read_to_string(&mut xml).expect("utf-8");
        xml
    }

    fn findings_of(bytes: &[u8]) -> Vec<(String, Option<String>)> {
        let workbook = crate::sheet::read_workbook(bytes).expect("readable");
        assert_eq!(workbook.forms.len(), 1);
        let checked = check(&workbook.forms[0], &Policy::default());
        checked
            .findings
            .into_iter()
            .map(|f| (f.code, f.cell))
            .collect()
    }

    #[test]
    fn template_filled_in_passes_check() {
        let bytes = filled(&FormShape::reference(), &FormFill::example()).expect("filled");
        assert_eq!(findings_of(&bytes), vec![]);
    }

    #[test]
    fn template_filled_in_with_rows_inserted_passes_check() {
        let shape = FormShape {
            inserted_rows: vec![(0, 3), (24, 1)],
            inserted_cols: vec![(0, 2)],
            protect: false,
        };
        let bytes = filled(&shape, &FormFill::example()).expect("filled");
        assert_eq!(findings_of(&bytes), vec![]);
    }

    #[test]
    fn blank_template_is_read_as_the_form_and_asks_for_everything() {
        let bytes = template().expect("template");
        let workbook = crate::sheet::read_workbook(&bytes).expect("readable");
        let form = &workbook.forms[0];
        assert_eq!(form.sheet, SHEET_NAME);
        assert_eq!(form.items.len(), 5);
        assert_eq!(form.prefecture.len(), 5);
        assert_eq!(form.mhlw.len(), 5);
        let findings = findings_of(&bytes);
        assert!(findings.contains(&("institution.field.missing".into(), Some("C12".into()))));
        assert!(
            findings
                .iter()
                .any(|(code, _)| code == "institution.no_item_requested")
        );
    }

    #[test]
    fn template_has_the_reference_merges_widths_and_dropdowns() {
        let xml = worksheet_xml(&template().expect("template"));
        for merge in [
            "A1:H1", "A9:H9", "C12:H12", "C13:H13", "F14:H14", "C15:H15", "F16:H16",
        ] {
            assert!(
                xml.contains(&format!("<mergeCell ref=\"{merge}\"/>")),
                "merge {merge}"
            );
        }
        assert!(xml.contains(r#"<col min="8" max="8" width="40.7109375" customWidth="1"/>"#));
        for (range, list) in [
            ("C19:C23", "要請する,要請しない"),
            ("E19:E23", "1週間以内,2～3週間,4週間以上"),
            ("C27:C31", "要,否"),
            ("D27:D31", "都道府県の備蓄,国による直送"),
        ] {
            let validation = xml
                .split("<dataValidation ")
                .find(|v| v.contains(&format!("sqref=\"{range}\"")));
            let validation = validation.unwrap_or_else(|| panic!("no dropdown on {range}"));
            assert!(
                validation.contains(&format!("<formula1>\"{list}\"</formula1>")),
                "{range}: {validation}"
            );
        }
    }

    #[test]
    fn template_is_protected_with_inputs_unlocked_and_mhlw_block_locked_and_grey() {
        let bytes = template().expect("template");
        let xml = worksheet_xml(&bytes);
        assert!(xml.contains("<sheetProtection sheet=\"1\""));
        assert!(!xml.contains("password="));
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&bytes[..])).expect("zip");
        let mut styles = String::new();
        archive
            .by_name("xl/styles.xml")
            .expect("styles")
            .read_to_string(&mut styles)
            .expect("utf-8");
        let xfs: Vec<&str> = styles
            .split("<cellXfs")
            .nth(1)
            .expect("cellXfs")
            .split("<xf ")
            .skip(1)
            .collect();
        let style_of = |cell: &str| -> &str {
            let at = xml
                .find(&format!("<c r=\"{cell}\""))
                .unwrap_or_else(|| panic!("{cell}"));
            let tag = &xml[at..at + xml[at..].find('>').expect("tag end")];
            let index: usize = tag
                .split(" s=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            xfs[index]
        };
        for input in [
            "C12", "C13", "C14", "F14", "C15", "C16", "F16", "C19", "H23", "C27", "H31",
        ] {
            assert!(
                style_of(input).contains("locked=\"0\""),
                "{input} must be unlocked"
            );
        }
        for locked in ["B12", "B19", "C35", "F39"] {
            assert!(
                !style_of(locked).contains("locked=\"0\""),
                "{locked} must stay locked"
            );
        }
        let fills: Vec<&str> = styles
            .split("<fills")
            .nth(1)
            .expect("fills")
            .split("<fill>")
            .skip(1)
            .collect();
        let grey = |cell: &str| -> bool {
            let xf = style_of(cell);
            let fill: usize = xf
                .split("fillId=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            fills.get(fill).is_some_and(|f| f.contains("FFD9D9D9"))
        };
        assert!(grey("C35") && grey("F39") && grey("C34"));
        assert!(!grey("C31"));
    }

    #[test]
    fn reference_cells_match_the_reference_form() {
        let gloves = Item::NonSterileGloves;
        assert_eq!(
            Slot::Institution(InstitutionField::Name)
                .reference_cell()
                .a1(),
            "C12"
        );
        assert_eq!(
            Slot::Institution(InstitutionField::Prefecture)
                .reference_cell()
                .a1(),
            "F14"
        );
        assert_eq!(
            Slot::Institution(InstitutionField::Contact)
                .reference_cell()
                .a1(),
            "F16"
        );
        assert_eq!(
            Slot::Item(gloves, ItemColumn::Stock).reference_cell().a1(),
            "D23"
        );
        assert_eq!(
            Slot::Item(Item::SurgicalMask, ItemColumn::Request)
                .reference_cell()
                .a1(),
            "C19"
        );
        assert_eq!(
            Slot::Prefecture(gloves, PrefectureColumn::TotalQuantity)
                .reference_cell()
                .a1(),
            "G31"
        );
        assert_eq!(
            Slot::Mhlw(gloves, MhlwColumn::ReceivedAt)
                .reference_cell()
                .a1(),
            "F39"
        );
    }

    #[test]
    fn inserted_rows_and_columns_shift_positions_below_and_right() {
        let shape = FormShape {
            inserted_rows: vec![(11, 2)],
            inserted_cols: vec![(1, 1)],
            protect: false,
        };
        assert_eq!(shape.map(CellPos::new(0, 0)), CellPos::new(0, 0));
        assert_eq!(shape.map(CellPos::new(10, 1)), CellPos::new(10, 2));
        assert_eq!(shape.map(CellPos::new(11, 2)), CellPos::new(13, 3));
    }
}
