//! The Japanese wording of every validation finding and of every reason a
//! file could not be read. Each function says what is wrong and what is
//! expected, for a prefecture official who will not call anyone to ask.
//!
//! Validation and the queue state findings as a typed
//! [`Fact`](crate::validation::Fact); [`field`]
//! and [`message`] word a finding from it (one sentence per [`Problem`],
//! below), and [`worded`] gives a copy with both filled in for the writers
//! that print them (replies, the annotated copy, the CLI). A finding stored
//! before facts existed, or worded by its maker, keeps its own text.

use crate::request::{Item, Need};
use crate::sheet::ReadError;
use crate::validation::{FiledBy, Finding, Label, Problem, Subject};

/// The finding's field label in Japanese, e.g. `前日時点の在庫量（非滅菌手袋）`.
pub fn field(finding: &Finding) -> String {
    match &finding.fact {
        Some(fact) if finding.field.is_empty() => subject(&fact.about),
        _ => finding.field.clone(),
    }
}

/// The finding's sentence in Japanese: what is wrong and what is expected.
pub fn message(finding: &Finding) -> String {
    match &finding.fact {
        Some(fact) if finding.message.is_empty() => sentence(&fact.about, &fact.problem),
        _ => finding.message.clone(),
    }
}

/// A copy of `finding` with [`Finding::field`] and [`Finding::message`]
/// worded, for writers that print those two.
pub fn worded(finding: &Finding) -> Finding {
    Finding {
        field: field(finding),
        message: message(finding),
        ..finding.clone()
    }
}

/// The finding as people read it: worded, without the typed fact (the
/// shape `check --json` and `queue show --json` have always printed).
pub fn plain(finding: &Finding) -> Finding {
    Finding {
        fact: None,
        ..worded(finding)
    }
}

/// [`worded`] for each finding.
pub fn all_worded(findings: &[Finding]) -> Vec<Finding> {
    findings.iter().map(worded).collect()
}

/// The label of a field of the form, without the item.
pub fn label(label: &Label) -> String {
    match label {
        Label::Name => labels::NAME.into(),
        Label::Code => labels::CODE.into(),
        Label::Postcode => labels::POSTCODE.into(),
        Label::Prefecture => labels::PREFECTURE.into(),
        Label::Address => labels::ADDRESS.into(),
        Label::Phone => labels::PHONE.into(),
        Label::Contact => labels::CONTACT.into(),
        Label::Request => labels::REQUEST.into(),
        Label::Stock => labels::STOCK.into(),
        Label::Outlook => labels::OUTLOOK.into(),
        Label::WeeklyUse => labels::WEEKLY_USE.into(),
        Label::WeeklyPurchase => labels::WEEKLY_PURCHASE.into(),
        Label::Reason => labels::REASON.into(),
        Label::Need => labels::NEED.into(),
        Label::Method => labels::METHOD.into(),
        Label::PrefectureQuantity => labels::PREFECTURE_QUANTITY.into(),
        Label::NationalQuantity => labels::NATIONAL_QUANTITY.into(),
        Label::TotalQuantity => labels::TOTAL_QUANTITY.into(),
        Label::Opinion => labels::OPINION.into(),
        Label::InstitutionTable => labels::INSTITUTION_TABLE.into(),
        Label::PrefectureTable => labels::PREFECTURE_TABLE.into(),
        Label::SecondForm => labels::SECOND_FORM.into(),
        Label::Mhlw(title) => title.clone(),
    }
}

/// The label of a field with its item (`総配布枚数（非滅菌手袋）`); a column of
/// the MHLW block is prefixed with the block's name.
pub fn subject(about: &Subject) -> String {
    let bare = label(&about.label);
    let full = match about.item {
        Some(item) => labels::for_item(&bare, item),
        None => bare,
    };
    match about.label {
        Label::Mhlw(_) => format!("{}：{full}", labels::MHLW_BLOCK),
        _ => full,
    }
}

/// The sentence of one problem about `about`: the one place each finding
/// code is worded.
///
/// Long on purpose: one arm per problem, so every sentence of the error
/// report stands in one match that reads like the list of findings.
pub fn sentence(about: &Subject, problem: &Problem) -> String {
    let field = || subject(about);
    let item = || about.item.map(Item::label).unwrap_or_default();
    match problem {
        Problem::LabelMissing => label_missing(&field()),
        Problem::FormRepeated => form_repeated(),
        Problem::BlockMissing => block_missing(&field()),
        Problem::ItemRowMissing { item } => item_row_missing(&field(), item.label()),
        Problem::ItemRowDuplicate { item } => item_row_duplicate(&field(), item.label()),
        Problem::FormulaWithoutValue { formula } => formula_without_value(formula),
        Problem::FieldMissing => field_missing(&field()),
        Problem::CodeFormat { digits } => code_format(*digits),
        Problem::CodePrefectureMismatch {
            code_prefecture,
            prefecture,
            expected,
        } => code_prefecture_mismatch(code_prefecture, prefecture, expected),
        Problem::CodeCheckDigit { expected } => code_check_digit(*expected),
        Problem::PostcodeFormat => postcode_format(),
        Problem::PrefectureUnknown => prefecture_unknown(),
        Problem::AddressPrefecture { prefecture } => address_prefecture(prefecture),
        Problem::PhoneFormat { digits } => phone_format(*digits),
        Problem::NoItemRequested => no_item_requested(),
        Problem::RequestInvalid => request_invalid(),
        Problem::ItemNotAccepted { accepted } => {
            let accepted: Vec<&str> = accepted.iter().map(|i| i.label()).collect();
            item_not_accepted(item(), &accepted.join("、"))
        }
        Problem::QuantityMissing => quantity_missing(&field()),
        Problem::QuantityInvalid => quantity_invalid(&field()),
        Problem::QuantityInPackages => quantity_in_packages(&field()),
        Problem::PairsConverted { pairs, sheets } => pairs_converted(*pairs, *sheets),
        Problem::OutlookMissing => outlook_missing(),
        Problem::OutlookInvalid => outlook_invalid(),
        Problem::OutlookNotEligible => outlook_not_eligible(),
        Problem::ReasonMissing => reason_missing(),
        Problem::ReasonEconomic => reason_economic(),
        Problem::StockOverMonth => stock_over_month(),
        Problem::NoShortfall => no_shortfall(),
        Problem::NeedMissing => need_missing(item()),
        Problem::NeedInvalid => need_invalid(),
        Problem::RowForUnrequestedItem => row_for_unrequested_item(item()),
        Problem::MethodMissing => method_missing(),
        Problem::MethodInvalid => method_invalid(),
        Problem::PrefectureQuantityInvalid => prefecture_quantity_invalid(&field()),
        Problem::TotalMismatch {
            prefecture,
            national,
        } => total_mismatch(*prefecture, *national),
        Problem::TotalZero => total_zero(),
        Problem::StockWithNational => stock_with_national(),
        Problem::BothSourcesWithoutReason => both_sources_without_reason(),
        Problem::OpinionCountMissing => opinion_count_missing(),
        Problem::OpinionReasonMissing { need } => opinion_reason_missing(match need {
            Need::Needed => "要",
            Need::NotNeeded => "否",
        }),
        // The sentence names the column without its item.
        Problem::NotNeededNonzero => not_needed_nonzero(&label(&about.label)),
        Problem::TotalGuideline {
            guideline,
            weekly_use,
            weekly_purchase,
        } => total_guideline(*guideline, *weekly_use, *weekly_purchase),
        Problem::GlovesSizeLimit { total } => gloves_size_limit(*total),
        Problem::MhlwNotEmpty => mhlw_not_empty(),
        Problem::GmisRegistered { code } => super::queue::gmis_registered(code),
        Problem::CompletedExists {
            receipts,
            items,
            batch_date,
        } => super::queue::completed_exists(receipts, items, batch_date),
        Problem::Supersedes { receipts } => super::queue::supersedes(receipts),
        Problem::PrefectureMismatch {
            on_sheet,
            filer,
            by: FiledBy::Mail,
        } => super::mail::prefecture_mismatch(on_sheet.name(), filer.name()),
        Problem::PrefectureMismatch {
            on_sheet,
            filer,
            by: FiledBy::Hand,
        } => super::queue::prefecture_mismatch(on_sheet.name(), filer.name()),
    }
}

/// Why a file could not be read as a request sheet at all.
pub fn read_error(err: &ReadError) -> String {
    match err {
        ReadError::Encrypted => "パスワードが設定されている（暗号化された）ファイルのため読み取れません。パスワードを解除したファイルを添付して再送してください。".into(),
        ReadError::NotASpreadsheet => "Excelファイル（.xlsx / .xlsm / .xls）またはODSファイル（.ods）ではないため読み取れません。緊急配布要請シートをExcel形式で添付してください。".into(),
        ReadError::Corrupt(_) => "ファイルが壊れているため読み取れません。Excelで開けることを確認のうえ、保存し直して再送してください。".into(),
        ReadError::NoForm => "緊急配布要請シートが見つかりません（【医療機関記入欄】や「配布物品一覧」の見出しがありません）。所定の様式で作成したファイルを添付してください。".into(),
        ReadError::TooLarge(_) => "ファイルが大きすぎるため読み取れません。不要なシートやデータを削除し、所定の様式のみを添付してください。".into(),
        ReadError::Empty => "ファイルが空（0バイト）です。記入済みの緊急配布要請シートを添付してください。".into(),
    }
}

/// A file that could not be opened from disk (CLI).
pub fn io_error(detail: &str) -> String {
    format!("ファイルを開けません（{detail}）。")
}

/// A label of the institution block was not found on the sheet.
fn label_missing(field: &str) -> String {
    format!("「{field}」の欄が見つかりません。所定の様式の「{field}」欄に記入してください。")
}

/// A second form on the same worksheet.
fn form_repeated() -> String {
    "1つのシートに様式が複数あります。2つ目以降は読み取られません。1シートにつき1医療機関分とし、他の医療機関は別のシート（またはファイル）にしてください。".into()
}

/// A whole block (heading or table) was not found.
fn block_missing(block: &str) -> String {
    format!(
        "{block}が見つかりません。所定の様式（行や見出しを削除していないもの）を使用してください。"
    )
}

/// An item row is missing from a table.
fn item_row_missing(table: &str, item: &str) -> String {
    format!(
        "{table}に「{item}」の行が見つかりません。所定の様式の5品目の行を削除せずに使用してください。"
    )
}

/// The same item appears twice in one table.
fn item_row_duplicate(table: &str, item: &str) -> String {
    format!("{table}に「{item}」の行が複数あります。1品目につき1行で記入してください。")
}

/// A required field is blank.
fn field_missing(field: &str) -> String {
    format!("「{field}」が未記入です。記入してください。")
}

/// 医療機関コード is not 10 digits.
fn code_format(digits: usize) -> String {
    format!(
        "医療機関コードは10桁の数字（都道府県番号2桁・点数表番号1桁・医療機関番号7桁）で記入してください（読み取った桁数: {digits}桁）。"
    )
}

/// The code's first two digits do not match 都道府県.
fn code_prefecture_mismatch(code_pref: &str, prefecture: &str, expected: &str) -> String {
    format!(
        "医療機関コードの先頭2桁「{code_pref}」が都道府県「{prefecture}」の番号「{expected}」と一致しません。医療機関コードまたは都道府県を確認してください。"
    )
}

/// The Luhn check digit does not match (warning).
fn code_check_digit(expected: u32) -> String {
    format!(
        "医療機関コードの検証番号（末尾1桁）が一致しません（計算上は「{expected}」）。入力誤りの可能性があります。医療機関コードを確認してください。"
    )
}

/// 郵便番号 is not NNN-NNNN.
fn postcode_format() -> String {
    "郵便番号は「123-4567」の形式（または7桁の数字）で記入してください。".into()
}

/// 都道府県 is not one of the 47.
fn prefecture_unknown() -> String {
    "都道府県名を読み取れません。47都道府県のいずれか（例: 東京都）を記入してください。".into()
}

/// 住所 does not start with the prefecture (warning).
fn address_prefecture(prefecture: &str) -> String {
    format!(
        "医療機関住所が都道府県名「{prefecture}」から始まっていません。都道府県名から記入してください（所在地の確認のため）。"
    )
}

/// 電話番号 is not 10–11 digits.
fn phone_format(digits: usize) -> String {
    format!(
        "連絡先電話番号は市外局番から10桁または11桁の数字で記入してください（読み取った桁数: {digits}桁）。"
    )
}

/// No item is requested.
fn no_item_requested() -> String {
    "緊急配布要請が「要請する」となっている物品がありません。要請する物品の「緊急配布要請」欄で「要請する」を選択してください。".into()
}

/// 緊急配布要請 is neither 要請する nor 要請しない.
fn request_invalid() -> String {
    "緊急配布要請は「要請する」または「要請しない」をプルダウンから選択してください。".into()
}

/// The item is not accepted right now.
fn item_not_accepted(item: &str, accepted: &str) -> String {
    format!(
        "「{item}」は現在、緊急配布要請の受付対象外です（現在の受付対象: {accepted}）。「要請しない」としてください。"
    )
}

/// A required quantity is blank.
fn quantity_missing(field: &str) -> String {
    format!("「{field}」が未記入です。0以上の整数で記入してください（単位: 枚）。")
}

/// A quantity is not a non-negative integer.
fn quantity_invalid(field: &str) -> String {
    format!(
        "「{field}」は0以上の整数で記入してください（例: 1000）。小数・範囲・文字は使えません。"
    )
}

/// A count written in boxes or bags (`10箱`): the number of pieces is unknown.
fn quantity_in_packages(field: &str) -> String {
    format!(
        "「{field}」は箱・袋などの単位では数量が分かりません。枚数（手袋は枚、1双＝2枚）で記入してください（例: 1000）。"
    )
}

/// A formula without a cached value that we could not compute.
fn formula_without_value(formula: &str) -> String {
    format!(
        "数式「={formula}」の計算結果がファイルに保存されていないため値を読み取れません。Excelで開いて保存し直すか、数値を直接記入してください。"
    )
}

/// Gloves written in 双 were converted to 枚 (warning).
fn pairs_converted(pairs: i64, sheets: i64) -> String {
    format!(
        "手袋は枚数で記入してください（1双＝2枚）。「{pairs}双」を{sheets}枚として読み取りました。"
    )
}

/// 備蓄見通し is blank.
fn outlook_missing() -> String {
    "現在の在庫の備蓄見通しが未記入です。「1週間以内」「2～3週間」「4週間以上」から選択してください。".into()
}

/// 備蓄見通し is not one of the dropdown words.
fn outlook_invalid() -> String {
    "現在の在庫の備蓄見通しは「1週間以内」「2～3週間」「4週間以上」のいずれかをプルダウンから選択してください。".into()
}

/// 備蓄見通し 4週間以上: not eligible.
fn outlook_not_eligible() -> String {
    "備蓄見通しが4週間以上のため緊急配布の対象外です。対象は備蓄見通しが「1週間以内」または「2～3週間」の物品です。".into()
}

/// 調達不可事由 is blank.
fn reason_missing() -> String {
    "調達不可事由が未記入です。自己調達ができない具体的な理由（欠品、入荷見込みなし等）を記入してください。".into()
}

/// 調達不可事由 is economic.
fn reason_economic() -> String {
    "経済的な理由（価格高騰・予算不足等）による要請は対象外です（経済的な理由は不可）。欠品等により自己調達ができない理由を記入してください。".into()
}

/// Stock is more than four weeks of use (warning, exact wording of the
/// manual's auto-judgement).
fn stock_over_month() -> String {
    "在庫量が1ヶ月分以上の可能性あり（自動判定）".into()
}

/// Weekly use does not exceed weekly purchase (warning).
fn no_shortfall() -> String {
    "今後1週間あたりの想定消費量が購入できる見込み量以下のため、不足が生じない可能性があります。数量を確認してください。".into()
}

/// 要否 missing for a requested item.
fn need_missing(item: &str) -> String {
    format!(
        "医療機関が要請している「{item}」の緊急配布要請 要否が未記入です。「要」または「否」を選択してください。"
    )
}

/// 要否 is not 要/否.
fn need_invalid() -> String {
    "緊急配布要請 要否は「要」または「否」をプルダウンから選択してください。".into()
}

/// A prefecture row filled for an item the institution did not request.
fn row_for_unrequested_item(item: &str) -> String {
    format!(
        "医療機関が要請していない「{item}」の都道府県記入欄に記入があります。医療機関記入欄で「要請する」となっている物品のみ記入してください。"
    )
}

/// 配布方法 missing with 要.
fn method_missing() -> String {
    "要否が「要」の場合は配布方法を「都道府県の備蓄」または「国による直送」から選択してください。"
        .into()
}

/// 配布方法 is not one of the dropdown words.
fn method_invalid() -> String {
    "配布方法は「都道府県の備蓄」または「国による直送」をプルダウンから選択してください。".into()
}

/// A prefecture quantity is not a non-negative integer.
fn prefecture_quantity_invalid(field: &str) -> String {
    format!("「{field}」は0以上の整数（枚数）で記入してください。未記入は0として扱います。")
}

/// 総配布枚数 ≠ 県 + 国.
fn total_mismatch(prefecture: i64, national: i64) -> String {
    format!(
        "総配布枚数が県の配布枚数と国の配布枚数の合計と一致しません。総配布枚数は {prefecture} + {national} = {} としてください。",
        prefecture + national
    )
}

/// 総配布枚数 is 0 with 要.
fn total_zero() -> String {
    "要否が「要」の場合、総配布枚数は1以上としてください（県の配布枚数・国の配布枚数を記入してください）。".into()
}

/// 都道府県の備蓄 with a national quantity.
fn stock_with_national() -> String {
    "配布方法が「都道府県の備蓄」の場合、国の配布枚数は0としてください。県と国の両方から配布する場合は配布方法を「国による直送」とし、その理由を都道府県意見に記入してください。".into()
}

/// 国による直送 with both quantities and no reason (warning).
fn both_sources_without_reason() -> String {
    "県の備蓄と国の直送の両方から配布する場合は、その理由（例: 県の備蓄が不足するため残りを国に依頼）を都道府県意見に記入してください。".into()
}

/// Opinion does not state the earlier distribution count.
fn opinion_count_missing() -> String {
    "都道府県意見に、これまでの緊急配布の回数（例: 「過去の緊急配布回数：0回」「初回」「2回目」）を記入してください。".into()
}

/// Opinion does not give a concrete reason.
fn opinion_reason_missing(need: &str) -> String {
    if need == "否" {
        "要否が「否」の場合は、都道府県意見に配布不要と判断した理由を記入してください。".into()
    } else {
        "都道府県意見に、医療機関が自己調達できない具体的な理由（例: 卸での欠品により入荷見込みなし、クラスター発生による消費急増）を記入してください。".into()
    }
}

/// 否 with quantities.
fn not_needed_nonzero(field: &str) -> String {
    format!("要否が「否」の場合、「{field}」は空欄または0としてください。")
}

/// Total differs from the guideline (warning).
fn total_guideline(guideline: i64, use_: i64, purchase: i64) -> String {
    format!(
        "総配布枚数が目安の数量と異なります。目安は 2 ×（想定消費量 {use_} − 購入見込み量 {purchase}）= {guideline} 枚です。数量の根拠を確認してください。"
    )
}

/// Gloves: a size wish above 1000 双 (warning).
fn gloves_size_limit(total: i64) -> String {
    format!(
        "手袋のサイズ指定は1000双（2000枚）までです。総配布枚数 {total} 枚のうちサイズ指定に応じられるのは2000枚までとなります。"
    )
}

/// The MHLW block is not empty.
fn mhlw_not_empty() -> String {
    "厚生労働省記入欄には記入しないでください（配布承認・配布数・送付日・受領日時は厚生労働省が記入します）。".into()
}

/// Japanese field labels used in findings (the form's own wording).
pub mod labels {
    /// 医療機関名.
    pub const NAME: &str = "医療機関名";
    /// 医療機関コード.
    pub const CODE: &str = "医療機関コード";
    /// 郵便番号.
    pub const POSTCODE: &str = "郵便番号";
    /// 都道府県.
    pub const PREFECTURE: &str = "都道府県";
    /// 医療機関住所.
    pub const ADDRESS: &str = "医療機関住所";
    /// 連絡先電話番号.
    pub const PHONE: &str = "連絡先電話番号";
    /// 医療機関担当者名.
    pub const CONTACT: &str = "医療機関担当者名";
    /// 緊急配布要請.
    pub const REQUEST: &str = "緊急配布要請";
    /// 前日時点の在庫量.
    pub const STOCK: &str = "前日時点の在庫量";
    /// 現在の在庫の備蓄見通し.
    pub const OUTLOOK: &str = "現在の在庫の備蓄見通し";
    /// 今後1週間あたりの想定消費量.
    pub const WEEKLY_USE: &str = "今後1週間あたりの想定消費量";
    /// 今後1週間に購入できる見込み量.
    pub const WEEKLY_PURCHASE: &str = "今後1週間に購入できる見込み量";
    /// 調達不可事由.
    pub const REASON: &str = "調達不可事由";
    /// 緊急配布要請 要否.
    pub const NEED: &str = "緊急配布要請 要否";
    /// 配布方法.
    pub const METHOD: &str = "配布方法";
    /// 県の配布枚数.
    pub const PREFECTURE_QUANTITY: &str = "県の配布枚数";
    /// 国の配布枚数.
    pub const NATIONAL_QUANTITY: &str = "国の配布枚数";
    /// 総配布枚数.
    pub const TOTAL_QUANTITY: &str = "総配布枚数";
    /// 都道府県意見（要否決定理由）.
    pub const OPINION: &str = "都道府県意見（要否決定理由）";
    /// The institution's item table.
    pub const INSTITUTION_TABLE: &str = "医療機関記入欄の配布物品一覧";
    /// The prefecture's item table.
    pub const PREFECTURE_TABLE: &str = "都道府県記入欄の配布物品一覧";
    /// The MHLW block.
    pub const MHLW_BLOCK: &str = "厚生労働省記入欄";
    /// A second copy of the form on one worksheet.
    pub const SECOND_FORM: &str = "2つ目の様式";

    /// `前日時点の在庫量（非滅菌手袋）`: a column label for one item row.
    pub fn for_item(field: &str, item: crate::request::Item) -> String {
        format!("{field}（{}）", item.label())
    }
}

/// Words of the `sos-intake check` report.
pub mod report {
    /// The file could not be read.
    pub const UNREADABLE: &str = "読み取れません";
    /// Worksheet.
    pub const SHEET: &str = "シート";
    /// No errors.
    pub const OK: &str = "受付可能";
    /// Has errors.
    pub const HAS_ERRORS: &str = "エラーあり";
    /// Error.
    pub const ERROR: &str = "エラー";
    /// Warning.
    pub const WARNING: &str = "警告";
    /// Institution.
    pub const INSTITUTION: &str = "医療機関";
    /// Requested item.
    pub const REQUESTED: &str = "要請物品";
    /// Total quantity.
    pub const TOTAL: &str = "総配布枚数";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::Severity;

    /// A row of `requests.findings` as written before findings carried facts.
    const OLD_ROW: &str = r#"{"severity":"error","code":"institution.code.format","cell":"C12","field":"医療機関コード","value":"123","message":"医療機関コードは10桁の数字（都道府県番号2桁・点数表番号1桁・医療機関番号7桁）で記入してください（読み取った桁数: 3桁）。"}"#;

    fn same_finding_now() -> Finding {
        Finding::fact(
            Severity::Error,
            "institution.code.format",
            Some("C12".into()),
            "123".into(),
            Subject::plain(Label::Code),
            Problem::CodeFormat { digits: 3 },
        )
    }

    #[test]
    fn a_row_stored_before_facts_reads_as_it_was_stored() {
        let old: Finding = serde_json::from_str(OLD_ROW).expect("old row");
        assert_eq!(old.fact, None);
        assert_eq!(field(&old), "医療機関コード");
        assert_eq!(
            message(&old),
            "医療機関コードは10桁の数字（都道府県番号2桁・点数表番号1桁・医療機関番号7桁）で記入してください（読み取った桁数: 3桁）。"
        );
        // The same finding made today says the same.
        let now = same_finding_now();
        assert_eq!(field(&now), field(&old));
        assert_eq!(message(&now), message(&old));
        // And printed for people it has the old shape exactly.
        let old_value: serde_json::Value = serde_json::from_str(OLD_ROW).expect("json");
        assert_eq!(serde_json::to_value(plain(&now)).expect("json"), old_value);
    }

    #[test]
    fn a_finding_with_a_fact_is_stored_without_wording_and_reads_back() {
        let now = same_finding_now();
        let stored = serde_json::to_string(&now).expect("json");
        assert!(!stored.contains("message"), "{stored}");
        assert!(!stored.contains("医療機関コード"), "{stored}");
        assert_eq!(serde_json::from_str::<Finding>(&stored).expect("back"), now);
    }

    #[test]
    fn item_fields_and_the_mhlw_block_are_labelled_as_before() {
        let stock = Subject::of(Label::Stock, Item::NonSterileGloves);
        assert_eq!(subject(&stock), "前日時点の在庫量（非滅菌手袋）");
        let mhlw = Subject::of(Label::Mhlw("配布数".into()), Item::NonSterileGloves);
        assert_eq!(subject(&mhlw), "厚生労働省記入欄：配布数（非滅菌手袋）");
        // 否 with a quantity names the column without its item.
        let total = Subject::of(Label::TotalQuantity, Item::NonSterileGloves);
        assert_eq!(
            sentence(&total, &Problem::NotNeededNonzero),
            "要否が「否」の場合、「総配布枚数」は空欄または0としてください。"
        );
    }
}
