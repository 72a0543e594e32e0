//! The institution block (医療機関名 … 医療機関担当者名).
//!
//! Codes: `institution.field.missing`, `institution.code.format`,
//! `institution.code.prefecture_mismatch`, `institution.code.check_digit`
//! (warning), `institution.postcode.format`, `institution.prefecture.unknown`,
//! `institution.address.prefecture` (warning), `institution.phone.format`.

use super::{Finding, Label, Problem, Severity, Subject, at};
use crate::prefecture::Prefecture;
use crate::request::Institution;
use crate::sheet::{Field, InstitutionBlock};
use crate::text::{normalize, separated_digits, strip_notes, strip_phone_notes};

/// Checks the block and returns the institution as understood.
pub fn check(block: &InstitutionBlock, findings: &mut Vec<Finding>) -> Institution {
    let mut inst = Institution::default();
    let present =
        |field: &Option<Field>, label: Label, findings: &mut Vec<Finding>| -> Option<String> {
            let field = field.as_ref()?;
            let text = normalize(&field.value.text);
            if text.is_empty() {
                findings.push(at(
                    Severity::Error,
                    "institution.field.missing",
                    &field.value,
                    &Subject::plain(label),
                    Problem::FieldMissing,
                ));
                return None;
            }
            Some(text)
        };

    // Free text is kept as written; `present` folds only to check it.
    let written = |field: &Option<Field>| {
        field
            .as_ref()
            .map(|f| crate::text::as_written(&f.value.text))
            .unwrap_or_default()
    };
    if present(&block.name, Label::Name, findings).is_some() {
        inst.name = written(&block.name);
    }
    if let (Some(field), Some(text)) = (
        &block.prefecture,
        present(&block.prefecture, Label::Prefecture, findings),
    ) {
        inst.prefecture = check_prefecture(field, &text, findings);
    }
    if let (Some(field), Some(text)) = (&block.code, present(&block.code, Label::Code, findings)) {
        inst.code = check_code(field, &text, inst.prefecture, findings);
    }
    if let (Some(field), Some(text)) = (
        &block.postcode,
        present(&block.postcode, Label::Postcode, findings),
    ) {
        inst.postcode = check_postcode(field, text, findings);
    }
    if let (Some(field), Some(text)) = (
        &block.address,
        present(&block.address, Label::Address, findings),
    ) {
        check_address(field, &text, inst.prefecture, findings);
        inst.address = written(&block.address);
    }
    if let (Some(field), Some(text)) = (&block.phone, present(&block.phone, Label::Phone, findings))
    {
        check_phone(field, &text, findings);
        // A number, not free text: folded to half-width like the codes.
        inst.phone = text;
    }
    if present(&block.contact, Label::Contact, findings).is_some() {
        inst.contact = written(&block.contact);
    }
    inst
}

/// The prefecture named in 都道府県, or a finding when it names none.
fn check_prefecture(field: &Field, text: &str, findings: &mut Vec<Finding>) -> Option<Prefecture> {
    let prefecture = Prefecture::parse(text);
    if prefecture.is_none() {
        findings.push(at(
            Severity::Error,
            "institution.prefecture.unknown",
            &field.value,
            &Subject::plain(Label::Prefecture),
            Problem::PrefectureUnknown,
        ));
    }
    prefecture
}

/// The postcode as `123-4567`, or the text as folded with a finding.
fn check_postcode(field: &Field, text: String, findings: &mut Vec<Finding>) -> String {
    match postcode(&strip_notes(&text)) {
        Some(p) => p,
        None => {
            findings.push(at(
                Severity::Error,
                "institution.postcode.format",
                &field.value,
                &Subject::plain(Label::Postcode),
                Problem::PostcodeFormat,
            ));
            text
        }
    }
}

/// Warns when the address does not start with the prefecture given.
fn check_address(
    field: &Field,
    text: &str,
    prefecture: Option<Prefecture>,
    findings: &mut Vec<Finding>,
) {
    if let Some(pref) = prefecture
        && !without_postcode(text).starts_with(pref.name())
    {
        findings.push(at(
            Severity::Warning,
            "institution.address.prefecture",
            &field.value,
            &Subject::plain(Label::Address),
            Problem::AddressPrefecture {
                prefecture: pref.name().to_string(),
            },
        ));
    }
}

/// A phone number has 10 or 11 digits in groups.
fn check_phone(field: &Field, text: &str, findings: &mut Vec<Finding>) {
    // `03-1234-5678（内線12）`: the note is not part of the number.
    let digits = separated_digits(&strip_phone_notes(text));
    let count = digits.as_ref().map_or(0, |d| d.len());
    if !(10..=11).contains(&count) || digits.is_none() {
        findings.push(at(
            Severity::Error,
            "institution.phone.format",
            &field.value,
            &Subject::plain(Label::Phone),
            Problem::PhoneFormat { digits: count },
        ));
    }
}

/// Checks a 医療機関コード; returns its ten digits when readable, the text
/// as written otherwise.
fn check_code(
    field: &Field,
    text: &str,
    prefecture: Option<Prefecture>,
    findings: &mut Vec<Finding>,
) -> String {
    let text = &strip_notes(text);
    let digits = separated_digits(text).unwrap_or_default();
    if digits.len() != 10 {
        let count = if separated_digits(text).is_some() {
            digits.len()
        } else {
            0
        };
        findings.push(at(
            Severity::Error,
            "institution.code.format",
            &field.value,
            &Subject::plain(Label::Code),
            Problem::CodeFormat { digits: count },
        ));
        return text.to_string();
    }
    if let Some(pref) = prefecture
        && digits.get(..2) != Some(pref.code().as_str())
    {
        findings.push(at(
            Severity::Error,
            "institution.code.prefecture_mismatch",
            &field.value,
            &Subject::plain(Label::Code),
            Problem::CodePrefectureMismatch {
                code_prefecture: digits.get(..2).unwrap_or("").to_string(),
                prefecture: pref.name().to_string(),
                expected: pref.code(),
            },
        ));
    }
    if let Some(expected) = luhn_check_digit(digits.get(..9).unwrap_or(""))
        && digits.get(9..) != Some(expected.to_string().as_str())
    {
        findings.push(at(
            Severity::Warning,
            "institution.code.check_digit",
            &field.value,
            &Subject::plain(Label::Code),
            Problem::CodeCheckDigit { expected },
        ));
    }
    digits
}

/// The Luhn check digit of `payload` (ASCII digits), e.g. `011011371` → 9.
pub fn luhn_check_digit(payload: &str) -> Option<u32> {
    let mut sum = 0;
    for (i, c) in payload.chars().rev().enumerate() {
        let d = c.to_digit(10)?;
        sum += if i % 2 == 0 {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        } else {
            d
        };
    }
    Some((10 - sum % 10) % 10)
}

/// An address without the `〒160-0023` people write before it.
fn without_postcode(address: &str) -> &str {
    let Some(rest) = address.strip_prefix('〒') else {
        return address;
    };
    rest.trim_start_matches(|c: char| {
        c.is_ascii_digit() || c.is_whitespace() || crate::text::is_dash(c)
    })
}

/// `NNN-NNNN` from `160-0023`, `1600023`, `〒１６０－００２３`.
pub fn postcode(text: &str) -> Option<String> {
    let digits = separated_digits(text)?;
    if digits.len() != 7 {
        return None;
    }
    // Only one separator, and only after the third digit.
    let t = normalize(text);
    let body: String = t
        .trim_start_matches('〒')
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let plain = body.chars().all(|c| c.is_ascii_digit());
    let hyphenated =
        body.chars().count() == 8 && body.chars().nth(3).is_some_and(crate::text::is_dash);
    (plain || hyphenated).then(|| format!("{}-{}", &digits[..3], &digits[3..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::{CellPos, Seen};

    fn field(row: u32, text: &str) -> Option<Field> {
        Some(Field {
            label: CellPos::new(row, 1),
            value: Seen {
                cell: CellPos::new(row, 2),
                text: text.into(),
                formula: None,
            },
        })
    }

    fn valid() -> InstitutionBlock {
        InstitutionBlock {
            name: field(11, "みどり内科クリニック"),
            code: field(12, "1312345679"),
            postcode: field(13, "160-0023"),
            prefecture: Some(Field {
                label: CellPos::new(13, 4),
                value: Seen {
                    cell: CellPos::new(13, 5),
                    text: "東京都".into(),
                    formula: None,
                },
            }),
            address: field(14, "東京都新宿区西新宿2-8-1"),
            phone: field(15, "03-1234-5678"),
            contact: Some(Field {
                label: CellPos::new(15, 4),
                value: Seen {
                    cell: CellPos::new(15, 5),
                    text: "山田 花子".into(),
                    formula: None,
                },
            }),
        }
    }

    fn codes(block: &InstitutionBlock) -> Vec<(String, Option<String>)> {
        let mut f = Vec::new();
        check(block, &mut f);
        f.into_iter().map(|f| (f.code, f.cell)).collect()
    }

    #[test]
    fn valid_block_has_no_findings_and_is_normalised() {
        let mut f = Vec::new();
        let inst = check(&valid(), &mut f);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(inst.code, "1312345679");
        assert_eq!(inst.prefecture.map(|p| p.name()), Some("東京都"));
        assert_eq!(inst.postcode, "160-0023");
    }

    #[test]
    fn blank_field_is_missing() {
        let mut b = valid();
        b.contact.as_mut().unwrap().value.text = " \u{3000}".into();
        assert_eq!(
            codes(&b),
            vec![("institution.field.missing".into(), Some("F16".into()))]
        );
    }

    #[test]
    fn code_must_be_ten_digits() {
        let mut b = valid();
        b.code = field(12, "131234567");
        assert_eq!(
            codes(&b),
            vec![("institution.code.format".into(), Some("C13".into()))]
        );
        b.code = field(12, "13-1234567x9");
        assert_eq!(codes(&b)[0].0, "institution.code.format");
    }

    #[test]
    fn code_prefix_must_match_prefecture() {
        let mut b = valid();
        b.prefecture.as_mut().unwrap().value.text = "大阪府".into();
        b.address = field(14, "大阪府大阪市北区1-1");
        assert_eq!(
            codes(&b),
            vec![(
                "institution.code.prefecture_mismatch".into(),
                Some("C13".into())
            )]
        );
    }

    #[test]
    fn code_check_digit_mismatch_is_a_warning() {
        let mut b = valid();
        b.code = field(12, "1312345670");
        let mut f = Vec::new();
        check(&b, &mut f);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "institution.code.check_digit");
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(luhn_check_digit("011011371"), Some(9));
    }

    #[test]
    fn full_width_code_with_hyphens_reads() {
        let mut b = valid();
        b.code = field(12, "１３－１２３４５６７９");
        let mut f = Vec::new();
        assert_eq!(check(&b, &mut f).code, "1312345679");
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn postcode_format() {
        let mut b = valid();
        b.postcode = field(13, "160-00234");
        assert_eq!(
            codes(&b),
            vec![("institution.postcode.format".into(), Some("C14".into()))]
        );
        b.postcode = field(13, "1600-023");
        assert_eq!(codes(&b)[0].0, "institution.postcode.format");
        assert_eq!(postcode("〒１６０００２３").as_deref(), Some("160-0023"));
    }

    #[test]
    fn prefecture_short_name_and_unknown() {
        let mut b = valid();
        b.prefecture.as_mut().unwrap().value.text = "東京".into();
        let mut f = Vec::new();
        assert_eq!(
            check(&b, &mut f).prefecture.map(|p| p.name()),
            Some("東京都")
        );
        assert!(f.is_empty());
        b.prefecture.as_mut().unwrap().value.text = "東京県".into();
        assert_eq!(
            codes(&b),
            vec![("institution.prefecture.unknown".into(), Some("F14".into()))]
        );
    }

    #[test]
    fn address_should_start_with_prefecture() {
        let mut b = valid();
        b.address = field(14, "新宿区西新宿2-8-1");
        let mut f = Vec::new();
        check(&b, &mut f);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].code.as_str(), f[0].severity),
            ("institution.address.prefecture", Severity::Warning)
        );
    }

    #[test]
    fn phone_ten_or_eleven_digits() {
        let mut b = valid();
        b.phone = field(15, "03-1234-567");
        assert_eq!(
            codes(&b),
            vec![("institution.phone.format".into(), Some("C16".into()))]
        );
        b.phone = field(15, "090-1234-5678");
        assert!(codes(&b).is_empty());
        b.phone = field(15, "03-1234-5678（内線123）");
        assert!(codes(&b).is_empty());
    }
}
