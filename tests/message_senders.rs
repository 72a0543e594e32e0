//! Sender classification: the prefecture directory, our own server's
//! Authentication-Results, and mail we must never answer.

use sos_intake::config::{Config, MailConfig};
use sos_intake::mailbox::senders::{
    self, AnswerPolicy, AuthenticationResults, AutoReason, NeverReason, OWN_REPLY_HEADER,
    PrefectureDirectory, SenderClass, SenderTrust,
};
use sos_intake::message::{self, Limits, ParsedMessage};
use sos_intake::prefecture::Prefecture;

fn config() -> Config {
    Config::parse(
        "[prefectures]\n\
         \"東京都\" = [\"sos@metro.tokyo.lg.jp\", \"@fukushi.metro.tokyo.lg.jp\"]\n\
         \"北海道\" = [\"Iryo@Pref.Hokkaido.lg.jp\"]\n\
         \"大阪府\" = [\"@pref.osaka.lg.jp\"]\n\
         [mail]\nauthserv_id = \"mx.mhlw.go.jp\"\n",
    )
    .unwrap()
}

fn parsed(headers: &str) -> ParsedMessage {
    let raw = format!("{headers}Subject: x\r\nContent-Type: text/plain\r\n\r\nbody\r\n");
    message::parse(raw.as_bytes(), &Limits::default())
}

fn pref(name: &str) -> Option<Prefecture> {
    Prefecture::parse(name)
}

#[test]
fn directory_matches_addresses_and_exact_domains_case_insensitively() {
    let dir = PrefectureDirectory::from_config(&config()).unwrap();
    assert_eq!(dir.prefecture_of("sos@metro.tokyo.lg.jp"), pref("東京都"));
    assert_eq!(dir.prefecture_of("SOS@Metro.Tokyo.LG.JP"), pref("東京都"));
    assert_eq!(
        dir.prefecture_of("anyone@fukushi.metro.tokyo.lg.jp"),
        pref("東京都")
    );
    assert_eq!(
        dir.prefecture_of("iryo@pref.hokkaido.lg.jp"),
        pref("北海道")
    );
    assert_eq!(dir.prefecture_of("kansen@pref.osaka.lg.jp"), pref("大阪府"));
    // Only the listed address of metro.tokyo.lg.jp, not its whole domain.
    assert_eq!(dir.prefecture_of("other@metro.tokyo.lg.jp"), None);
    // Subdomains of a listed domain are not trusted.
    assert_eq!(dir.prefecture_of("x@sub.pref.osaka.lg.jp"), None);
    assert_eq!(dir.prefecture_of("x@evilpref.osaka.lg.jp"), None);
    assert_eq!(dir.prefecture_of("not-an-address"), None);
}

#[test]
fn authorised_senders_join_the_directory_but_never_move_a_configured_one() {
    let dir = PrefectureDirectory::from_config(&config()).unwrap();
    let authorised = [
        (
            "jimu@midori-naika.example.jp".to_string(),
            pref("東京都").unwrap(),
        ),
        // Configured for 東京都: an authorisation cannot move it.
        ("sos@metro.tokyo.lg.jp".to_string(), pref("大阪府").unwrap()),
    ];
    let now = dir.with_authorised(&authorised);
    assert_eq!(
        now.prefecture_of("Jimu@Midori-Naika.example.jp"),
        pref("東京都")
    );
    assert_eq!(now.prefecture_of("sos@metro.tokyo.lg.jp"), pref("東京都"));
    // Only the address, not its domain.
    assert_eq!(now.prefecture_of("other@midori-naika.example.jp"), None);
    assert_eq!(dir.prefecture_of("jimu@midori-naika.example.jp"), None);
}

#[test]
fn directory_refuses_unknown_prefectures_bad_entries_and_double_listing() {
    for text in [
        "[prefectures]\n\"東京県\" = [\"@x.lg.jp\"]",
        "[prefectures]\n\"東京都\" = [\"no-at-sign\"]",
        "[prefectures]\n\"東京都\" = [\"@\"]",
        "[prefectures]\n\"東京都\" = [\"@a.lg.jp\"]\n\"大阪府\" = [\"@A.lg.jp\"]",
    ] {
        let c = Config::parse(text).unwrap();
        assert!(PrefectureDirectory::from_config(&c).is_err(), "{text}");
    }
}

#[test]
fn only_our_authserv_id_counts_and_forged_lower_headers_are_ignored() {
    let p = parsed(
        "Authentication-Results: mx.mhlw.go.jp; spf=fail smtp.mailfrom=a@evil.example\r\n\
         Received: from evil.example by mx.mhlw.go.jp; Mon, 16 Nov 2026 10:00:00 +0900\r\n\
         Authentication-Results: mx.mhlw.go.jp; spf=pass smtp.mailfrom=kansen@pref.osaka.lg.jp\r\n\
         Authentication-Results: other.example; dkim=pass header.d=pref.osaka.lg.jp\r\n\
         From: kansen@pref.osaka.lg.jp\r\n",
    );
    let auth = AuthenticationResults::of(&p, Some("mx.mhlw.go.jp"), 0);
    assert_eq!(auth.results.len(), 1);
    assert!(!auth.vouches_for("pref.osaka.lg.jp"));
    // Nothing is trusted without a configured authserv-id.
    assert!(AuthenticationResults::of(&p, None, 0).results.is_empty());
}

#[test]
fn our_header_below_a_received_line_is_never_trusted() {
    // Before, the topmost header of ours counted when none stood above the
    // first Received line: a sender could write it.
    let p = parsed(
        "Received: from evil.example by mx.mhlw.go.jp; Mon, 16 Nov 2026 10:00:00 +0900\r\n\
         Authentication-Results: mx.mhlw.go.jp; spf=pass smtp.mailfrom=kansen@pref.osaka.lg.jp; dmarc=pass header.from=pref.osaka.lg.jp\r\n\
         From: kansen@pref.osaka.lg.jp\r\n",
    );
    let auth = AuthenticationResults::of(&p, Some("mx.mhlw.go.jp"), 0);
    assert!(auth.results.is_empty(), "{auth:?}");
    assert!(!auth.vouches_for("pref.osaka.lg.jp"));
    // Without any Received line the message never came through our MTA.
    let p = parsed(
        "Authentication-Results: mx.mhlw.go.jp; dmarc=pass header.from=pref.osaka.lg.jp\r\n\
         From: kansen@pref.osaka.lg.jp\r\n",
    );
    let auth = AuthenticationResults::of(&p, Some("mx.mhlw.go.jp"), 0);
    assert!(!auth.vouches_for("pref.osaka.lg.jp"), "{auth:?}");
}

#[test]
fn own_received_hops_look_past_our_delivery_hop_only() {
    let p = parsed(
        "Return-Path: <bounce@mail.pref.osaka.lg.jp>\r\n\
         Received: from mx.mhlw.go.jp by imap.mhlw.go.jp (Dovecot) with LMTP; Mon, 16 Nov 2026 10:00:01 +0900\r\n\
         Authentication-Results: MX.MHLW.GO.JP (milter 1.0);\r\n\tspf=pass (sender SPF authorized) smtp.mailfrom=bounce@mail.pref.osaka.lg.jp;\r\n\tdkim=fail reason=\"bad; sig\" header.d=pref.osaka.lg.jp\r\n\
         Received: from mail.pref.osaka.lg.jp by mx.mhlw.go.jp; Mon, 16 Nov 2026 10:00:00 +0900\r\n\
         Authentication-Results: mx.mhlw.go.jp; dkim=pass header.d=evil.example\r\n\
         From: kansen@pref.osaka.lg.jp\r\n",
    );
    // Default 0: the LMTP hop's Received line is the first; nothing above.
    assert!(
        AuthenticationResults::of(&p, Some("mx.mhlw.go.jp"), 0)
            .results
            .is_empty()
    );
    let auth = AuthenticationResults::of(&p, Some("mx.mhlw.go.jp"), 1);
    assert_eq!(auth.results.len(), 2, "{auth:?}");
    assert_eq!(auth.results[1].result, "fail");
    // SPF for a subdomain of the From domain is aligned.
    assert!(auth.vouches_for("pref.osaka.lg.jp"));
    assert!(!auth.vouches_for("pref.kyoto.lg.jp"));
    assert!(!auth.vouches_for("evil.example"));
}

#[test]
fn dkim_and_dmarc_pass_vouch_for_their_domain_only() {
    let (_, r) = senders::parse_authentication_results(
        "mx.mhlw.go.jp 1; dkim = pass header.i=@fukushi.metro.tokyo.lg.jp; dmarc=pass header.from=pref.osaka.lg.jp",
    )
    .unwrap();
    let auth = AuthenticationResults { results: r };
    assert!(auth.vouches_for("fukushi.metro.tokyo.lg.jp"));
    assert!(auth.vouches_for("pref.osaka.lg.jp"));
    assert!(!auth.vouches_for("lg.jp.example"));
    assert!(!auth.vouches_for(""));
    // DMARC pass for another header.from vouches for nothing else.
    assert!(!auth.vouches_for("evil.example"));
    assert_eq!(
        senders::parse_authentication_results("mx; none")
            .unwrap()
            .1
            .len(),
        0
    );
}

#[test]
fn every_kind_of_automatic_mail_is_recognised() {
    let own = format!("{OWN_REPLY_HEADER}: sos-intake\r\n");
    let cases: Vec<(&str, AutoReason)> = vec![
        (
            "Auto-Submitted: auto-replied\r\n",
            AutoReason::AutoSubmitted("auto-replied".into()),
        ),
        (
            "Auto-Submitted: Auto-Generated; owner-email=x@y\r\n",
            AutoReason::AutoSubmitted("auto-generated".into()),
        ),
        (
            "Precedence: bulk\r\n",
            AutoReason::Precedence("bulk".into()),
        ),
        (
            "Precedence: Junk\r\n",
            AutoReason::Precedence("junk".into()),
        ),
        (
            "Precedence: list\r\n",
            AutoReason::Precedence("list".into()),
        ),
        (
            "List-Id: <news.example>\r\n",
            AutoReason::ListHeader("List-Id".into()),
        ),
        (
            "List-Unsubscribe: <mailto:u@x>\r\n",
            AutoReason::ListHeader("List-Unsubscribe".into()),
        ),
        (
            "X-Auto-Response-Suppress: All\r\n",
            AutoReason::AutoResponseSuppress,
        ),
        (
            "X-Autoreply: yes\r\n",
            AutoReason::AutoreplyHeader("X-Autoreply".into()),
        ),
        (
            "X-Autorespond: on\r\n",
            AutoReason::AutoreplyHeader("X-Autorespond".into()),
        ),
        ("Return-Path: <>\r\n", AutoReason::NullReturnPath),
        (
            "Return-Path: <MAILER-DAEMON@mx.pref.osaka.lg.jp>\r\n",
            AutoReason::DaemonSender("MAILER-DAEMON@mx.pref.osaka.lg.jp".into()),
        ),
        (&own, AutoReason::OwnReply),
    ];
    for (header, reason) in cases {
        let p = parsed(&format!("From: kansen@pref.osaka.lg.jp\r\n{header}"));
        assert_eq!(senders::auto_generated(&p), Some(reason), "{header}");
    }
    let p = parsed("From: postmaster@pref.osaka.lg.jp\r\n");
    assert!(matches!(
        senders::auto_generated(&p),
        Some(AutoReason::DaemonSender(_))
    ));
    let report = message::parse(
        b"From: MAILER-DAEMON@x\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n",
        &Limits::default(),
    );
    assert_eq!(
        senders::auto_generated(&report),
        Some(AutoReason::DeliveryReport)
    );
    // A person's mail, with Auto-Submitted: no, is not automatic.
    let p = parsed("From: kansen@pref.osaka.lg.jp\r\nAuto-Submitted: no\r\nPrecedence: normal\r\n");
    assert_eq!(senders::auto_generated(&p), None);
}

/// Mailing-list headers and `X-Auto-Response-Suppress` come on real
/// requests too (a prefecture's list relaying an official's mail, an
/// Outlook set up to send the header): with a workbook attached the mail is
/// a request, without one it stays automatic.
#[test]
fn list_and_suppress_headers_on_mail_with_a_sheet_are_a_request() {
    let sheet = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/sheets/valid.xlsx"
    ))
    .unwrap();
    let with_sheet = |headers: &str| {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&sheet);
        let raw = format!(
            "From: kansen@pref.osaka.lg.jp\r\n{headers}Subject: x\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n\
             --b\r\nContent-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; name=a.xlsx\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b--\r\n"
        );
        message::parse(raw.as_bytes(), &Limits::default())
    };
    for header in [
        "List-Id: <kansen.pref.osaka.lg.jp>\r\nList-Post: <mailto:kansen@pref.osaka.lg.jp>\r\n",
        "Precedence: list\r\n",
        "X-Auto-Response-Suppress: All\r\n",
    ] {
        let p = with_sheet(header);
        assert_eq!(p.attachments.len(), 1, "{header}");
        assert_eq!(senders::auto_generated(&p), None, "{header}");
        assert!(
            senders::auto_generated(&parsed(&format!(
                "From: kansen@pref.osaka.lg.jp\r\n{header}"
            )))
            .is_some()
        );
    }
    // Strong signals win over an attached sheet.
    for header in [
        "Auto-Submitted: auto-replied\r\n",
        "Precedence: bulk\r\n",
        "Return-Path: <>\r\n",
    ] {
        assert!(
            senders::auto_generated(&with_sheet(header)).is_some(),
            "{header}"
        );
    }
}

#[test]
fn classify_answers_registered_and_authenticated_senders_only() {
    let c = config();
    let dir = PrefectureDirectory::from_config(&c).unwrap();
    let registered = parsed(
        "Authentication-Results: mx.mhlw.go.jp; spf=pass smtp.mailfrom=pref.osaka.lg.jp\r\n\
         Received: from smtp.pref.osaka.lg.jp by mx.mhlw.go.jp; Mon, 16 Nov 2026 10:00:00 +0900\r\n\
         From: 大阪府 <kansen@pref.osaka.lg.jp>\r\n",
    );
    let v = senders::classify(&registered, &dir, &c.mail);
    assert_eq!(
        v.sender,
        SenderClass::Prefecture {
            prefecture: pref("大阪府").unwrap(),
            trust: SenderTrust::Authenticated,
        }
    );
    assert_eq!(v.policy, AnswerPolicy::Answer);

    let unknown = parsed("From: someone@example.co.jp\r\n");
    let v = senders::classify(&unknown, &dir, &c.mail);
    assert_eq!(
        v.sender,
        SenderClass::Unknown {
            authenticated: false
        }
    );
    assert_eq!(
        v.policy,
        AnswerPolicy::Never(NeverReason::UnauthenticatedUnknownSender)
    );
    assert!(v.describe().contains("do not answer"));

    let vouched = parsed(
        "Authentication-Results: mx.mhlw.go.jp; dkim=pass header.d=example.co.jp\r\nReceived: from x by mx.mhlw.go.jp; Mon, 16 Nov 2026 10:00:00 +0900\r\nFrom: someone@example.co.jp\r\n",
    );
    let v = senders::classify(&vouched, &dir, &c.mail);
    assert_eq!(
        v.sender,
        SenderClass::Unknown {
            authenticated: true
        }
    );
    assert_eq!(v.policy, AnswerPolicy::Answer);
    // The same header is worth nothing when another authserv-id is configured.
    let v = senders::classify(
        &vouched,
        &dir,
        &MailConfig {
            authserv_id: Some("other".into()),
            ..MailConfig::default()
        },
    );
    assert_eq!(
        v.sender,
        SenderClass::Unknown {
            authenticated: false
        }
    );

    let auto = parsed("From: kansen@pref.osaka.lg.jp\r\nAuto-Submitted: auto-replied\r\n");
    let v = senders::classify(&auto, &dir, &c.mail);
    assert_eq!(
        v.sender,
        SenderClass::UnauthenticatedPrefecture {
            prefecture: pref("大阪府").unwrap()
        }
    );
    assert!(matches!(
        v.policy,
        AnswerPolicy::Never(NeverReason::AutoGenerated(_))
    ));

    let nobody = parsed("To: sos-busshi@mhlw.go.jp\r\n");
    assert_eq!(
        senders::classify(&nobody, &dir, &c.mail).policy,
        AnswerPolicy::Never(NeverReason::NoAddress)
    );
}

/// A registered From with `auth` (our MTA's verdicts, top header) and
/// `trace` (further delivery headers) before it.
fn registered_with(auth: &str, trace: &str) -> ParsedMessage {
    parsed(&format!(
        "{auth}{trace}From: 大阪府 <kansen@pref.osaka.lg.jp>\r\nReply-To: <attacker@evil.example>\r\n"
    ))
}

const RECEIVED: &str =
    "Received: from smtp.example by mx.mhlw.go.jp; Mon, 16 Nov 2026 10:00:00 +0900\r\n";

#[test]
fn forged_registered_senders_are_unauthenticated_and_never_answered() {
    let c = config();
    let dir = PrefectureDirectory::from_config(&c).unwrap();
    let osaka = pref("大阪府").unwrap();
    let forged = [
        ("no Authentication-Results", String::new(), RECEIVED),
        (
            "foreign authserv-id",
            "Authentication-Results: mx.evil.example; dmarc=pass header.from=pref.osaka.lg.jp\r\n".into(),
            RECEIVED,
        ),
        (
            "SPF pass for another domain",
            "Authentication-Results: mx.mhlw.go.jp; spf=pass smtp.mailfrom=evil.example\r\n".into(),
            RECEIVED,
        ),
        (
            "DMARC fail",
            "Authentication-Results: mx.mhlw.go.jp; dmarc=fail header.from=pref.osaka.lg.jp\r\n".into(),
            RECEIVED,
        ),
        (
            "DMARC fail over an aligned SPF pass",
            "Authentication-Results: mx.mhlw.go.jp; spf=pass smtp.mailfrom=mail.pref.osaka.lg.jp; dmarc=fail header.from=pref.osaka.lg.jp\r\n".into(),
            RECEIVED,
        ),
        (
            "DMARC pass for another header.from",
            "Authentication-Results: mx.mhlw.go.jp; dmarc=pass header.from=evil.example\r\n".into(),
            RECEIVED,
        ),
        (
            "DKIM pass for an unaligned d=",
            "Authentication-Results: mx.mhlw.go.jp; dkim=pass header.d=evil.example\r\n".into(),
            RECEIVED,
        ),
        (
            "no Received line",
            "Authentication-Results: mx.mhlw.go.jp; dmarc=pass header.from=pref.osaka.lg.jp\r\n".into(),
            "",
        ),
    ];
    for (what, auth, trace) in forged {
        let v = senders::classify(&registered_with(&auth, trace), &dir, &c.mail);
        assert_eq!(
            v.sender,
            SenderClass::UnauthenticatedPrefecture { prefecture: osaka },
            "{what}"
        );
        assert_eq!(
            v.policy,
            AnswerPolicy::Never(NeverReason::UnauthenticatedPrefectureSender),
            "{what}"
        );
        assert_eq!(v.sender.quarantine_kind(), "unauthenticated_sender");
    }
    // Our header above a Received line with each kind of aligned pass.
    for verdict in [
        "dmarc=pass header.from=pref.osaka.lg.jp",
        "spf=pass smtp.mailfrom=bounce@mail.pref.osaka.lg.jp",
        "dkim=pass header.d=pref.osaka.lg.jp",
        "spf=fail smtp.mailfrom=evil.example; dkim=pass header.i=@pref.osaka.lg.jp; dmarc=none header.from=pref.osaka.lg.jp",
    ] {
        let auth = format!("Authentication-Results: mx.mhlw.go.jp; {verdict}\r\n");
        let v = senders::classify(&registered_with(&auth, RECEIVED), &dir, &c.mail);
        assert_eq!(
            v.sender,
            SenderClass::Prefecture {
                prefecture: osaka,
                trust: SenderTrust::Authenticated
            },
            "{verdict}"
        );
    }
}

#[test]
fn with_sender_auth_off_the_directory_alone_decides() {
    let mut c = config();
    c.mail.sender_auth = Some(sos_intake::config::SenderAuth::Off);
    let dir = PrefectureDirectory::from_config(&c).unwrap();
    let v = senders::classify(&registered_with("", RECEIVED), &dir, &c.mail);
    assert_eq!(
        v.sender,
        SenderClass::Prefecture {
            prefecture: pref("大阪府").unwrap(),
            trust: SenderTrust::Unchecked
        }
    );
    assert_eq!(v.policy, AnswerPolicy::Answer);
    // No authserv-id at all: off as well.
    let v = senders::classify(&registered_with("", RECEIVED), &dir, &MailConfig::default());
    assert!(matches!(
        v.sender,
        SenderClass::Prefecture {
            trust: SenderTrust::Unchecked,
            ..
        }
    ));
}

#[test]
fn a_release_vouches_for_the_sender_but_not_for_automatic_mail() {
    let c = config();
    let dir = PrefectureDirectory::from_config(&c).unwrap();
    let osaka = pref("大阪府").unwrap();
    let v = senders::classify(&registered_with("", RECEIVED), &dir, &c.mail).vouched_by_staff();
    assert_eq!(
        v.sender,
        SenderClass::Prefecture {
            prefecture: osaka,
            trust: SenderTrust::Vouched
        }
    );
    assert_eq!(v.policy, AnswerPolicy::Answer);
    let auto = parsed(&format!(
        "{RECEIVED}From: kansen@pref.osaka.lg.jp\r\nAuto-Submitted: auto-replied\r\n"
    ));
    let v = senders::classify(&auto, &dir, &c.mail).vouched_by_staff();
    assert!(matches!(
        v.policy,
        AnswerPolicy::Never(NeverReason::AutoGenerated(_))
    ));
    // An unknown sender stays unknown (the release adds it to the directory
    // first).
    let unknown = parsed(&format!("{RECEIVED}From: someone@example.co.jp\r\n"));
    let v = senders::classify(&unknown, &dir, &c.mail).vouched_by_staff();
    assert!(matches!(v.sender, SenderClass::Unknown { .. }));
}
