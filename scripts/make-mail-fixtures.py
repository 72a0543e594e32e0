#!/usr/bin/env python3
"""Writes the hand-made parse fixtures under tests/fixtures/mail/legacy/ja-*
(how Japanese mail programs really encode names and text) and
tests/fixtures/mail/malformed/broken-* (damaged mail that must still parse).
Deterministic; run from the repository root. The expected results are the
`.parsed.json` files beside them (UPDATE_GOLDEN=1 cargo test --test
message_golden, then review)."""

import base64
import io
import os
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEGACY = os.path.join(ROOT, "tests", "fixtures", "mail", "legacy")
MALFORMED = os.path.join(ROOT, "tests", "fixtures", "mail", "malformed")

# What our sniffer takes for a workbook: an OOXML package with xl/.
def xlsx():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in [("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<workbook/>")]:
            z.writestr(zipfile.ZipInfo(name, date_time=(2026, 11, 16, 9, 0, 0)), data)
    return buf.getvalue()


def zip_raw_names(members):
    """A zip whose member names are raw bytes without the UTF-8 flag, as
    Windows Explorer writes Shift_JIS names."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        placeholders = [("P%d" % i).ljust(len(name), "X").encode() for i, (name, _) in enumerate(members)]
        for placeholder, (_, data) in zip(placeholders, members):
            z.writestr(zipfile.ZipInfo(placeholder.decode(), date_time=(2026, 11, 16, 9, 0, 0)), data)
    out = buf.getvalue()
    for placeholder, (name, _) in zip(placeholders, members):
        out = out.replace(placeholder, name)
    return out


def b64(data):
    s = base64.b64encode(data).decode()
    return "\r\n".join(s[i:i + 76] for i in range(0, len(s), 76))


def head(subject, extra=""):
    return ("From: =?UTF-8?B?%s?= <iryo@pref.hokkaido.lg.jp>\r\nTo: sos-busshi@mhlw.go.jp\r\n"
            "Subject: %s\r\nDate: Mon, 16 Nov 2026 10:00:00 +0900\r\nMessage-ID: <fixture-%s@pref.hokkaido.lg.jp>\r\n%s"
            "MIME-Version: 1.0\r\n" % (base64.b64encode("北海道 医療課".encode()).decode(), subject, abs(hash(subject)) % 1000 if False else subject.replace(" ", "-").lower()[:30], extra))


def mixed(parts):
    body = "".join("--b1\r\n" + p for p in parts) + "--b1--\r\n"
    return 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n' + body


def att(headers, data):
    return headers + "\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(data) + "\r\n"


TEXT = "Content-Type: text/plain; charset=UTF-8\r\n\r\nsee attachment\r\n"


def pct(data):
    return "".join("%%%02X" % b for b in data)


def write(folder, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def legacy():
    x = xlsx()
    # Raw 8-bit Shift_JIS in the header (old Outlook Express / Windows Mail):
    # ソ ends in byte 0x5C, which must not be taken for a backslash escape.
    sjis_name = "ソフト申請表（表示）.xlsx".encode("cp932")
    raw = (head("raw-sjis").encode() + b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n' + TEXT.encode()
           + b"--b1\r\nContent-Type: application/vnd.ms-excel\r\nContent-Disposition: attachment; filename=\"" + sjis_name
           + b"\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(x).encode() + b"\r\n--b1--\r\n")
    raw = raw.replace(b"Subject: raw-sjis", b"Subject: " + "要請シート送付（ソフト表）".encode("cp932"))
    write(LEGACY, "ja-raw-shift-jis-header.eml", raw)

    # RFC 2231, UTF-8, a segment boundary inside a multi-byte character.
    name = "要請シート_東京.xlsx".encode()
    write(LEGACY, "ja-rfc2231-utf8-split-inside-character.eml", head("rfc2231 utf8 split") + mixed([TEXT, att(
        "Content-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n filename*0*=UTF-8''%s;\r\n filename*1*=%s"
        % (pct(name[:7]), pct(name[7:])), x)]))

    # RFC 2231 with ISO-2022-JP (escape sequences percent-encoded).
    jis = "大阪府シート.xlsx".encode("iso2022_jp")
    write(LEGACY, "ja-rfc2231-iso-2022-jp.eml", head("rfc2231 iso-2022-jp") + mixed([TEXT, att(
        "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=ISO-2022-JP'ja'%s" % pct(jis), x)]))

    # Encoded-words split inside a character (each word alone is invalid).
    u = "福祉局_要請シート.xlsx".encode()
    w1, w2 = base64.b64encode(u[:4]).decode(), base64.b64encode(u[4:]).decode()
    write(LEGACY, "ja-encoded-words-split-inside-character.eml", head("encoded words split") + mixed([TEXT, att(
        "Content-Type: application/octet-stream;\r\n name=\"=?UTF-8?B?%s?=\r\n =?UTF-8?B?%s?=\"\r\nContent-Disposition: attachment;\r\n filename=\"=?UTF-8?B?%s?=\r\n =?UTF-8?B?%s?=\"" % (w1, w2, w1, w2), x)]))

    # name= in Content-Type only, Shift_JIS encoded-word with a CP932 label.
    cp = base64.b64encode("北海道①シート.xlsx".encode("cp932")).decode()
    write(LEGACY, "ja-name-in-content-type-only-cp932.eml", head("name only cp932") + mixed([TEXT, att(
        "Content-Type: application/vnd.ms-excel; name=\"=?CP932?B?%s?=\"" % cp, x)]))

    # Subject in Windows-31J, ISO-2022-JP body without any charset label.
    subj = "=?Windows-31J?B?%s?=" % base64.b64encode("【至急】要請シート".encode("cp932")).decode()
    body = "お世話になっております。\r\n要請シートを送ります。\r\n".encode("iso2022_jp")
    write(LEGACY, "ja-unlabelled-iso-2022-jp-body.eml",
          head("unlabelled").replace("Subject: unlabelled", "Subject: " + subj).encode()
          + b"Content-Type: text/plain\r\n\r\n" + body)

    # A zip from Windows Explorer: Shift_JIS member names, no UTF-8 flag.
    z = zip_raw_names([("要請シート1.xlsx".encode("cp932"), x), ("要請シート2.xlsx".encode("cp932"), x)])
    write(LEGACY, "ja-zip-shift-jis-member-names.eml", head("zip sjis members") + mixed([TEXT, att(
        "Content-Type: application/x-zip-compressed; name=\"=?ISO-2022-JP?B?%s?=\"" % base64.b64encode("申請.zip".encode("iso2022_jp")).decode(), z)]))

    # Apple Mail: the sheet sent inline (no Content-ID): still a sheet, and
    # not "inline" in our sense (it is not a signature image).
    write(LEGACY, "ja-apple-mail-inline-sheet.eml", head("apple inline", "X-Mailer: Apple Mail (2.3826)\r\n") + mixed([TEXT, att(
        "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;\r\n name=\"=?utf-8?Q?=E8=A6=81=E8=AB=8B.xlsx?=\"\r\n"
        "Content-Disposition: inline;\r\n filename*=utf-8''%E8%A6%81%E8%AB%8B.xlsx", x)]))


def malformed():
    x = xlsx()
    full = head("truncated") + mixed([TEXT, att("Content-Type: application/octet-stream; name=a.xlsx", x)])
    write(MALFORMED, "broken-truncated-attachment.eml", full[: len(full) // 2])
    write(MALFORMED, "broken-bad-base64.eml", head("bad base64") + mixed([TEXT,
          "Content-Type: application/octet-stream; name=b.xlsx\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!not base64 at all ****\r\n"]))
    write(MALFORMED, "broken-no-headers.eml", "just a line of text\r\nand another\r\n")
    write(MALFORMED, "broken-nul-and-colonless-header.eml",
          b"From: a@pref.osaka.lg.jp\r\nThis line has no colon\r\nSubject: nul\x00byte\r\n\r\nbody\x00\r\n")
    write(MALFORMED, "broken-unterminated-quoted-filename.eml", head("unterminated") + mixed([TEXT, att(
        "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"never closed.xlsx", x)]))
    write(MALFORMED, "broken-rfc2231-gaps-and-bad-percent.eml", head("rfc2231 gaps") + mixed([TEXT, att(
        "Content-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n filename*0*=utf-8''%E5%A4%ZZ;\r\n filename*2*=%E9%98%AA.xlsx;\r\n filename*99999999999*=x", x)]))
    damaged_zip = io.BytesIO()
    with zipfile.ZipFile(damaged_zip, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("s.xlsx", date_time=(2026, 11, 16, 9, 0, 0)), x * 3)
    dz = damaged_zip.getvalue()
    dz = dz[:40] + bytes(b ^ 0x55 for b in dz[40:80]) + dz[80:]
    write(MALFORMED, "broken-damaged-zip.eml", head("damaged zip") + mixed([TEXT, att(
        "Content-Type: application/zip; name=d.zip", dz), att("Content-Type: application/octet-stream; name=empty.xlsx", b"")]))
    # Forwarded messages nested deeper than the limit.
    inner = head("deepest") + mixed([TEXT, att("Content-Type: application/octet-stream; name=deep.xlsx", x)])
    for i in range(8):
        inner = (head("level %d" % i) + 'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (i, i)
                 + "Content-Type: message/rfc822\r\n\r\n" + inner.replace("--b1", "--b1x%d" % i).replace('boundary="b1"', 'boundary="b1x%d"' % i)
                 + "\r\n--n%d--\r\n" % i)
    write(MALFORMED, "broken-nested-too-deep.eml", inner)


if __name__ == "__main__":
    legacy()
    malformed()
