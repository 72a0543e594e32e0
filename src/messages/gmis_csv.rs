//! Japanese wording of the G-MIS export reader ([`crate::gmis`]): what is
//! wrong with a file or with one of its rows.

use crate::gmis::{Expected, FileError, RowError, RowProblem, TextEncoding};

/// The file error as shown to staff.
impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&file_error(self))
    }
}

/// One bad row: what is wrong and, when the row names its request, that the
/// request is left out.
pub fn row_error(e: &RowError) -> String {
    let problem = match &e.problem {
        RowProblem::UnreadableCsv { detail } => unreadable_csv(detail),
        RowProblem::FieldCount { found, expected } => field_count(*found, *expected),
        RowProblem::Garbled => garbled_row(),
        RowProblem::Empty { column } => empty(column.header()),
        RowProblem::BadValue {
            column,
            value,
            expected,
        } => bad_value(column.header(), value, expected_value(*expected)),
        RowProblem::Inconsistent { column, first_line } => {
            inconsistent(column.header(), *first_line)
        }
        RowProblem::DuplicateItem { item, first_line } => duplicate_item(item.label(), *first_line),
    };
    let suffix = e
        .record_id
        .as_deref()
        .map(request_skipped)
        .unwrap_or_default();
    format!("{problem}{suffix}")
}

/// What a value of the column should look like.
fn expected_value(expected: Expected) -> &'static str {
    match expected {
        Expected::Datetime => EXPECTED_DATETIME,
        Expected::Code => EXPECTED_CODE,
        Expected::Prefecture => EXPECTED_PREFECTURE,
        Expected::Status => EXPECTED_STATUS,
        Expected::Item => EXPECTED_ITEM,
        Expected::Quantity => EXPECTED_QUANTITY,
        Expected::Outlook => EXPECTED_OUTLOOK,
        Expected::Need => EXPECTED_NEED,
        Expected::Method => EXPECTED_METHOD,
    }
}

/// The encoding as officials know it.
pub fn encoding(e: TextEncoding) -> &'static str {
    match e {
        TextEncoding::Utf8Bom => "UTF-8（BOM付き）",
        TextEncoding::Utf8 => "UTF-8",
        TextEncoding::ShiftJis => "Shift_JIS",
        TextEncoding::Utf16 => "UTF-16",
    }
}

/// A file that cannot be read at all.
pub fn file_error(err: &FileError) -> String {
    match err {
        FileError::NoHeader => "G-MISのCSVにヘッダー行がありません（空のファイルです）".to_string(),
        FileError::MissingColumns {
            columns,
            encoding: enc,
        } => format!(
            "G-MISのCSVに必要な列がありません: {}（文字コード {} として読みました）",
            columns
                .iter()
                .map(|c| format!("「{c}」"))
                .collect::<Vec<_>>()
                .join("、"),
            encoding(*enc)
        ),
        FileError::DuplicateColumn { column } => {
            format!("G-MISのCSVに「{column}」の列が2つあります。どちらを使うか決められません")
        }
    }
}

/// Part of the file could not be decoded in the detected encoding.
pub fn decode_errors(enc: TextEncoding) -> String {
    format!(
        "{} として読めない文字がありました。文字コードを確認してください",
        encoding(enc)
    )
}

/// A row with a replacement character from decoding.
pub fn garbled_row() -> String {
    "文字化けした文字があります（文字コードを確認してください）".to_string()
}

/// A row whose number of fields differs from the header.
pub fn field_count(found: usize, expected: usize) -> String {
    format!("列の数が{found}個です（ヘッダーは{expected}列）")
}

/// A required value is empty.
pub fn empty(column: &str) -> String {
    format!("「{column}」が空です")
}

/// A value that cannot be read; `expected` says what would be.
pub fn bad_value(column: &str, value: &str, expected: &str) -> String {
    format!("「{column}」の値「{value}」を読めません（{expected}）")
}

/// What a 申請日時 should look like.
pub const EXPECTED_DATETIME: &str = "例: 2026/11/20 10:15";
/// What a 医療機関コード should look like.
pub const EXPECTED_CODE: &str = "10桁の数字";
/// What a 都道府県 should be.
pub const EXPECTED_PREFECTURE: &str = "47都道府県のいずれか";
/// What a 対応ステータス should be.
pub const EXPECTED_STATUS: &str = "未申請・エラー有り・都道府県・国確認中・受付完了のいずれか";
/// What a 物資 should be.
pub const EXPECTED_ITEM: &str =
    "サージカルマスク・N95マスク・フェイスシールド・アイソレーションガウン・非滅菌手袋のいずれか";
/// What a quantity should be.
pub const EXPECTED_QUANTITY: &str = "0以上の整数";
/// What a 備蓄見通し should be.
pub const EXPECTED_OUTLOOK: &str = "1週間以内・2～3週間・4週間以上のいずれか";
/// What a 要否 should be.
pub const EXPECTED_NEED: &str = "要 または 否";
/// What a 配布方法 should be.
pub const EXPECTED_METHOD: &str = "都道府県の備蓄 または 国による直送";

/// A row of a request disagrees with the request's first row.
pub fn inconsistent(column: &str, first_line: usize) -> String {
    format!("同じレコードIDの{first_line}行目と「{column}」が異なります")
}

/// The same item twice in one request.
pub fn duplicate_item(item: &str, first_line: usize) -> String {
    format!("同じレコードIDで物資「{item}」が{first_line}行目にもあります")
}

/// Appended to a row error: the whole request is left out of the import.
pub fn request_skipped(record_id: &str) -> String {
    format!("（レコードID {record_id} の申請は取り込みません）")
}

/// The CSV itself is broken at this point.
pub fn unreadable_csv(detail: &str) -> String {
    format!("CSVとして読めません（{detail}）。以降の行は読み込みませんでした")
}
