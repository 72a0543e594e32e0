//! Mail a machine passed on (issue 12, point 4): a prefecture's shared
//! mailbox or a forwarding rule sends our mailbox a sheet with
//! `Auto-Submitted: auto-forwarded`. From an authenticated registered sender
//! it is read and filed, never answered (RFC 3834); from an unauthenticated
//! one it is quarantined for an admin; other automatic mail (auto-replies)
//! is still only kept. On SQLite and PostgreSQL.

mod common;

use chrono::DateTime;
use common::db::count;
use sos_intake::config::{Config, Settings};
use sos_intake::pipeline::{Disposition, Intake};

const TOKYO: &str = "sos@fukushi.metro.tokyo.lg.jp";
const DOMAIN: &str = "fukushi.metro.tokyo.lg.jp";

fn intake(t: &common::db::TestDb) -> Intake {
    let config = Config::parse(&format!(
        "sos_address = \"sos-busshi@mhlw.go.jp\"\n[prefectures]\n\"東京都\" = [\"{TOKYO}\"]\n[mail]\nauthserv_id = \"mx.mhlw.go.jp\"\n"
    ))
    .expect("config");
    Intake::new(t.db.clone(), &Settings::resolve(config, Some(t.data_dir()))).expect("intake")
}

/// A Tokyo mail with one sheet, `auto` as its Auto-Submitted value, and our
/// MTA's verdict on top when `authenticated`.
fn mail(id: &str, auto: &str, authenticated: bool) -> Vec<u8> {
    use base64::Engine;
    let verdict = if authenticated {
        format!(
            "Authentication-Results: mx.mhlw.go.jp; spf=pass smtp.mailfrom={TOKYO}; dkim=pass header.d={DOMAIN}; dmarc=pass header.from={DOMAIN}\r\n"
        )
    } else {
        String::new()
    };
    format!(
        "{verdict}Received: from mail.{DOMAIN} by mx.mhlw.go.jp; Fri, 20 Nov 2026 09:00:00 +0900\r\n\
         From: {TOKYO}\r\nTo: sos-busshi@mhlw.go.jp\r\nAuto-Submitted: {auto}\r\nSubject: =?UTF-8?B?{}?=\r\n\
         Message-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n転送します。\r\n--b\r\n\
         Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"s.xlsx\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        base64::engine::general_purpose::STANDARD.encode("Fw: 緊急配布要請シート"),
        base64::engine::general_purpose::STANDARD.encode(common::sheets::valid())
    )
    .into_bytes()
}

both_backends!(
    forwarded_mail_from_a_prefecture_is_filed_and_never_answered,
    |t| {
        let intake = intake(&t);
        let at = DateTime::parse_from_rfc3339("2026-11-20T09:00:00+09:00").unwrap();
        let out = intake
            .process(&mail("fwd-1@tokyo", "auto-forwarded", true), at)
            .await
            .unwrap();
        assert_eq!(out.disposition, Disposition::Accepted, "{out:?}");
        assert_eq!(out.receipts.len(), 1, "its sheet is filed");
        assert!(out.reply.is_none(), "never answered: {}", out.reply_note);
        assert!(
            out.reply_note.contains("auto-forwarded"),
            "{}",
            out.reply_note
        );
        assert_eq!(count(&t.db, "SELECT COUNT(*) FROM outbox").await, 0);

        // Without our MTA's verdict the same mail is held for an admin.
        let out = intake
            .process(&mail("fwd-2@tokyo", "auto-forwarded", false), at)
            .await
            .unwrap();
        assert_eq!(out.disposition, Disposition::Quarantined);
        assert!(out.receipts.is_empty() && out.reply.is_none());

        // An auto-reply is still only kept.
        let out = intake
            .process(&mail("auto-3@tokyo", "auto-replied", true), at)
            .await
            .unwrap();
        assert_eq!(out.disposition, Disposition::Ignored);
        assert!(out.receipts.is_empty() && out.reply.is_none());
        assert_eq!(count(&t.db, "SELECT COUNT(*) FROM requests").await, 1);
        assert_eq!(count(&t.db, "SELECT COUNT(*) FROM outbox").await, 0);
    }
);
