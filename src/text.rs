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
    // Trimmed first (one string, not two): the whitespace at the ends never
    // combines with its neighbours, and no character the shortcut maps
    // becomes whitespace.
    let trimmed = s.trim();
    if let Some(chars) = shortcut(trimmed) {
        let mut out = String::with_capacity(trimmed.len());
        out.extend(chars);
        return out;
    }
    if unicode_normalization::is_nfkc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes {
        return s
            .trim()
            .chars()
            .filter(|c| !is_invisible(*c))
            .map(tilde)
            .collect::<String>()
            .trim()
            .to_string();
    }
    let folded: String = s.nfkc().filter(|c| !is_invisible(*c)).map(tilde).collect();
    folded.trim().to_string()
}

/// The characters of `s` NFKC-folded with tildes mapped, when every one
/// takes the [`simple_nfkc`] shortcut. Most cell text is ASCII, full-width
/// ASCII, kana and kanji, whose NFKC needs no tables: looking each
/// character up dominated the time to read a sheet.
fn shortcut(s: &str) -> Option<impl Iterator<Item = char> + '_> {
    s.chars()
        .all(|c| simple_nfkc(c).is_some())
        .then(|| s.chars().filter_map(simple_nfkc).map(tilde))
}

/// Maps every tilde-like dash to `~`: the wave dash, the full-width tilde
/// (NFKC already gives `~`), the swung dash and the tilde operator.
fn tilde(c: char) -> char {
    match c {
        '\u{301C}' | '\u{FF5E}' | '\u{2053}' | '\u{223C}' => '~',
        _ => c,
    }
}

/// The NFKC form of a character whose form depends on nothing around it and
/// needs no table: ASCII, hiragana, katakana, CJK unified ideographs, the
/// common Japanese punctuation and marks (〒, ※, ○, arrows, dashes and
/// quotes) stay as they are; full-width ASCII becomes ASCII, the
/// ideographic space a space and ①..⑨ digits. `None` for every other
/// character (and for the invisible ones), which take the full NFKC path.
fn simple_nfkc(c: char) -> Option<char> {
    match c {
        '\0'..='\u{7F}'
        | '\u{2010}'
        | '\u{2012}'..='\u{2016}'
        | '\u{2018}'..='\u{2023}'
        | '\u{203B}'
        | '\u{2190}'..='\u{21FF}'
        | '\u{25A0}'..='\u{25FF}'
        | '\u{3001}'..='\u{3035}'
        | '\u{3037}'
        | '\u{3041}'..='\u{3096}'
        | '\u{30A1}'..='\u{30FC}'
        | '\u{4E00}'..='\u{9FFF}' => Some(c),
        '\u{3000}' => Some(' '),
        // ①..⑨, as the form numbers its blocks.
        '\u{2460}'..='\u{2468}' => char::from_u32(u32::from(c) - 0x2460 + u32::from('1')),
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0),
        _ => None,
    }
}

/// Characters that text copied from a web page or a mail carries without
/// showing them: zero-width space and joiners, the byte-order mark, the
/// soft hyphen.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// A key for matching labels: [`normalize`]d, ASCII lower-cased, with all
/// whitespace, brackets and punctuation removed, so that
/// `医療用（サージカル）マスク` and `医療用 (サージカル) マスク` compare equal.
pub fn fold_label(s: &str) -> String {
    match shortcut(s) {
        // The same as the full path without the intermediate string.
        Some(chars) => label_key(chars, s.len()),
        None => {
            let normalized = normalize(s);
            label_key(normalized.chars(), normalized.len())
        }
    }
}

/// Normalised characters without whitespace and punctuation, lower-cased,
/// into a string allocated once (`len`, the source's length, is enough:
/// folding shortens UTF-8 or leaves it as it is).
fn label_key(chars: impl Iterator<Item = char>, len: usize) -> String {
    let mut key = String::with_capacity(len);
    key.extend(
        chars
            .filter(|c| !c.is_whitespace() && !is_label_punctuation(*c))
            .map(|c| c.to_ascii_lowercase()),
    );
    key
}

fn is_label_punctuation(c: char) -> bool {
    matches!(
        c,
        '(' | ')' | '[' | ']' | '【' | '】' | '「' | '」' | '・' | '※' | ':' | '*' | '、' | '。'
    )
}

/// A dropdown word as typed, for matching: [`fold_label`] of the text
/// without a bracketed note (`要請する（手袋のみ）`, `要（1000双）`) and
/// without a circle mark before it (`○要請する`); the whole text when
/// nothing else is left.
pub fn fold_choice(s: &str) -> String {
    let word = fold_label(&strip_notes(s));
    let word = word.trim_start_matches(['○', '〇', '◯', '●']);
    if word.is_empty() {
        fold_label(s)
    } else {
        word.to_string()
    }
}

/// `s` without the notes people add to a label: bracketed parts
/// (`医療機関コード（10桁）`, `郵便番号(半角)`) and everything from `※`, so that
/// the label itself can be compared.
pub fn strip_notes(s: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '※' => break,
            '(' | '（' | '［' | '[' => depth += 1,
            ')' | '）' | '］' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// A count as typed in a quantity cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// Nothing typed.
    Blank,
    /// A whole number (possibly negative) with the unit written after it.
    Count {
        /// The number as written (`1000双` gives 1000, unit [`Unit::Pairs`]).
        value: i64,
        /// The unit written after the number, if any.
        unit: Unit,
    },
    /// Not a whole number: words, fractions, ranges.
    Invalid,
}

/// The unit written after a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// No unit.
    None,
    /// 枚 (sheets; gloves are counted in 枚).
    Sheets,
    /// 双 (pairs of gloves; 1 双 = 2 枚).
    Pairs,
    /// Another counter word for single pieces (個, 着, 本, 組, 点).
    Other,
    /// A package (箱, 袋, ケース, パック, セット): how many pieces is unknown.
    Package,
}

/// Reads a count as officials type it: `1000`, `1,000`, `１０００`, `1000枚`,
/// `1200.0`, ` 800 `, `1 000`. Fractions (`12.5`), words and ranges are
/// [`Quantity::Invalid`]; nothing but whitespace is [`Quantity::Blank`].
pub fn parse_quantity(s: &str) -> Quantity {
    let t = normalize(s);
    if t.is_empty() {
        return Quantity::Blank;
    }
    // `-`, `－`, `なし` typed for "none": zero, as officials mean it.
    if is_zero_word(&t) {
        return Quantity::Count {
            value: 0,
            unit: Unit::None,
        };
    }
    // `2000枚（1000双）`: the bracketed note is not part of the count;
    // `1200枚/週`: the period is the column's.
    let noted = strip_notes(&t);
    let t = if noted.trim().is_empty() { t } else { noted };
    let t = ["/1週間", "/週間", "/週", "/w"]
        .iter()
        .find_map(|p| t.trim_end().strip_suffix(p))
        .map(str::to_string)
        .unwrap_or(t);
    let (number, unit) = split_unit(t.trim());
    let number: String = number
        .chars()
        .filter(|c| !matches!(c, ',' | '_' | '\'') && !c.is_whitespace())
        .collect();
    let number = number.replace(['−', '‐', '－'], "-");
    if number.is_empty() || number.len() > 19 {
        return Quantity::Invalid;
    }
    if let Ok(value) = number.parse::<i64>() {
        return Quantity::Count { value, unit };
    }
    // `1200.0` from a re-saved sheet, but never `12.5` or `1e3`.
    match number.split_once('.') {
        Some((int, frac))
            if !int.is_empty()
                && frac.chars().all(|c| c == '0')
                && int
                    .trim_start_matches('-')
                    .chars()
                    .all(|c| c.is_ascii_digit()) =>
        {
            int.parse::<i64>()
                .map_or(Quantity::Invalid, |value| Quantity::Count { value, unit })
        }
        _ => Quantity::Invalid,
    }
}

/// A dash alone or a word for "none" in a quantity cell.
fn is_zero_word(t: &str) -> bool {
    let mut chars = t.chars();
    let single_dash = matches!((chars.next(), chars.next()), (Some(c), None) if is_dash(c));
    single_dash || matches!(t, "なし" | "無し" | "ナシ" | "ゼロ" | "皆無")
}

fn split_unit(t: &str) -> (&str, Unit) {
    for (suffix, unit) in [
        ("枚", Unit::Sheets),
        ("双", Unit::Pairs),
        ("個", Unit::Other),
        ("着", Unit::Other),
        ("箱", Unit::Package),
        ("本", Unit::Other),
        ("組", Unit::Other),
        ("点", Unit::Other),
        ("袋", Unit::Package),
        ("ケース", Unit::Package),
        ("パック", Unit::Package),
        ("セット", Unit::Package),
    ] {
        if let Some(rest) = t.strip_suffix(suffix) {
            return (rest.trim_end(), unit);
        }
    }
    (t, Unit::None)
}

/// The ASCII digits of `s` after [`normalize`] when `s` holds only digits
/// and the separators people put in codes, postcodes and phone numbers
/// (hyphens and dashes of every width, spaces, brackets, `〒`, `TEL`);
/// `None` when anything else is in it.
pub fn separated_digits(s: &str) -> Option<String> {
    let t = normalize(s);
    let t = t.trim_start_matches('〒');
    let t = t
        .strip_prefix("TEL")
        .or_else(|| t.strip_prefix("Tel"))
        .or_else(|| t.strip_prefix("tel"))
        .unwrap_or(t);
    let t = t.trim_start_matches([':', '.']);
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if !(c.is_whitespace() || is_dash(c) || matches!(c, '(' | ')')) {
            return None;
        }
    }
    Some(digits)
}

/// A phone number without the notes people add after it (`内線123`,
/// `（代表）`, `※日中のみ`); a bracketed area code (`(03)1234-5678`,
/// `03（1234）5678`) is kept, any other bracketed part dropped.
pub fn strip_phone_notes(s: &str) -> String {
    let t = normalize(s);
    let cut = ["内線", "ext", "EXT", "Ext", "※", "代表"]
        .iter()
        .filter_map(|w| t.find(w))
        .min()
        .unwrap_or(t.len());
    // Two numbers (`03-1234-5678／090-1234-5678`): the first one counts.
    let cut = ["/", "、", ",", "又は", "または", "or"]
        .iter()
        .filter_map(|w| t.find(w))
        .filter(|&at| {
            t.get(..at)
                .is_some_and(|head| head.chars().filter(char::is_ascii_digit).count() >= 10)
        })
        .min()
        .map_or(cut, |at| at.min(cut));
    let only_digits = |g: &str| {
        g.chars()
            .all(|c| c.is_ascii_digit() || c.is_whitespace() || is_dash(c))
    };
    let mut out = String::new();
    let mut group: Option<String> = None;
    for c in t.get(..cut).unwrap_or(&t).chars() {
        match (c, group.as_mut()) {
            ('(' | '[', None) => group = Some(String::new()),
            (')' | ']', Some(g)) => {
                if only_digits(g) {
                    out.push_str(g);
                }
                group = None;
            }
            (_, Some(g)) => g.push(c),
            (_, None) => out.push(c),
        }
    }
    if let Some(g) = group.filter(|g| only_digits(g)) {
        out.push_str(&g);
    }
    out.trim().to_string()
}

/// Hyphen-like characters: ASCII hyphen, dashes, minus signs, the long
/// vowel mark people type for a hyphen in Japanese input.
pub fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' | '－' | 'ー' | 'ｰ' | '﹣'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shortcut past the Unicode tables must give exactly what NFKC
    /// gives, for every character it takes.
    #[test]
    fn simple_nfkc_agrees_with_nfkc_for_every_character() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            if let Some(simple) = simple_nfkc(c) {
                let full: String = c.to_string().nfkc().collect();
                assert_eq!(full, simple.to_string(), "U+{:04X}", u32::from(c));
                assert!(!is_invisible(c));
            }
        }
    }

    #[test]
    fn shortcut_gives_what_nfkc_gives_for_typical_cells() {
        for text in [
            "　医療機関コード（１０桁）　",
            "ＴＥＬ：０３－１２３４－５６７８",
            "２～３週間",
            "非滅菌手袋（枚で記入）",
            "\u{2003}東京都\u{2003}",
        ] {
            let nfkc: String = text.nfkc().map(tilde).collect();
            assert_eq!(normalize(text), nfkc.trim(), "{text}");
            assert_eq!(fold_label(text), fold_label(&nfkc), "{text}");
        }
    }

    #[test]
    fn wave_dash_and_fullwidth_tilde_read_the_same() {
        assert_eq!(normalize("２～３週間"), normalize("2〜3週間"));
        assert_eq!(normalize("2〜3週間"), "2~3週間");
    }

    #[test]
    fn labels_fold_spacing_and_brackets() {
        assert_eq!(
            fold_label("医療用（サージカル）マスク"),
            fold_label("医療用 (サージカル) マスク")
        );
        assert_eq!(fold_label("【医療機関記入欄】"), "医療機関記入欄");
        assert_eq!(fold_label(" Ｎ９５マスク\u{3000}"), "n95マスク");
    }
    #[test]
    fn quantities_as_people_type_them() {
        let n = |v| Quantity::Count {
            value: v,
            unit: Unit::None,
        };
        for (input, want) in [
            ("1,000", n(1000)),
            ("１０００", n(1000)),
            ("１，０００", n(1000)),
            ("1200.0", n(1200)),
            (" 800 ", n(800)),
        ] {
            assert_eq!(parse_quantity(input), want, "{input:?}");
        }
        assert_eq!(
            parse_quantity("1000枚"),
            Quantity::Count {
                value: 1000,
                unit: Unit::Sheets
            }
        );
        assert_eq!(
            parse_quantity("500双"),
            Quantity::Count {
                value: 500,
                unit: Unit::Pairs
            }
        );
        for (input, want) in [
            ("-5", n(-5)),
            ("", Quantity::Blank),
            ("\u{3000}", Quantity::Blank),
            ("12.5", Quantity::Invalid),
            ("約1000", Quantity::Invalid),
            ("1000~2000", Quantity::Invalid),
            ("99999999999999999999999", Quantity::Invalid),
        ] {
            assert_eq!(parse_quantity(input), want, "{input:?}");
        }
    }

    #[test]
    fn digits_of_codes_postcodes_and_phones() {
        for (input, want) in [
            ("〒160-0023", Some("1600023")),
            ("１６０ー００２３", Some("1600023")),
            ("03(1234)5678", Some("0312345678")),
            ("TEL 03-1234-5678", Some("0312345678")),
        ] {
            assert_eq!(separated_digits(input).as_deref(), want, "{input:?}");
        }
        assert_eq!(separated_digits("03-1234-567x"), None);
    }
    #[test]
    fn dash_and_nashi_are_zero() {
        let zero = Quantity::Count {
            value: 0,
            unit: Unit::None,
        };
        for typed in ["-", "－", "ー", "―", "なし", "無し"] {
            assert_eq!(parse_quantity(typed), zero, "{typed}");
        }
        assert_eq!(parse_quantity("--"), Quantity::Invalid);
        let sheets = |v| Quantity::Count {
            value: v,
            unit: Unit::Sheets,
        };
        assert_eq!(parse_quantity("2000枚（1000双）"), sheets(2000));
        assert_eq!(parse_quantity("1200枚/週"), sheets(1200));
        assert_eq!(
            parse_quantity("10箱"),
            Quantity::Count {
                value: 10,
                unit: Unit::Package
            }
        );
        assert_eq!(
            parse_quantity("-5"),
            Quantity::Count {
                value: -5,
                unit: Unit::None
            }
        );
    }

    #[test]
    fn phone_notes_are_stripped_but_area_codes_kept() {
        for (typed, kept) in [
            ("(03)1234-5678", "031234-5678"),
            ("03（1234）5678", "0312345678"),
            ("03-1234-5678（内線123）", "03-1234-5678"),
            ("03-1234-5678 内線123", "03-1234-5678"),
            ("03-1234-5678(代表)", "03-1234-5678"),
            ("03-1234-5678(日中)", "03-1234-5678"),
            ("03-1234-5678／090-1234-5678", "03-1234-5678"),
            ("03-1234-5678、090-1234-5678", "03-1234-5678"),
        ] {
            assert_eq!(strip_phone_notes(typed), kept, "{typed}");
        }
    }

    #[test]
    fn invisible_characters_from_copy_and_paste_are_dropped() {
        for (input, want) in [
            ("1312345679\u{200B}", "1312345679"),
            ("\u{FEFF}東京都", "東京都"),
            ("１３１２\u{200B}", "1312"),
        ] {
            assert_eq!(normalize(input), want, "{input:?}");
        }
    }

    #[test]
    fn choices_without_notes_and_circle_marks() {
        for (input, want) in [
            ("要請する（手袋のみ）", "要請する"),
            ("○要請する", "要請する"),
            ("要 (1000双)", "要"),
            ("（要請する）", "要請する"),
            ("〇", "〇"),
        ] {
            assert_eq!(fold_choice(input), want, "{input:?}");
        }
    }

    #[test]
    fn notes_are_stripped_from_labels() {
        for (input, want) in [
            ("医療機関コード（10桁）", "医療機関コード"),
            ("郵便番号(半角) ※ハイフン可", "郵便番号 "),
            ("医療機関名", "医療機関名"),
        ] {
            assert_eq!(strip_notes(input), want, "{input:?}");
        }
    }
}

/// Free text (names, addresses, reasons, opinions) as the official typed
/// it: only the blanks around it (including U+3000) and the characters of
/// [`is_forbidden_control`] go. Never NFKC-folded: folding is for matching
/// and parsing ([`normalize`]), not for what pages, exports and replies
/// show (`：` and `（）` stay full-width).
pub fn as_written(s: &str) -> String {
    strip_controls(s).trim().to_string()
}

/// True for the characters no stored or shown text may carry: C0 controls
/// other than tab, line feed and carriage return, DEL, and the C1 controls.
/// PostgreSQL refuses NUL in text outright; the others garble pages, CSV
/// exports and replies.
pub fn is_forbidden_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{7F}'..='\u{9F}')
}

/// `s` without the characters of [`is_forbidden_control`] (borrowed when it
/// has none, which is nearly always). They are removed, not replaced by a
/// mark: the raw bytes stay in the blob store for anyone who needs them.
pub fn strip_controls(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(is_forbidden_control) {
        std::borrow::Cow::Owned(s.chars().filter(|c| !is_forbidden_control(*c)).collect())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Removes the characters of [`is_forbidden_control`] from `s` in place;
/// true when there were any.
pub fn strip_controls_in_place(s: &mut String) -> bool {
    if !s.chars().any(is_forbidden_control) {
        return false;
    }
    s.retain(|c| !is_forbidden_control(c));
    true
}

#[cfg(test)]
mod control_tests {
    use super::*;

    #[test]
    fn nul_and_escape_are_removed_tab_and_newlines_kept() {
        for (input, want) in [
            ("東京\u{0}都\u{1b}$B", "東京都$B"),
            ("a\tb\r\nc", "a\tb\r\nc"),
            ("x\u{7f}\u{85}y", "xy"),
        ] {
            assert_eq!(strip_controls(input), want, "{input:?}");
        }
        assert!(matches!(
            strip_controls("普通の件名"),
            std::borrow::Cow::Borrowed(_)
        ));
        let mut s = String::from("\u{0}\u{0}");
        assert!(strip_controls_in_place(&mut s));
        assert_eq!(s, "");
        assert!(!strip_controls_in_place(&mut String::from("受付")));
    }

    #[test]
    fn free_text_stays_as_written() {
        let typed = "　過去の緊急配布回数：０回。卸の欠品（聞き取り済）。\u{1}\n";
        assert_eq!(
            as_written(typed),
            "過去の緊急配布回数：０回。卸の欠品（聞き取り済）。"
        );
        assert_ne!(as_written(typed), normalize(typed), "not folded");
    }
}
