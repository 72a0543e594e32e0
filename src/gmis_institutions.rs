//! Reading a G-MIS institution list (issue 13.8): the CSV of medical
//! institutions with their addresses, used to complete the delivery
//! address of requests that have none (G-MIS exports no address).
//!
//! The file is read like the G-MIS SOS export (`crate::gmis`): UTF-8 with
//! or without BOM, UTF-16 with BOM, else Shift_JIS/CP932; comma or tab;
//! the Salesforce report footer is skipped. Columns are found by header,
//! in any order, among the usual variants (see [`column_of`]); a file
//! needs 住所 and either 医療機関コード or 医療機関名. Text is kept as
//! written (addresses are shown and exported); codes, postcodes and phone
//! numbers are normalised (NFKC) as everywhere else.
//!
//! Matching and completing requests: `crate::queue::addresses`; the page:
//! `crate::web::gmis_addresses` (see docs/review-desk.md).

use crate::gmis::{LineCounter, TextEncoding, decode, is_blank, is_footer_start};
use crate::prefecture::Prefecture;
use crate::text;

/// The columns the list is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// 医療機関コード.
    Code,
    /// 医療機関名.
    Name,
    /// 都道府県.
    Prefecture,
    /// 郵便番号.
    Postcode,
    /// 住所.
    Address,
    /// 電話番号.
    Phone,
}

/// The column a header cell names, if any (compared after folding
/// width, spaces and case). Accepted: 医療機関コード / 医療機関番号 /
/// 機関コード / 施設コード; 医療機関名 / 医療機関名称 / 施設名 / 名称;
/// 都道府県 / 都道府県名; 郵便番号 / 〒; 住所 / 所在地 / 医療機関住所 /
/// 医療機関所在地; 電話番号 / 連絡先電話番号 / TEL.
pub fn column_of(header: &str) -> Option<Column> {
    let h = text::fold_label(header);
    let is = |names: &[&str]| names.iter().any(|n| text::fold_label(n) == h);
    if is(&["医療機関コード", "医療機関番号", "機関コード", "施設コード"]) {
        Some(Column::Code)
    } else if is(&["医療機関名", "医療機関名称", "施設名", "名称"]) {
        Some(Column::Name)
    } else if is(&["都道府県", "都道府県名"]) {
        Some(Column::Prefecture)
    } else if is(&["郵便番号", "〒"]) {
        Some(Column::Postcode)
    } else if is(&["住所", "所在地", "医療機関住所", "医療機関所在地"]) {
        Some(Column::Address)
    } else if is(&["電話番号", "連絡先電話番号", "TEL"]) {
        Some(Column::Phone)
    } else {
        None
    }
}

/// One institution of the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Institution {
    /// The line of the file (1 is the header's).
    pub line: usize,
    /// 医療機関コード, normalised; empty when absent.
    pub code: String,
    /// 医療機関名 as written.
    pub name: String,
    /// 都道府県: the column, else the start of the address.
    pub prefecture: Option<Prefecture>,
    /// 郵便番号, normalised.
    pub postcode: String,
    /// 住所 as written.
    pub address: String,
    /// 電話番号, normalised.
    pub phone: String,
}

/// Why a row of the list is not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowProblem {
    /// No 住所.
    NoAddress,
    /// Neither 医療機関コード nor 医療機関名.
    NoCodeOrName,
    /// The csv reader could not read the row.
    Unreadable,
}

/// A row not used, with its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowError {
    /// The line of the file.
    pub line: usize,
    /// Why.
    pub problem: RowProblem,
}

/// The list as read.
#[derive(Clone, Debug)]
pub struct InstitutionList {
    /// How the bytes were decoded.
    pub encoding: TextEncoding,
    /// True when some bytes could not be decoded.
    pub decode_errors: bool,
    /// The usable rows.
    pub institutions: Vec<Institution>,
    /// The rows not used.
    pub errors: Vec<RowError>,
}

/// Why a file cannot be read as an institution list at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileError {
    /// No header row naming 住所 and 医療機関コード or 医療機関名.
    NoHeader,
}

/// The most rows read (a prefecture's list has a few thousand; all of
/// Japan's hospitals and clinics about 110,000).
pub const MAX_ROWS: usize = 200_000;

/// Reads an institution list; row problems are collected, only a file
/// without a usable header is an error.
pub fn parse(bytes: &[u8]) -> Result<InstitutionList, FileError> {
    let (text, encoding, decode_errors) = decode(bytes);
    let mut reader = crate::gmis::csv_reader(&text);
    let mut records = reader.records();
    let header = crate::gmis::header_record(&mut records).ok_or(FileError::NoHeader)?;
    let columns: Vec<Option<Column>> = header.iter().map(column_of).collect();
    let has = |c: Column| columns.contains(&Some(c));
    if !has(Column::Address) || !(has(Column::Code) || has(Column::Name)) {
        return Err(FileError::NoHeader);
    }
    let mut list = InstitutionList {
        encoding,
        decode_errors,
        institutions: Vec::new(),
        errors: Vec::new(),
    };
    let mut lines = LineCounter::new(&text);
    for record in records.take(MAX_ROWS) {
        let record = match record {
            Ok(record) => record,
            Err(err) => {
                // The reader cannot go on after a broken record.
                let line = err.position().map_or(0, |p| lines.line_at(p.byte()));
                list.errors.push(RowError {
                    line,
                    problem: RowProblem::Unreadable,
                });
                break;
            }
        };
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        if is_blank(&record) {
            continue;
        }
        if is_footer_start(&record) {
            break;
        }
        match read_row(&columns, &record, line) {
            Ok(institution) => list.institutions.push(institution),
            Err(problem) => list.errors.push(RowError { line, problem }),
        }
    }
    Ok(list)
}

fn read_row(
    columns: &[Option<Column>],
    record: &csv::StringRecord,
    line: usize,
) -> Result<Institution, RowProblem> {
    // The first non-empty cell of a column wins when a header repeats.
    let cell = |c: Column| {
        columns
            .iter()
            .zip(record.iter())
            .filter(|(col, _)| **col == Some(c))
            .map(|(_, v)| v.trim())
            .find(|v| !v.is_empty())
            .unwrap_or_default()
    };
    let address = text::as_written(cell(Column::Address));
    if address.is_empty() {
        return Err(RowProblem::NoAddress);
    }
    let code = text::normalize(cell(Column::Code));
    let name = text::as_written(cell(Column::Name));
    if code.is_empty() && name.is_empty() {
        return Err(RowProblem::NoCodeOrName);
    }
    let prefecture = Prefecture::parse(&text::normalize(cell(Column::Prefecture)))
        .or_else(|| Prefecture::all().find(|p| text::normalize(&address).starts_with(p.name())));
    Ok(Institution {
        line,
        code,
        name,
        prefecture,
        postcode: text::normalize(cell(Column::Postcode)),
        address,
        phone: text::normalize(cell(Column::Phone)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_header_variants_in_any_order_and_keeps_text_as_written() {
        let csv = "\u{FEFF}所在地,医療機関名称,〒,ＴＥＬ,医療機関番号\r\n\
                   北海道札幌市中央区北１条西１０丁目（本館）,さくら総合病院,０６０－０００１,011-000-0000,0110000001\r\n\
                   ,住所のない医院,,,\r\n\
                   東京都新宿区西新宿2-8-1,,160-0023,,\r\n";
        let list = parse(csv.as_bytes()).unwrap();
        assert_eq!(list.encoding, TextEncoding::Utf8Bom);
        assert_eq!(list.institutions.len(), 1, "{list:?}");
        let i = &list.institutions[0];
        assert_eq!(i.line, 2);
        assert_eq!(i.address, "北海道札幌市中央区北１条西１０丁目（本館）");
        assert_eq!(i.postcode, "060-0001");
        assert_eq!(i.code, "0110000001");
        assert_eq!(i.prefecture.map(|p| p.name()), Some("北海道"));
        assert_eq!(
            list.errors,
            vec![
                RowError {
                    line: 3,
                    problem: RowProblem::NoAddress
                },
                RowError {
                    line: 4,
                    problem: RowProblem::NoCodeOrName
                },
            ]
        );
    }

    #[test]
    fn reads_shift_jis_with_the_salesforce_footer() {
        let csv = "医療機関コード,医療機関名,都道府県,郵便番号,住所,電話番号\r\n\
                   1310000001,あおば病院,東京,160-0023,新宿区西新宿2-8-1,03-1234-5678\r\n\
                   \r\n\
                   \"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.\"\r\n\
                   機密情報 - 転送禁止\r\n";
        let bytes = encoding_rs::SHIFT_JIS.encode(csv).0.into_owned();
        let list = parse(&bytes).unwrap();
        assert_eq!(list.encoding, TextEncoding::ShiftJis);
        assert!(list.errors.is_empty(), "{:?}", list.errors);
        assert_eq!(list.institutions.len(), 1);
        assert_eq!(
            list.institutions[0].prefecture.map(|p| p.name()),
            Some("東京都")
        );
    }

    /// The fuzz target's checks over deterministic mangles of a valid list
    /// (cut, flipped, duplicated bytes), run with every `cargo test --lib`.
    #[test]
    fn never_panics_on_mangled_bytes() {
        let good = "医療機関コード\t医療機関名\t住所\n1310000001\tあおば病院\t東京都新宿区西新宿2-8-1\n\"x\ty\"\t\"\t\n"
            .as_bytes()
            .to_vec();
        let mut inputs = Vec::new();
        for cut in 0..good.len() {
            inputs.push(good[..cut].to_vec());
            let mut flipped = good.clone();
            flipped[cut] ^= 0x80;
            inputs.push(flipped);
            let mut doubled = good.clone();
            doubled.insert(cut, good[cut]);
            inputs.push(doubled);
        }
        for data in inputs {
            let Ok(read) = parse(&data) else { continue };
            let max_line = data.len() + 1;
            for i in &read.institutions {
                assert!(!i.address.is_empty());
                assert!(!(i.code.is_empty() && i.name.is_empty()));
                assert!((2..=max_line).contains(&i.line), "{data:?}");
            }
            assert!(read.errors.iter().all(|e| e.line <= max_line));
        }
    }

    #[test]
    fn a_file_without_address_or_key_columns_is_refused() {
        assert_eq!(parse(b"").unwrap_err(), FileError::NoHeader);
        assert_eq!(
            parse("医療機関名,郵便番号\nあおば病院,160-0023\n".as_bytes()).unwrap_err(),
            FileError::NoHeader
        );
        assert_eq!(
            parse("住所,郵便番号\n東京都,160-0023\n".as_bytes()).unwrap_err(),
            FileError::NoHeader
        );
    }
}
