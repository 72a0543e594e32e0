//! Conversations (issue 12, point 3): what a received mail says about the
//! mail around it, as typed facts the pipeline acts on.
//!
//! - [`Facts::references`]: the Message-IDs it answers (In-Reply-To and
//!   References); the pipeline asks the queue whether any is one of our
//!   outgoing mails.
//! - [`Facts::subject_receipts`]: our receipt numbers (`SOS-YYYYMMDD-NNNNNN`)
//!   written in its subject, full-width forms included (an IME may type
//!   them so).
//! - [`Facts::announces_password`]: it announces the password of a file
//!   sent separately (the PPAP habit: 「パスワードのお知らせ」).
//! - [`Facts::download_link`]: it points to a download link (a
//!   file-transfer service) instead of attaching the file.
//!
//! Only the first [`SCAN_CHARS`] characters of the body are looked at, so
//! a huge body costs no more than a normal one; every pattern is a `regex`
//! (linear time). Nothing here touches the database or words a reply.

use crate::message::ParsedMessage;
use crate::unanswered::Reason;
use regex::Regex;
use std::sync::OnceLock;
use unicode_normalization::UnicodeNormalization;

/// A request another mail refers to (the queue finds them; the
/// conversation step decides what they mean).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RequestRef {
    /// The record's id.
    pub id: i64,
    /// Its receipt number.
    pub receipt: String,
}

/// How much of the body text is scanned (characters): a password notice or
/// a download link is written at the top, before the signature and any
/// quoted mail.
pub const SCAN_CHARS: usize = 16 * 1024;

/// The most Message-IDs taken from In-Reply-To and References (a long
/// thread lists many; the newest are at the end).
pub const MAX_REFERENCES: usize = 50;

/// What a mail says about the conversation it belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// Message-IDs it answers, newest first (In-Reply-To, then References
    /// from the end), without angle brackets, at most [`MAX_REFERENCES`].
    pub references: Vec<String>,
    /// Receipt numbers written in the subject, in order, without repeats.
    pub subject_receipts: Vec<String>,
    /// True when it attaches no file at all (inline images and signatures
    /// aside).
    pub no_files: bool,
    /// True when the subject or body announces a password.
    pub announces_password: bool,
    /// The download link it gives instead of a file, if any.
    pub download_link: Option<DownloadLink>,
}

/// A link to a file somewhere else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadLink {
    /// The host name of the first such link.
    pub host: String,
    /// The service, when it is one of the known file-transfer services.
    pub service: Option<&'static str>,
}

/// Known file-transfer services by host suffix, with the name offices use.
const SERVICES: &[(&str, &str)] = &[
    ("filesend.to", "宅ふぁいる便"),
    ("rc.filesend.to", "宅ふぁいる便"),
    ("firestorage.jp", "firestorage"),
    ("gigafile.nu", "ギガファイル便"),
    ("box.com", "Box"),
    ("app.box.com", "Box"),
    ("1drv.ms", "OneDrive"),
    ("onedrive.live.com", "OneDrive"),
    ("sharepoint.com", "SharePoint"),
    ("drive.google.com", "Google ドライブ"),
    ("docs.google.com", "Google ドライブ"),
    ("dropbox.com", "Dropbox"),
    ("db.tt", "Dropbox"),
    ("wetransfer.com", "WeTransfer"),
    ("we.tl", "WeTransfer"),
    ("cryptobin.jp", "クリプト便"),
    ("crypto-bin.com", "クリプト便"),
    ("datadeliver.net", "データ便"),
    ("xfile.ne.jp", "ファイル便"),
    ("bitpost.jp", "ファイル便"),
    ("filebank.co.jp", "ファイル便"),
    ("file-post.net", "ファイル便"),
    ("securesend.jp", "ファイル便"),
    ("icloud.com", "iCloud"),
];

/// The facts of `parsed`.
pub fn facts(parsed: &ParsedMessage) -> Facts {
    let subject = parsed.subject.as_deref().unwrap_or("");
    let body = own_text(head(&parsed.text));
    let body = body.as_str();
    let no_files = !parsed.attachments.iter().any(|a| !a.is_inline);
    Facts {
        references: references(parsed),
        subject_receipts: receipts_in(subject),
        no_files,
        announces_password: announces_password(subject) || announces_password(body),
        download_link: if no_files { download_link(body) } else { None },
    }
}

/// The first [`SCAN_CHARS`] characters of `text`.
fn head(text: &str) -> &str {
    match text.char_indices().nth(SCAN_CHARS) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// What the sender wrote themselves: the text up to the quoted mail a
/// reply carries below (Outlook's 差出人:/From: block or rule, Thunderbird's
/// and Gmail's "… wrote:" line, `-----Original Message-----`), without
/// `>`-quoted lines. Our own replies speak of passwords and files; quoted,
/// they must not make a thank-you look like a password notice.
pub fn own_text(body: &str) -> String {
    let mut out = String::new();
    for line in body.lines() {
        let t = line.trim();
        if starts_quote(t) {
            break;
        }
        if t.starts_with('>') || t.starts_with('＞') || t.starts_with('|') {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// True for the line that opens a quoted mail.
fn starts_quote(t: &str) -> bool {
    let lower = t.to_ascii_lowercase();
    let folded: String = lower.nfkc().collect();
    folded.starts_with("-----original message")
        || folded.starts_with("----- original message")
        || folded.contains("元のメッセージ")
        || folded.starts_with("差出人:")
        || folded.starts_with("送信者:")
        || folded.starts_with("from:")
        || (folded.starts_with("________") && folded.chars().all(|c| c == '_'))
        || folded.ends_with("wrote:")
        || folded.ends_with("書きました:")
        || folded.ends_with("書きました")
}

/// In-Reply-To first, then References newest first, without repeats.
fn references(parsed: &ParsedMessage) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let ids = parsed
        .in_reply_to
        .iter()
        .chain(parsed.references.iter().rev());
    for id in ids {
        let id = id.trim().trim_start_matches('<').trim_end_matches('>');
        if id.is_empty() || id.len() > 998 || out.iter().any(|o| o == id) {
            continue;
        }
        out.push(id.to_string());
        if out.len() == MAX_REFERENCES {
            break;
        }
    }
    out
}

fn receipt_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)SOS\s*[-‐‑–—―ー−]\s*(\d{8})\s*[-‐‑–—―ー−]\s*(\d{6})(?:\D|$)")
            .expect("receipt pattern")
    })
}

/// Our receipt numbers in `text`, in the stored form `SOS-YYYYMMDD-NNNNNN`.
/// Full-width letters and digits (ＳＯＳ－２０２６…) and the dashes an IME
/// or a word processor puts in count too.
pub fn receipts_in(text: &str) -> Vec<String> {
    let folded: String = text.nfkc().take(SCAN_CHARS).collect();
    let mut out: Vec<String> = Vec::new();
    for c in receipt_pattern().captures_iter(&folded) {
        let receipt = format!("SOS-{}-{}", &c[1], &c[2]);
        if !out.contains(&receipt) {
            out.push(receipt);
        }
    }
    out
}

fn password_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // Japanese words need no word boundary; the Latin ones do, so
        // "passport" or "PWA" are not a password.
        Regex::new(
            r"(?i)パスワード|ﾊﾟｽﾜｰﾄﾞ|暗証番号|解凍(キー|パス|用)|(^|[^a-z])(pw|pwd|passwd|password|pass\s*word|pass|passcode)([^a-z]|$)",
        )
        .expect("password pattern")
    })
}

/// True when `text` announces a password (「パスワードは xxxx です」,
/// 「パスワードのお知らせ」, `PW: xxxx`).
pub fn announces_password(text: &str) -> bool {
    let folded: String = text.nfkc().take(SCAN_CHARS).collect();
    password_pattern().is_match(&folded)
}

fn url_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)https?://([a-z0-9][a-z0-9.-]{0,252})(?::\d{1,5})?([/?#][^\s<>()「」『』、。]*)?",
        )
        .expect("url pattern")
    })
}

fn download_words() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)ダウンロード|ファイル便|ファイル転送|転送サービス|共有リンク|保存期限|ダウンロード期限|有効期限|download|shared? link|\bdl\b")
            .expect("download words")
    })
}

/// The download link in `body`: the first link to a known file-transfer
/// service; else the first link with a path, when the text around speaks
/// of downloading (ダウンロード, ファイル便, 有効期限…) or the path looks
/// like a shared file (`/share`, `/download`, `/proself/`, `/s/`…). A
/// bare homepage in a signature (`https://www.pref.….lg.jp/`) is no
/// download link.
pub fn download_link(body: &str) -> Option<DownloadLink> {
    let folded: String = body.nfkc().take(SCAN_CHARS).collect();
    let links: Vec<(String, String)> = url_pattern()
        .captures_iter(&folded)
        .map(|c| {
            (
                c[1].trim_end_matches('.').to_ascii_lowercase(),
                c.get(2).map(|m| m.as_str().to_string()).unwrap_or_default(),
            )
        })
        .collect();
    if let Some((host, _)) = links.iter().find(|(h, _)| service_of(h).is_some()) {
        return Some(DownloadLink {
            host: host.clone(),
            service: service_of(host),
        });
    }
    let talks_of_download = download_words().is_match(&folded);
    links
        .into_iter()
        .find(|(_, path)| {
            let p = path.trim_end_matches('/');
            !p.is_empty() && (talks_of_download || looks_shared(p))
        })
        .map(|(host, _)| DownloadLink {
            host,
            service: None,
        })
}

/// The known service `host` belongs to.
fn service_of(host: &str) -> Option<&'static str> {
    SERVICES
        .iter()
        .find(|(suffix, _)| host == *suffix || host.ends_with(&format!(".{suffix}")))
        .map(|(_, name)| *name)
}

/// A path that names a shared file rather than a page.
fn looks_shared(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    [
        "/share",
        "/shared",
        "/download",
        "/dl/",
        "/proself",
        "/public/",
        "/s/",
        "/file/",
        "/files/",
        "/f/",
        "/d/",
        "/transfer",
    ]
    .iter()
    .any(|needle| p.contains(needle))
}

/// `text` with every run of four or more ASCII letters, digits or symbols
/// after a password word replaced by ＊＊＊＊, for what staff see of a
/// password notice (its subject): the raw mail keeps the password, nothing
/// else does.
pub fn mask_passwords(text: &str) -> String {
    text.lines()
        .map(|line| {
            let folded: String = line.nfkc().collect();
            match password_pattern().find(&folded) {
                Some(m) => format!("{}{}", &folded[..m.end()], mask_runs(&folded[m.end()..])),
                None => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `rest` with each run of four or more ASCII graphic characters (what a
/// password is made of) replaced by ＊＊＊＊.
fn mask_runs(rest: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= 4 {
            out.push_str("＊＊＊＊");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in rest.chars() {
        if c.is_ascii_graphic() && c != ':' {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// What the pipeline made of a mail's place in a conversation, once the
/// queue said which of its references are ours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Turn {
    /// Nothing conversational: handled as always.
    Plain,
    /// It answers one of our mails (or names our receipt number) without a
    /// sheet: kept as correspondence (連絡), not answered.
    Correspondence {
        /// The requests it is about (may be none: our mail had no receipt).
        requests: Vec<RequestRef>,
    },
    /// It announces the password of a file we refused shortly before: not
    /// answered (the refusal already asked for a resend), linked to it.
    PasswordNotice {
        /// The refused mail (`mail_messages.id`).
        refused: i64,
        /// The requests of the refused mail, and any it refers to.
        requests: Vec<RequestRef>,
    },
    /// It gives a download link instead of the file: answered with the
    /// links-are-not-opened wording. `requests`: the requests it answers,
    /// when it is also a reply to us (kept as correspondence too).
    DownloadLink {
        /// The link.
        link: DownloadLink,
        /// The requests it is about.
        requests: Vec<RequestRef>,
    },
    /// A sheet sent in answer to our mail: filed as usual, the new requests
    /// linked to these earlier ones.
    Resubmission {
        /// The requests it answers.
        earlier: Vec<RequestRef>,
    },
}

impl Turn {
    /// Why it is not answered, with the note stored beside the code; None
    /// when it is answered as usual.
    pub fn unanswered(&self) -> Option<(Reason, &'static str)> {
        match self {
            Turn::Correspondence { .. } => Some((
                Reason::Correspondence,
                "not answered: correspondence (answers our mail; kept for staff)",
            )),
            Turn::PasswordNotice { .. } => Some((
                Reason::PasswordNotice,
                "not answered: password notice for a refused password-protected file",
            )),
            _ => None,
        }
    }

    /// The download link, for the reply.
    pub fn link(&self) -> Option<&DownloadLink> {
        match self {
            Turn::DownloadLink { link, .. } => Some(link),
            _ => None,
        }
    }

    /// For the stored summary of the mail.
    pub fn summary(&self) -> serde_json::Value {
        let receipts = |r: &[RequestRef]| r.iter().map(|x| x.receipt.clone()).collect::<Vec<_>>();
        match self {
            Turn::Plain => serde_json::Value::Null,
            Turn::Correspondence { requests } => {
                serde_json::json!({"turn": "correspondence", "requests": receipts(requests)})
            }
            Turn::PasswordNotice { refused, requests } => serde_json::json!({
                "turn": "password_notice", "refused_mail_message_id": refused, "requests": receipts(requests)
            }),
            Turn::DownloadLink { link, requests } => serde_json::json!({
                "turn": "download_link", "host": link.host, "service": link.service, "requests": receipts(requests)
            }),
            Turn::Resubmission { earlier } => {
                serde_json::json!({"turn": "resubmission", "answers": receipts(earlier)})
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_in_subjects_as_people_write_them() {
        assert_eq!(
            receipts_in(
                "Re: 【緊急配布要請シート】受付しました 受付番号 SOS-20261120-000123 (Re: 送付)"
            ),
            vec!["SOS-20261120-000123"]
        );
        assert_eq!(
            receipts_in("ＳＯＳ－２０２６１１２０－０００１２３の件"),
            vec!["SOS-20261120-000123"]
        );
        assert_eq!(
            receipts_in("sos-20261120-000001, SOS-20261120-000002 と SOS-20261120-000001"),
            vec!["SOS-20261120-000001", "SOS-20261120-000002"]
        );
        assert!(receipts_in("SOS-2026112-000123").is_empty());
        assert!(receipts_in("SOS-20261120-0001234").is_empty());
        assert!(receipts_in("緊急配布要請シートの送付").is_empty());
    }

    #[test]
    fn password_notices_as_offices_write_them() {
        for text in [
            "先ほどお送りしたファイルのパスワードは abc123 です",
            "パスワードのお知らせ",
            "【パスワード】緊急配布要請シートの送付",
            "ﾊﾟｽﾜｰﾄﾞ: Zx9!",
            "PW：Tokyo2026",
            "pass: 1234abcd",
            "解凍キーは以下のとおりです",
        ] {
            assert!(announces_password(text), "{text}");
        }
        for text in [
            "承知しました。よろしくお願いいたします。",
            "passport の写しを送ります",
            "PWA アプリ",
            "compass",
        ] {
            assert!(!announces_password(text), "{text}");
        }
    }

    #[test]
    fn download_links_of_services_and_plain_homepages() {
        let l = download_link("下記よりダウンロードしてください。\nhttps://xgf.nu/AbCd https://12.gigafile.nu/1120-abc\n").unwrap();
        assert_eq!(l.service, Some("ギガファイル便"));
        assert_eq!(l.host, "12.gigafile.nu");
        let l = download_link("https://tokyo-my.sharepoint.com/:x:/g/personal/abc").unwrap();
        assert_eq!(l.service, Some("SharePoint"));
        let l =
            download_link("共有しました https://files.pref.example.lg.jp/proself/publicweb/abc")
                .unwrap();
        assert_eq!(l.service, None);
        assert_eq!(l.host, "files.pref.example.lg.jp");
        let l = download_link(
            "ファイル便でお送りします。\nＵＲＬ：ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｊｐ／ａｂｃ",
        );
        assert!(l.is_some(), "full-width URL");
        assert!(download_link("東京都福祉局\nhttps://www.fukushi.metro.tokyo.lg.jp/\n").is_none());
        assert!(download_link("承知しました。").is_none());
    }

    #[test]
    fn passwords_are_masked_for_staff() {
        assert_eq!(mask_passwords("PW: Tokyo2026"), "PW: ＊＊＊＊");
        assert_eq!(
            mask_passwords("件名\nパスワードは abc123 です"),
            "件名\nパスワードは ＊＊＊＊ です"
        );
        assert_eq!(
            mask_passwords("【パスワード】緊急配布要請シート PW：Xy7pQ2zz"),
            "【パスワード】緊急配布要請シート PW:＊＊＊＊"
        );
        assert_eq!(
            mask_passwords("パスワードのお知らせ"),
            "パスワードのお知らせ"
        );
    }

    #[test]
    fn quoted_mail_is_not_the_senders_text() {
        let body =
            "承知しました。\n\n-----Original Message-----\nパスワード付きのファイルのため…\n";
        assert_eq!(own_text(body), "承知しました。\n\n");
        let body = "ありがとうございます。\n2026年11月20日 9:00 sos <sos@mhlw.go.jp>:\n> パスワードを設定せずに\n";
        assert!(!announces_password(&own_text(body)));
        let body = "了解です\n________________________________\n差出人: 厚生労働省\nパスワード\n";
        assert_eq!(own_text(body), "了解です\n");
    }

    /// The fuzz target's checks (`fuzz/fuzz_targets/conversation_facts.rs`)
    /// over 20,000 inputs spliced from the fragments these scanners look
    /// for, mutated byte-wise (a smoke run where cargo-fuzz is missing).
    #[test]
    fn spliced_inputs_keep_the_fuzz_targets_promises() {
        const PIECES: &[&str] = &[
            "SOS-20261120-000123",
            "ＳＯＳ－２０２６",
            "パスワード",
            "ﾊﾟｽﾜｰﾄﾞ",
            "PW:",
            "pass",
            "https://",
            "gigafile.nu/",
            "http://x.lg.jp/proself/",
            "ダウンロード",
            "\n",
            "> ",
            "-----Original Message-----",
            "差出人:",
            "wrote:",
            "ｈｔｔｐｓ：／／",
            "ﷺ",
            "\u{1b}$B",
            " ",
            "a",
            "1234",
            "－",
            "ー",
            "\r\n",
            "\u{0}",
            "é",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mut bytes = Vec::new();
            for _ in 0..(next() % 12) {
                bytes.extend_from_slice(PIECES[(next() % PIECES.len() as u64) as usize].as_bytes());
            }
            if !bytes.is_empty() && next() % 3 == 0 {
                let i = (next() % bytes.len() as u64) as usize;
                bytes[i] = next() as u8;
            }
            let text = String::from_utf8_lossy(&bytes);
            for r in receipts_in(&text) {
                assert_eq!(r.len(), 19, "{r}");
                assert!(r.starts_with("SOS-"), "{r}");
            }
            let _ = announces_password(&text);
            if let Some(link) = download_link(&text) {
                assert!(!link.host.is_empty());
            }
            assert!(own_text(&text).len() <= text.len() + text.lines().count() + 1);
            assert!(mask_passwords(&text).chars().count() <= text.chars().count() * 18 + 4);
        }
    }

    #[test]
    fn a_huge_body_is_scanned_only_at_its_head() {
        let body = format!("{}https://gigafile.nu/x", "あ".repeat(SCAN_CHARS));
        assert!(download_link(head(&body)).is_none());
    }
}
