//! The 47 prefectures (都道府県) with their two-digit numbers.
//!
//! The number is the JIS X 0401 code, which is also the first two digits of a
//! 医療機関コード; validation compares the two.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One of the 47 prefectures. Only [`Prefecture::parse`] and
/// [`Prefecture::from_number`] build one, so a value is always valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Prefecture(u8);

const NAMES: [&str; 47] = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
];

impl Prefecture {
    /// Every prefecture, in JIS order (北海道 first, 沖縄県 last).
    pub fn all() -> impl Iterator<Item = Prefecture> {
        (1..=47).map(Prefecture)
    }

    /// The prefecture with JIS number `n` (1 = 北海道 … 47 = 沖縄県).
    pub fn from_number(n: u8) -> Option<Prefecture> {
        (1..=47).contains(&n).then_some(Prefecture(n))
    }

    /// Reads a prefecture name as people write it: `東京都`, `東京`, `大阪`,
    /// with surrounding spaces or full-width spaces. `北海` is not accepted;
    /// `北海道` has no suffix to drop.
    pub fn parse(text: &str) -> Option<Prefecture> {
        let t = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}');
        if t.is_empty() {
            return None;
        }
        NAMES
            .iter()
            .position(|name| {
                *name == t
                    || (name.chars().count() > 2
                        && name.strip_suffix(['都', '府', '県']) == Some(t))
            })
            .map(|i| Prefecture(i as u8 + 1))
    }

    /// The JIS number, 1..=47.
    pub fn number(self) -> u8 {
        self.0
    }

    /// The two-digit code that starts a 医療機関コード (`"01"` … `"47"`).
    pub fn code(self) -> String {
        format!("{:02}", self.0)
    }

    /// The official name, e.g. `東京都`.
    pub fn name(self) -> &'static str {
        NAMES[self.0 as usize - 1]
    }
}

impl fmt::Display for Prefecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<Prefecture> for String {
    fn from(p: Prefecture) -> String {
        p.name().to_string()
    }
}

impl TryFrom<String> for Prefecture {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Prefecture::parse(&s).ok_or_else(|| format!("unknown prefecture: {s}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_and_numbers() {
        assert_eq!(Prefecture::parse("東京").unwrap().name(), "東京都");
        assert_eq!(Prefecture::parse(" 大阪府\u{3000}").unwrap().number(), 27);
        assert_eq!(Prefecture::parse("北海道").unwrap().code(), "01");
        assert_eq!(Prefecture::parse("沖縄").unwrap().code(), "47");
        assert_eq!(Prefecture::parse("京都").unwrap().name(), "京都府");
        assert!(Prefecture::parse("北海").is_none());
        assert!(Prefecture::parse("東京県").is_none());
        assert_eq!(Prefecture::all().count(), 47);
    }
}
