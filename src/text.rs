//! Folding of text as officials type it.
//!
//! Cells arrive with full-width digits and letters, ideographic spaces,
//! trailing blanks, and either the wave dash (〜 U+301C) or the full-width
//! tilde (～ U+FF5E). Everything that compares or parses cell text goes
//! through these functions so that all variants read the same.

use unicode_normalization::UnicodeNormalization;

/// NFKC-folds `s` (full-width ASCII → half-width, half-width kana →
/// full-width), maps every tilde-like dash to `~`, and trims whitespace
/// including U+3000.
pub fn normalize(s: &str) -> String {
    let folded: String = s
        .nfkc()
        .map(|c| match c {
            // wave dash, full-width tilde (NFKC already gives '~'), swung dash
            '\u{301C}' | '\u{FF5E}' | '\u{2053}' | '\u{223C}' => '~',
            _ => c,
        })
        .collect();
    folded.trim().to_string()
}

/// A key for matching labels: [`normalize`]d, ASCII lower-cased, with all
/// whitespace, brackets and punctuation removed, so that
/// `医療用（サージカル）マスク` and `医療用 (サージカル) マスク` compare equal.
pub fn fold_label(s: &str) -> String {
    normalize(s)
        .chars()
        .filter(|c| !c.is_whitespace() && !is_label_punctuation(*c))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn is_label_punctuation(c: char) -> bool {
    matches!(
        c,
        '(' | ')' | '[' | ']' | '【' | '】' | '「' | '」' | '・' | '※' | ':' | '*' | '、' | '。'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wave_dash_and_fullwidth_tilde_read_the_same() {
        assert_eq!(normalize("２～３週間"), normalize("2〜3週間"));
        assert_eq!(normalize("2〜3週間"), "2~3週間");
    }

    #[test]
    fn labels_fold_spacing_and_brackets() {
        assert_eq!(fold_label("医療用（サージカル）マスク"), fold_label("医療用 (サージカル) マスク"));
        assert_eq!(fold_label("【医療機関記入欄】"), "医療機関記入欄");
        assert_eq!(fold_label(" Ｎ９５マスク\u{3000}"), "n95マスク");
    }
}
