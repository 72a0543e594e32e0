//! The request as the queue knows it, whatever its source.
//!
//! A sheet and a G-MIS export row both end up as an [`Institution`] and a list
//! of [`ItemLine`]s. Each line carries three parts that different people fill
//! in: what the institution wrote, the [`PrefectureDecision`], and the
//! [`MhlwDecision`] taken later in the review desk.

use crate::prefecture::Prefecture;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The five protective items of the form, in the form's row order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Item {
    /// サージカルマスク (G-MIS: 医療用(サージカル)マスク).
    SurgicalMask,
    /// N95マスク (G-MIS: N95マスク又はDS2マスク).
    N95Mask,
    /// フェイスシールド (G-MIS: フェイスシールド又は再利用可能なゴーグル).
    FaceShield,
    /// アイソレーションガウン (G-MIS: アイソレーションガウン又はプラスチックガウン).
    IsolationGown,
    /// 非滅菌手袋, counted in 枚 (1 双 = 2 枚).
    NonSterileGloves,
}

impl Item {
    /// All five, in the form's row order.
    pub const ALL: [Item; 5] = [
        Item::SurgicalMask,
        Item::N95Mask,
        Item::FaceShield,
        Item::IsolationGown,
        Item::NonSterileGloves,
    ];

    /// Stable machine name, used in JSON, the database and configuration.
    pub fn code(self) -> &'static str {
        match self {
            Item::SurgicalMask => "surgical_mask",
            Item::N95Mask => "n95_mask",
            Item::FaceShield => "face_shield",
            Item::IsolationGown => "isolation_gown",
            Item::NonSterileGloves => "non_sterile_gloves",
        }
    }

    /// The name shown to officials (the form's row label without notes).
    pub fn label(self) -> &'static str {
        match self {
            Item::SurgicalMask => "サージカルマスク",
            Item::N95Mask => "N95マスク",
            Item::FaceShield => "フェイスシールド",
            Item::IsolationGown => "アイソレーションガウン",
            Item::NonSterileGloves => "非滅菌手袋",
        }
    }

    /// Reads a stable code (`non_sterile_gloves`) or a label as printed on
    /// the form or in G-MIS, after [`crate::text::normalize`]-style folding:
    /// `非滅菌手袋（枚で記入）`, `医療用(サージカル)マスク`, `N95マスク又はDS2マスク`…
    pub fn parse(text: &str) -> Option<Item> {
        Item::from_folded(&crate::text::fold_label(text))
    }

    /// [`Item::parse`] of text already folded by [`crate::text::fold_label`]
    /// (the sheet reader folds each cell once and asks many times).
    pub fn from_folded(folded: &str) -> Option<Item> {
        if let Some(item) = Item::ALL.iter().find(|i| i.code() == folded) {
            return Some(*item);
        }
        // Every word below holds one of these characters: most cells (names,
        // addresses, numbers) hold none and need no substring search.
        if !folded
            .chars()
            .any(|c| matches!(c, '袋' | '9' | '2' | 'ル' | 'マ' | 'ガ'))
        {
            return None;
        }
        // Order matters: check the most specific words first.
        if folded.contains("手袋") {
            Some(Item::NonSterileGloves)
        } else if folded.contains("n95") || folded.contains("ds2") {
            Some(Item::N95Mask)
        } else if folded.contains("サージカル") || folded.contains("医療用マスク") {
            Some(Item::SurgicalMask)
        } else if folded.contains("フェイスシールド") || folded.contains("ゴーグル") {
            Some(Item::FaceShield)
        } else if folded.contains("ガウン") {
            Some(Item::IsolationGown)
        } else {
            None
        }
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Where a request came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Source {
    /// Filed by the institution in G-MIS and imported from the CSV export.
    #[serde(rename = "g-mis")]
    Gmis,
    /// A 緊急配布要請シート e-mailed by a prefecture (or filed by hand).
    #[serde(rename = "sheet")]
    Sheet,
}

impl Source {
    /// The word stored in the database and shown in filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Gmis => "g-mis",
            Source::Sheet => "sheet",
        }
    }

    /// Parses `g-mis` / `gmis` / `sheet`.
    pub fn parse(s: &str) -> Option<Source> {
        match s.trim().to_ascii_lowercase().as_str() {
            "g-mis" | "gmis" => Some(Source::Gmis),
            "sheet" => Some(Source::Sheet),
            _ => None,
        }
    }
}

/// The status of a request, as in the G-MIS manual (4-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    /// 未申請: not yet submitted (G-MIS drafts).
    #[serde(rename = "未申請")]
    NotSubmitted,
    /// エラー有り: the sheet has errors; kept for the record, out of review.
    #[serde(rename = "エラー有り")]
    HasErrors,
    /// 都道府県・国確認中: under review by the prefecture and MHLW.
    #[serde(rename = "都道府県・国確認中")]
    UnderReview,
    /// 受付完了: decided; the record never changes again.
    #[serde(rename = "受付完了")]
    Completed,
}

impl Status {
    /// Every status, in workflow order.
    pub const ALL: [Status; 4] = [
        Status::NotSubmitted,
        Status::HasErrors,
        Status::UnderReview,
        Status::Completed,
    ];

    /// The Japanese word, which is also what the database stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotSubmitted => "未申請",
            Status::HasErrors => "エラー有り",
            Status::UnderReview => "都道府県・国確認中",
            Status::Completed => "受付完了",
        }
    }

    /// Parses the Japanese word (or an ASCII alias: `not-submitted`,
    /// `errors`, `review`, `completed`).
    pub fn parse(s: &str) -> Option<Status> {
        let s = s.trim();
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .or(match s {
                "not-submitted" => Some(Status::NotSubmitted),
                "errors" => Some(Status::HasErrors),
                "review" => Some(Status::UnderReview),
                "completed" => Some(Status::Completed),
                _ => None,
            })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The institution asking for supplies (医療機関記入欄, upper part).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Institution {
    /// 医療機関名.
    pub name: String,
    /// 医療機関コード, normalised to digits (10 when valid).
    pub code: String,
    /// 郵便番号 as `NNN-NNNN` when it could be read, else as written.
    pub postcode: String,
    /// 都道府県, when recognised.
    pub prefecture: Option<Prefecture>,
    /// 医療機関住所.
    pub address: String,
    /// 連絡先電話番号 as written.
    pub phone: String,
    /// 医療機関担当者名.
    pub contact: String,
}

/// 現在の在庫の備蓄見通し.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outlook {
    /// 1週間以内.
    #[serde(rename = "1週間以内")]
    WithinOneWeek,
    /// 2～3週間.
    #[serde(rename = "2～3週間")]
    TwoToThreeWeeks,
    /// 4週間以上: not eligible.
    #[serde(rename = "4週間以上")]
    FourWeeksOrMore,
}

impl Outlook {
    /// The dropdown wording.
    pub fn as_str(self) -> &'static str {
        match self {
            Outlook::WithinOneWeek => "1週間以内",
            Outlook::TwoToThreeWeeks => "2～3週間",
            Outlook::FourWeeksOrMore => "4週間以上",
        }
    }
}

/// 要否: the prefecture's verdict on one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Need {
    /// 要.
    #[serde(rename = "要")]
    Needed,
    /// 否.
    #[serde(rename = "否")]
    NotNeeded,
}

/// 配布方法.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// 都道府県の備蓄.
    #[serde(rename = "都道府県の備蓄")]
    PrefectureStock,
    /// 国による直送.
    #[serde(rename = "国による直送")]
    NationalDirect,
}

impl Method {
    /// The dropdown wording.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::PrefectureStock => "都道府県の備蓄",
            Method::NationalDirect => "国による直送",
        }
    }
}

/// What the prefecture decided for one item (都道府県記入欄).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefectureDecision {
    /// 緊急配布要請 要否.
    pub need: Option<Need>,
    /// 配布方法.
    pub method: Option<Method>,
    /// 県の配布枚数.
    pub prefecture_quantity: Option<i64>,
    /// 国の配布枚数.
    pub national_quantity: Option<i64>,
    /// 総配布枚数.
    pub total_quantity: Option<i64>,
    /// 都道府県意見（要否決定理由）.
    pub opinion: String,
}

/// What MHLW decided for one item, in the review desk.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MhlwDecision {
    /// 配布承認: `Some(true)` approved, `Some(false)` refused, `None` open.
    pub approved: Option<bool>,
    /// 配布数.
    pub quantity: Option<i64>,
    /// 送付日.
    pub ship_date: Option<NaiveDate>,
    /// Why it was refused (shown to the prefecture in the 内示).
    pub reason: String,
}

/// One item of a request: what the institution wrote and the decisions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemLine {
    /// Which item.
    pub item: Item,
    /// 緊急配布要請: 要請する.
    pub requested: bool,
    /// 前日時点の在庫量.
    pub stock: Option<i64>,
    /// 現在の在庫の備蓄見通し.
    pub outlook: Option<Outlook>,
    /// 今後1週間あたりの想定消費量.
    pub weekly_use: Option<i64>,
    /// 今後1週間に購入できる見込み量.
    pub weekly_purchase: Option<i64>,
    /// 調達不可事由.
    pub reason: String,
    /// The prefecture's part.
    pub prefecture: PrefectureDecision,
    /// MHLW's part (empty until the review desk decides).
    pub mhlw: MhlwDecision,
}

impl ItemLine {
    /// A line with nothing filled in.
    pub fn empty(item: Item) -> ItemLine {
        ItemLine {
            item,
            requested: false,
            stock: None,
            outlook: None,
            weekly_use: None,
            weekly_purchase: None,
            reason: String::new(),
            prefecture: PrefectureDecision::default(),
            mhlw: MhlwDecision::default(),
        }
    }

    /// The guideline quantity of the manual: 2 × (weekly use − weekly purchase).
    pub fn guideline_quantity(&self) -> Option<i64> {
        Some(2 * (self.weekly_use? - self.weekly_purchase?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_names_from_form_and_gmis() {
        assert_eq!(
            Item::parse("非滅菌手袋（枚で記入)"),
            Some(Item::NonSterileGloves)
        );
        assert_eq!(
            Item::parse("医療用(サージカル)マスク"),
            Some(Item::SurgicalMask)
        );
        assert_eq!(Item::parse("N95マスク又はDS2マスク"), Some(Item::N95Mask));
        assert_eq!(Item::parse("Ｎ９５ マスク"), Some(Item::N95Mask));
        assert_eq!(
            Item::parse("フェイスシールド又は再利用可能なゴーグル"),
            Some(Item::FaceShield)
        );
        assert_eq!(
            Item::parse("アイソレーションガウン又はプラスチックガウン"),
            Some(Item::IsolationGown)
        );
        assert_eq!(
            Item::parse("non_sterile_gloves"),
            Some(Item::NonSterileGloves)
        );
        assert_eq!(Item::parse("医療機関名"), None);
    }

    #[test]
    fn statuses_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }
}
