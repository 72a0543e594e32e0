//! message::parse over hand-built messages: decoding, attachments told by
//! content, forwarded messages, zips and their guards, and broken input.

use base64::Engine as _;
use encoding_rs::{ISO_2022_JP, SHIFT_JIS};
use sos_intake::message::{
    self, AttachmentKind, Limits, OtherFile, Problem, ReturnPath, SizeLimit,
};
use sos_intake::sheet::reader::Format;
use std::io::Write;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A minimal zip with the given (name, content) members, stored deflated.
fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    for (name, content) in members {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(content).unwrap();
    }
    w.finish().unwrap();
    out.into_inner()
}

/// What our sniffer takes for an .xlsx: an OOXML package with `xl/`.
fn xlsx() -> Vec<u8> {
    zip_of(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("xl/workbook.xml", b"<workbook/>"),
    ])
}

/// Marks every entry of `zip` as encrypted (general purpose flag bit 0), as
/// ZipCrypto does.
fn encrypt_flags(mut zip: Vec<u8>) -> Vec<u8> {
    let mut i = 0;
    while i + 10 < zip.len() {
        if zip[i..].starts_with(b"PK\x03\x04") {
            zip[i + 6] |= 1;
        } else if zip[i..].starts_with(b"PK\x01\x02") {
            zip[i + 8] |= 1;
        }
        i += 1;
    }
    zip
}

/// An OLE2 container whose directory names the given streams.
fn ole2_with(names: &[&str]) -> Vec<u8> {
    let mut out = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
    out.resize(512, 0);
    for (i, name) in std::iter::once("Root Entry")
        .chain(names.iter().copied())
        .enumerate()
    {
        let mut entry = [0u8; 128];
        let units: Vec<u16> = name.encode_utf16().collect();
        for (j, u) in units.iter().enumerate() {
            entry[j * 2..j * 2 + 2].copy_from_slice(&u.to_le_bytes());
        }
        let len = (units.len() as u16 + 1) * 2;
        entry[64..66].copy_from_slice(&len.to_le_bytes());
        entry[66] = if i == 0 { 5 } else { 2 };
        out.extend_from_slice(&entry);
    }
    out.resize(2048, 0);
    out
}

fn part(headers: &str, body: &[u8]) -> String {
    format!(
        "{headers}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        B64.encode(body)
    )
}

fn mail(extra_headers: &str, parts: &[String]) -> Vec<u8> {
    let mut m = format!(
        "Return-Path: <sos@fukushi.metro.tokyo.lg.jp>\r\n\
         From: =?ISO-2022-JP?B?GyRCRWw1XEVUSiFcYzZJGyhC?= <sos@fukushi.metro.tokyo.lg.jp>\r\n\
         To: sos-busshi@mhlw.go.jp\r\n\
         Subject: test\r\n\
         Message-ID: <abc@example.lg.jp>\r\n\
         Date: Mon, 16 Nov 2026 10:12:00 +0900\r\n{extra_headers}\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\r\n\r\n\
         --BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n本文です。\r\n"
    );
    for p in parts {
        m.push_str("--BOUNDARY\r\n");
        m.push_str(p);
    }
    m.push_str("--BOUNDARY--\r\n");
    m.into_bytes()
}

fn kinds(parsed: &message::ParsedMessage) -> Vec<(String, AttachmentKind)> {
    parsed
        .attachments
        .iter()
        .map(|a| (a.path.clone(), a.kind.clone()))
        .collect()
}

#[test]
fn headers_and_iso_2022_jp_subject_and_body_are_decoded() {
    let (subject, _, _) = ISO_2022_JP.encode("緊急配布要請シートの送付");
    let (body, _, _) = ISO_2022_JP.encode("お世話になっております。\r\n");
    let mut raw = format!(
        "From: \"=?ISO-2022-JP?B?{}?=\" <Iryo@Pref.Hokkaido.lg.jp>\r\nTo: sos-busshi@mhlw.go.jp\r\n\
         Subject: =?ISO-2022-JP?B?{}?=\r\nMessage-ID: < id-1@pref.hokkaido.lg.jp >\r\n\
         In-Reply-To: <r1@mhlw.go.jp>\r\nReferences: <r0@mhlw.go.jp> <r1@mhlw.go.jp>\r\n\
         Return-Path: <>\r\nDate: Tue, 17 Nov 2026 13:01:00 +0900\r\n\
         Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n",
        B64.encode(ISO_2022_JP.encode("北海道保健福祉部").0),
        B64.encode(&subject)
    )
    .into_bytes();
    raw.extend_from_slice(&body);
    let p = message::parse(&raw, &Limits::default());
    assert_eq!(p.subject.as_deref(), Some("緊急配布要請シートの送付"));
    assert!(p.text.contains("お世話になっております"), "{:?}", p.text);
    let from = p.from.as_ref().unwrap();
    assert_eq!(from.name.as_deref(), Some("北海道保健福祉部"));
    assert_eq!(from.key(), "iryo@pref.hokkaido.lg.jp");
    assert_eq!(from.domain(), "pref.hokkaido.lg.jp");
    assert_eq!(p.message_id.as_deref(), Some("id-1@pref.hokkaido.lg.jp"));
    assert_eq!(p.in_reply_to, vec!["r1@mhlw.go.jp"]);
    assert_eq!(p.references, vec!["r0@mhlw.go.jp", "r1@mhlw.go.jp"]);
    assert_eq!(p.return_path, Some(ReturnPath::Null));
    assert_eq!(p.date.unwrap().to_rfc3339(), "2026-11-17T13:01:00+09:00");
    assert!(p.attachments.is_empty());
    assert!(p.problems.is_empty(), "{:?}", p.problems);
}

#[test]
fn shift_jis_rfc2231_filename_split_over_three_segments_survives_the_whole_parse() {
    let (sjis, _, _) = SHIFT_JIS.encode("東京都_緊急配布要請シート.xlsx");
    let pct = |b: &[u8]| b.iter().map(|x| format!("%{x:02X}")).collect::<String>();
    let headers = format!(
        "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\
         Content-Disposition: attachment;\r\n filename*0*=shift_jis''{};\r\n filename*1*={};\r\n filename*2*={}",
        pct(&sjis[..7]),
        pct(&sjis[7..16]),
        pct(&sjis[16..])
    );
    let p = message::parse(&mail("", &[part(&headers, &xlsx())]), &Limits::default());
    assert_eq!(p.attachments.len(), 1);
    let a = &p.attachments[0];
    assert_eq!(
        a.filename.as_deref(),
        Some("東京都_緊急配布要請シート.xlsx")
    );
    assert_eq!(a.kind, AttachmentKind::Sheet(Format::Xlsx));
    assert_eq!(
        a.declared_type.as_deref(),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    assert!(!a.is_inline);
}

#[test]
fn name_in_content_type_only() {
    let h = "Content-Type: application/octet-stream; name=\"=?UTF-8?B?5aSn6Ziq5bqcLnhsc3g=?=\"";
    let p = message::parse(&mail("", &[part(h, &xlsx())]), &Limits::default());
    assert_eq!(p.attachments[0].filename.as_deref(), Some("大阪府.xlsx"));
    assert_eq!(p.attachments[0].kind, AttachmentKind::Sheet(Format::Xlsx));
}

#[test]
fn kind_is_told_by_content_not_by_name() {
    let parts = [
        part(
            "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"sheet.pdf\"",
            &xlsx(),
        ),
        part(
            "Content-Type: application/vnd.ms-excel\r\nContent-Disposition: attachment; filename=\"a.xlsx\"",
            b"%PDF-1.4 x",
        ),
        part(
            "Content-Type: application/vnd.ms-excel\r\nContent-Disposition: attachment; filename=\"locked.xlsx\"",
            &ole2_with(&["EncryptionInfo", "EncryptedPackage"]),
        ),
        part(
            "Content-Type: application/vnd.ms-excel\r\nContent-Disposition: attachment; filename=\"old.xls\"",
            &ole2_with(&["Workbook"]),
        ),
        part(
            "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"m.xlsm\"",
            &zip_of(&[
                ("[Content_Types].xml", b"<Types/>"),
                ("xl/workbook.xml", b""),
                ("xl/vbaProject.bin", b""),
            ]),
        ),
        part(
            "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"o.ods\"",
            &zip_of(&[
                (
                    "mimetype",
                    b"application/vnd.oasis.opendocument.spreadsheet",
                ),
                ("content.xml", b""),
            ]),
        ),
        part(
            "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"memo.docx\"",
            &zip_of(&[
                ("[Content_Types].xml", b"<Types/>"),
                ("word/document.xml", b""),
            ]),
        ),
    ];
    let p = message::parse(&mail("", &parts), &Limits::default());
    assert_eq!(
        p.attachments
            .iter()
            .map(|a| a.kind.clone())
            .collect::<Vec<_>>(),
        vec![
            AttachmentKind::Sheet(Format::Xlsx),
            AttachmentKind::Other(OtherFile::Pdf),
            AttachmentKind::EncryptedOffice,
            AttachmentKind::Sheet(Format::Xls),
            AttachmentKind::Sheet(Format::Xlsm),
            AttachmentKind::Sheet(Format::Ods),
            AttachmentKind::Other(OtherFile::WordDocument),
        ]
    );
}

#[test]
fn plain_zip_members_are_listed_after_the_zip_and_os_junk_is_skipped() {
    let inner = zip_of(&[("b.xlsx", &xlsx())]);
    let (sjis_name, _, _) = SHIFT_JIS.encode("受付/シート.xlsx");
    let outer = {
        // A Shift_JIS member name, as Windows' built-in zip writes it.
        let mut z = zip_of(&[
            ("PLACEHOLDER_NAME.xlsx", &xlsx()),
            ("__MACOSX/._x", b"junk"),
            ("inner.zip", &inner),
            ("readme.txt", b"hello"),
        ]);
        let needle = b"PLACEHOLDER_NAME.xlsx";
        assert_eq!(needle.len(), 21);
        let mut name = sjis_name.to_vec();
        name.resize(21, b'_');
        let mut i = 0;
        while i + 21 <= z.len() {
            if &z[i..i + 21] == needle {
                z[i..i + 21].copy_from_slice(&name);
            }
            i += 1;
        }
        z
    };
    let h = "Content-Type: application/zip\r\nContent-Disposition: attachment; filename=\"=?UTF-8?B?5Y+X5LuYLnppcA==?=\"";
    let p = message::parse(&mail("", &[part(h, &outer)]), &Limits::default());
    let k = kinds(&p);
    assert_eq!(
        k[0],
        ("受付.zip".to_string(), AttachmentKind::Zip { members: 3 })
    );
    assert!(
        k[1].0.starts_with("受付.zip/受付/シート.xlsx"),
        "{:?}",
        k[1].0
    );
    assert_eq!(k[1].1, AttachmentKind::Sheet(Format::Xlsx));
    assert_eq!(
        p.attachments[1]
            .filename
            .as_deref()
            .map(|n| n.starts_with("シート.xlsx")),
        Some(true)
    );
    assert_eq!(
        k[2],
        (
            "受付.zip/inner.zip".to_string(),
            AttachmentKind::Zip { members: 1 }
        )
    );
    assert_eq!(
        k[3],
        (
            "受付.zip/inner.zip/b.xlsx".to_string(),
            AttachmentKind::Sheet(Format::Xlsx)
        )
    );
    assert_eq!(
        k[4],
        (
            "受付.zip/readme.txt".to_string(),
            AttachmentKind::Other(OtherFile::Text)
        )
    );
    assert_eq!(k.len(), 5);
}

#[test]
fn encrypted_zip_is_not_opened() {
    let z = encrypt_flags(zip_of(&[("sheet.xlsx", &xlsx())]));
    let h =
        "Content-Type: application/zip\r\nContent-Disposition: attachment; filename=\"ppap.zip\"";
    let p = message::parse(&mail("", &[part(h, &z)]), &Limits::default());
    assert_eq!(
        kinds(&p),
        vec![("ppap.zip".to_string(), AttachmentKind::EncryptedZip)]
    );
}

#[test]
fn zip_bomb_and_oversized_files_trip_the_guards() {
    let limits = Limits {
        max_attachment_bytes: 100_000,
        max_unpacked_bytes: 150_000,
        ..Limits::default()
    };
    let bomb = zip_of(&[("big.bin", &vec![0u8; 1_000_000])]);
    assert!(bomb.len() < 10_000);
    let pair = zip_of(&[("a.bin", &vec![0u8; 90_000]), ("b.bin", &vec![0u8; 90_000])]);
    let many: Vec<(String, Vec<u8>)> = (0..300)
        .map(|i| (format!("f{i}.txt"), b"x".to_vec()))
        .collect();
    let many_refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let many = zip_of(&many_refs);
    let parts = [
        part(
            "Content-Type: application/zip\r\nContent-Disposition: attachment; filename=bomb.zip",
            &bomb,
        ),
        part(
            "Content-Type: application/zip\r\nContent-Disposition: attachment; filename=pair.zip",
            &pair,
        ),
        part(
            "Content-Type: application/zip\r\nContent-Disposition: attachment; filename=many.zip",
            &many,
        ),
        part(
            "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=huge.xlsx",
            &vec![7u8; 100_001],
        ),
    ];
    let p = message::parse(&mail("", &parts), &limits);
    let k = kinds(&p);
    assert_eq!(
        k[0].1,
        AttachmentKind::TooLarge(SizeLimit::File {
            size: 1_000_000,
            limit: 100_000
        })
    );
    assert_eq!(
        k[1].1,
        AttachmentKind::TooLarge(SizeLimit::Unpacked { limit: 60_000 })
    );
    assert_eq!(
        k[2].1,
        AttachmentKind::TooLarge(SizeLimit::ZipEntries {
            count: 300,
            limit: 200
        })
    );
    assert_eq!(
        k[3].1,
        AttachmentKind::TooLarge(SizeLimit::File {
            size: 100_001,
            limit: 100_000
        })
    );
    assert_eq!(k.len(), 4);
}

#[test]
fn forwarded_message_attachments_are_taken_with_a_path() {
    let inner = mail(
        "",
        &[part(
            "Content-Type: application/zip\r\nContent-Disposition: attachment; filename=\"u.zip\"",
            &zip_of(&[("s.xlsx", &xlsx())]),
        )],
    );
    // Once as a plain message/rfc822 part, once base64-encoded.
    let plain = format!(
        "Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"fw.eml\"\r\n\r\n{}\r\n",
        String::from_utf8(inner.clone())
            .unwrap()
            .replace("BOUNDARY", "INNER")
    );
    let encoded = part("Content-Type: message/rfc822", &inner);
    let p = message::parse(&mail("", &[plain, encoded]), &Limits::default());
    assert_eq!(
        kinds(&p),
        vec![
            (
                "fw.eml/u.zip".to_string(),
                AttachmentKind::Zip { members: 1 }
            ),
            (
                "fw.eml/u.zip/s.xlsx".to_string(),
                AttachmentKind::Sheet(Format::Xlsx)
            ),
            (
                "forwarded.eml/u.zip".to_string(),
                AttachmentKind::Zip { members: 1 }
            ),
            (
                "forwarded.eml/u.zip/s.xlsx".to_string(),
                AttachmentKind::Sheet(Format::Xlsx)
            ),
        ]
    );
    assert_eq!(p.sheets().count(), 2);
    assert_eq!(p.sheets().next().unwrap().bytes, xlsx());
}

#[test]
fn inline_signature_logo_is_marked_inline() {
    let png = b"\x89PNG\r\n\x1a\n0000";
    let related = format!(
        "Content-Type: multipart/related; boundary=\"REL\"\r\n\r\n--REL\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>hi<img src=\"cid:logo\"></p>\r\n--REL\r\n{}--REL--\r\n",
        part(
            "Content-Type: image/png; name=\"logo.png\"\r\nContent-ID: <logo>",
            png
        )
    );
    let attached = part(
        "Content-Type: image/png\r\nContent-Disposition: attachment; filename=\"photo.png\"",
        png,
    );
    let p = message::parse(&mail("", &[related, attached]), &Limits::default());
    let inline: Vec<(Option<&str>, bool)> = p
        .attachments
        .iter()
        .map(|a| (a.filename.as_deref(), a.is_inline))
        .collect();
    assert_eq!(
        inline,
        vec![(Some("logo.png"), true), (Some("photo.png"), false)]
    );
}

#[test]
fn text_attachment_keeps_its_own_bytes() {
    let (sjis, _, _) = SHIFT_JIS.encode("医療機関名,数量\r\n");
    let h = "Content-Type: text/csv; charset=Shift_JIS\r\nContent-Disposition: attachment; filename=\"list.csv\"";
    let p = message::parse(&mail("", &[part(h, &sjis)]), &Limits::default());
    assert_eq!(p.attachments[0].bytes, sjis.to_vec());
    assert_eq!(p.attachments[0].kind, AttachmentKind::Other(OtherFile::Csv));
}

#[test]
fn oversized_message_keeps_its_headers_only() {
    let raw = mail(
        "",
        &[part("Content-Type: application/octet-stream", &xlsx())],
    );
    let p = message::parse(
        &raw,
        &Limits {
            max_message_bytes: 100,
            ..Limits::default()
        },
    );
    assert!(p.is_too_large());
    assert!(p.attachments.is_empty());
    assert_eq!(p.from.unwrap().address, "sos@fukushi.metro.tokyo.lg.jp");
    assert_eq!(p.subject.as_deref(), Some("test"));
}

#[test]
fn garbage_and_truncated_input_never_fail() {
    let full = mail(
        "",
        &[part(
            "Content-Type: application/zip; name=a.zip",
            &zip_of(&[("s.xlsx", &xlsx())]),
        )],
    );
    for cut in (0..full.len()).step_by(37) {
        let p = message::parse(&full[..cut], &Limits::default());
        for a in &p.attachments {
            assert_eq!(a.size as usize, a.bytes.len());
        }
    }
    let p = message::parse(b"", &Limits::default());
    assert!(p.from.is_none());
    let p = message::parse(b"\xff\xfe\x00garbage without headers", &Limits::default());
    assert!(p.from.is_none());
    let _ = p.problems.iter().map(Problem::to_string).count();
}

#[test]
fn smime_signature_is_not_a_file_to_complain_about_and_winmail_dat_is_named() {
    let signed = format!(
        "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=\"SIG\"\r\n\r\n--SIG\r\n{}--SIG\r\n{}--SIG--\r\n",
        part(
            "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"s.xlsx\"",
            &xlsx()
        ),
        part(
            "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\nContent-Disposition: attachment; filename=\"smime.p7s\"",
            b"\x30\x82\x05\x00"
        )
    );
    let tnef = part(
        "Content-Type: application/ms-tnef; name=\"winmail.dat\"",
        b"\x78\x9f\x3e\x22\x01\x00",
    );
    let p = message::parse(&mail("", &[signed, tnef]), &Limits::default());
    let k: Vec<(AttachmentKind, bool)> = p
        .attachments
        .iter()
        .map(|a| (a.kind.clone(), a.is_inline))
        .collect();
    assert_eq!(
        k,
        vec![
            (AttachmentKind::Sheet(Format::Xlsx), false),
            (AttachmentKind::Other(OtherFile::Signature), true),
            (AttachmentKind::Other(OtherFile::OutlookTnef), false),
        ]
    );
}

#[test]
fn sample_mail_attachments_are_the_attached_sheets_byte_for_byte() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/mail");
    let read = |p: &str| std::fs::read(root.join(p)).unwrap();
    for (mail, sheets) in [
        (
            "02-several-sheets.eml",
            vec![
                "sheets/osaka-naniwa.xlsx",
                "sheets/osaka-sakai.xls",
                "sheets/osaka-hokusetsu.ods",
            ],
        ),
        (
            "04-iso-2022-jp.eml",
            vec!["sheets/hokkaido-sapporo-kita.xlsx"],
        ),
        (
            "05-shift-jis-rfc2231-filename.eml",
            vec!["sheets/tokyo-midori.xlsx"],
        ),
        ("06-forwarded.eml", vec!["sheets/tokyo-midori.xlsx"]),
    ] {
        let parsed = message::parse(&read(mail), &Limits::default());
        let got: Vec<&[u8]> = parsed.sheets().map(|a| a.bytes.as_slice()).collect();
        let want: Vec<Vec<u8>> = sheets.iter().map(|s| read(s)).collect();
        assert_eq!(
            got,
            want.iter().map(Vec::as_slice).collect::<Vec<_>>(),
            "{mail}"
        );
    }
}

#[test]
fn unlimited_limits_do_not_overflow() {
    let limits = Limits {
        max_message_bytes: u64::MAX,
        max_attachment_bytes: u64::MAX,
        max_unpacked_bytes: u64::MAX,
        max_zip_entries: usize::MAX,
        max_depth: usize::MAX,
        max_attachments: usize::MAX,
        max_mime_depth: usize::MAX,
        max_mime_parts: usize::MAX,
        max_header_bytes: usize::MAX,
        max_header_fields: usize::MAX,
    };
    let z = zip_of(&[("s.xlsx", &xlsx())]);
    let p = message::parse(
        &mail("", &[part("Content-Type: application/zip; name=z.zip", &z)]),
        &limits,
    );
    assert_eq!(p.sheets().count(), 1);
}
