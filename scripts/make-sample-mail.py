#!/usr/bin/env python3
"""Writes samples/mail/*.eml: realistic mail from prefecture officials to the
SOS mailbox, for the README, end-to-end tests and the parse golden tests.

Reproducible: fixed dates, Message-IDs and MIME boundaries. The attached
sheets are variants of the reference form samples/forms/example-filled.xlsx
(prefecture, institution and code changed in the sheet XML); the .xls and
.ods copies are converted with LibreOffice (`soffice`), the encrypted zip
encrypted with ZipCrypto (written here, deterministic). Run from the repository root:

    python3 scripts/make-sample-mail.py [path/to/example-filled.xlsx]

It also writes the sheets it attached to samples/mail/sheets/ so that tests
can compare bytes.
"""

import base64
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "samples", "mail")
SHEETS = os.path.join(OUT, "sheets")
FORM = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "samples", "forms", "example-filled.xlsx")

SOS = "sos-busshi@mhlw.go.jp"
SOS_NAME = "厚生労働省 緊急配布チーム"
MX = "mx.mhlw.go.jp"  # our MTA; also the authserv-id


# ---------------------------------------------------------------- sheets

def luhn_digit(payload):
    """Check digit of a 医療機関コード (Luhn over the first nine digits)."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def code(prefix9):
    return prefix9 + luhn_digit(prefix9)


def read_form():
    with zipfile.ZipFile(FORM) as z:
        return {n: z.read(n) for n in z.namelist()}, [i for i in z.infolist()]


def set_cell(xml, ref, value):
    """Replaces the value of cell `ref` (inline string or number)."""
    pat = re.compile(r'<c r="%s"([^>]*?)(?:/>|>.*?</c>)' % ref, re.S)
    m = pat.search(xml)
    attrs = re.sub(r'\s*t="[^"]*"', "", m.group(1)) if m else ""
    if isinstance(value, (int, float)):
        cell = '<c r="%s"%s t="n"><v>%s</v></c>' % (ref, attrs, value)
    else:
        cell = '<c r="%s"%s t="inlineStr"><is><t>%s</t></is></c>' % (ref, attrs, value)
    if m:
        return xml[: m.start()] + cell + xml[m.end():]
    row = re.search(r"\d+", ref).group(0)
    rm = re.search(r'<row r="%s"[^>]*>(.*?)</row>' % row, xml, re.S)
    return xml[: rm.end() - len("</row>")] + cell + xml[rm.end() - len("</row>"):]


def make_sheet(cells):
    parts, infos = read_form()
    xml = parts["xl/worksheets/sheet1.xml"].decode("utf-8")
    for ref, value in cells.items():
        xml = set_cell(xml, ref, value)
    parts["xl/worksheets/sheet1.xml"] = xml.encode("utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in infos:
            zi = zipfile.ZipInfo(info.filename, date_time=(2026, 11, 16, 9, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, parts[info.filename])
    return buf.getvalue()


def institution(name, code_, postcode, pref, address, phone, contact):
    return {"C12": name, "C13": code_, "C14": postcode, "F14": pref, "C15": address, "C16": phone, "F16": contact}


TOKYO = make_sheet(institution("みどり内科クリニック", code("131234567"), "160-0023", "東京都",
                               "東京都新宿区西新宿2-8-1", "03-1234-5678", "山田 花子"))
OSAKA_1 = make_sheet(dict(institution("なにわ中央病院", code("271100123"), "540-0008", "大阪府",
                                      "大阪府大阪市中央区大手前2-1-22", "06-6941-0351", "中村 健"),
                          D23=1500, F23=3000, G23=500, H23="卸の在庫切れ（入荷時期未定）",
                          E31=0, F31=5000, G31=5000, D31="国による直送",
                          H31="過去の緊急配布回数：1回。発熱外来を継続。地域内で融通できる在庫なし。"))
OSAKA_2 = make_sheet(dict(institution("堺みなと病院", code("271400456"), "590-0078", "大阪府",
                                      "大阪府堺市堺区南瓦町3-1", "072-233-1101", "松本 里美"),
                          D23=400, F23=2400, G23=0, E31=4800, F31=0, G31=4800,
                          H31="過去の緊急配布回数：0回。院内感染対応で消費増（聞き取り済）。"))
OSAKA_3 = make_sheet(dict(institution("北摂こども診療所", code("271700789"), "560-0021", "大阪府",
                                      "大阪府豊中市本町1-1-1", "06-6858-2525", "井上 陽子"),
                          D23=200, F23=600, G23=100, E31=1000, F31=0, G31=1000,
                          H31="初回。小児科外来の発熱患者増加による。"))
# Errors: code of another prefecture with a bad check digit, a total that is
# not the sum, and a number in the MHLW block.
OSAKA_ERR = make_sheet(dict(institution("淀川リハビリテーション病院", "1312345670", "532-0011", "大阪府",
                                        "大阪府大阪市淀川区西中島5-1-1", "06-6300-0000", "高橋 翼"),
                            D23="約1,000", E31=1000, F31=1000, G31=3000, D39=500))
HOKKAIDO = make_sheet(dict(institution("さっぽろ北クリニック", code("011011371"), "060-0003", "北海道",
                                       "北海道札幌市中央区北3条西6丁目", "011-231-4111", "佐藤 一郎"),
                           D23=300, F23=900, G23=100, E31=1600, F31=0, G31=1600,
                           H31="過去の緊急配布回数：0回。道内卸の在庫逼迫のため。"))


def libreoffice_convert(data, fmt):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "sheet.xlsx")
        with open(src, "wb") as f:
            f.write(data)
        subprocess.run(["soffice", "--headless", "--convert-to", fmt, "--outdir", d, src],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180)
        with open(os.path.join(d, "sheet." + fmt), "rb") as f:
            return f.read()




def plain_zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, date_time=(2026, 11, 16, 9, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.flag_bits |= 0x800  # UTF-8 name
            z.writestr(zi, data)
    return buf.getvalue()


def _crc_byte(crc, b):
    return (zlib.crc32(bytes([b]), crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF) & 0xFFFFFFFF


class _ZipCrypto:
    """PKWARE traditional encryption (ZipCrypto), as `zip -P` writes it."""

    def __init__(self, password):
        self.k = [0x12345678, 0x23456789, 0x34567890]
        for b in password:
            self._update(b)

    def _update(self, b):
        k = self.k
        k[0] = _crc_byte(k[0], b)
        k[1] = (k[1] + (k[0] & 0xFF)) & 0xFFFFFFFF
        k[1] = (k[1] * 134775813 + 1) & 0xFFFFFFFF
        k[2] = _crc_byte(k[2], (k[1] >> 24) & 0xFF)

    def encrypt(self, data):
        out = bytearray()
        for b in data:
            t = (self.k[2] | 2) & 0xFFFF
            out.append(b ^ (((t * (t ^ 1)) >> 8) & 0xFF))
            self._update(b)
        return bytes(out)


def encrypted_zip(name, data, password):
    """A ZipCrypto-encrypted zip (the PPAP habit), written byte by byte so
    that it is reproducible (a fixed encryption header instead of a random
    one). Python's zipfile reads it back with the password."""
    crc = zlib.crc32(data) & 0xFFFFFFFF
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = comp.compress(data) + comp.flush()
    header = bytes(range(1, 12)) + bytes([crc >> 24])
    payload = _ZipCrypto(password.encode()).encrypt(header + deflated)
    fname = name.encode("utf-8")
    dostime, dosdate = (9 << 11), ((2026 - 1980) << 9) | (11 << 5) | 16
    flags = 0x1 | 0x800
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, 8, dostime, dosdate, crc, len(payload), len(data), len(fname), 0) + fname
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, 8, dostime, dosdate, crc, len(payload), len(data),
                          len(fname), 0, 0, 0, 0, 0o100644 << 16, 0) + fname
    body = local + payload
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(body), 0)
    out = body + central + end
    with zipfile.ZipFile(io.BytesIO(out)) as z:
        assert z.read(name, pwd=password.encode()) == data
    return out


def normalize_odf(data):
    """LibreOffice stamps the save time into an .ods: fix it so that the
    output is reproducible."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "meta.xml":
                content = re.sub(rb"(<(meta:creation-date|dc:date)>)[^<]*", rb"\g<1>2026-11-16T09:00:00", content)
                content = re.sub(rb"(<meta:editing-duration>)[^<]*", rb"\g<1>PT0S", content)
            zi = zipfile.ZipInfo(info.filename, date_time=(2026, 11, 16, 9, 0, 0))
            zi.compress_type = zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED
            z.writestr(zi, content)
    return buf.getvalue()


def docx(text):
    """A minimal Word document."""
    files = [
        ("[Content_Types].xml",
         '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
         '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
         '<Default Extension="xml" ContentType="application/xml"/>'
         '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
         '</Types>'),
        ("_rels/.rels",
         '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
         '</Relationships>'),
        ("word/document.xml",
         '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
         + "".join("<w:p><w:r><w:t>%s</w:t></w:r></w:p>" % line for line in text.split("\n"))
         + "</w:body></w:document>"),
    ]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            zi = zipfile.ZipInfo(name, date_time=(2026, 11, 16, 9, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data.encode("utf-8"))
    return buf.getvalue()


OSAKA_2_XLS = libreoffice_convert(OSAKA_2, "xls")
OSAKA_3_ODS = normalize_odf(libreoffice_convert(OSAKA_3, "ods"))


def png_logo():
    """A 16x16 PNG (a blue square), as in a mail signature."""
    raw = b"".join(b"\x00" + b"\x1f\x4e\x9b" * 16 for _ in range(16))
    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


# ---------------------------------------------------------------- MIME

def b64_lines(data):
    s = base64.b64encode(data).decode("ascii")
    return "\r\n".join(s[i:i + 76] for i in range(0, len(s), 76))


def ew(text, charset="UTF-8"):
    """RFC 2047 B encoded-word(s), split between characters."""
    words, cur = [], ""
    for ch in text:
        if len(base64.b64encode((cur + ch).encode(charset_py(charset)))) > 45:
            words.append(cur)
            cur = ""
        cur += ch
    words.append(cur)
    return "\r\n ".join("=?%s?B?%s?=" % (charset, base64.b64encode(w.encode(charset_py(charset))).decode()) for w in words)


def jis(text):
    """ISO-2022-JP as Japanese mailers write it (CP50220): JIS X 0208 plus
    the NEC row-13 circled digits (①...⑳) that Outlook and Becky! send."""
    out, kanji = bytearray(), False
    for ch in text:
        if ord(ch) < 0x80:
            if kanji:
                out += b"\x1b(B"
                kanji = False
            out += ch.encode("ascii")
            continue
        if "\u2460" <= ch <= "\u2473":
            pair = bytes([0x2D, 0x21 + ord(ch) - 0x2460])
        else:
            pair = ch.encode("iso2022_jp")[3:5]
        if not kanji:
            out += b"\x1b$B"
            kanji = True
        out += pair
    if kanji:
        out += b"\x1b(B"
    return bytes(out)


def ew_jis(text):
    return "=?ISO-2022-JP?B?%s?=" % base64.b64encode(jis(text)).decode()


def charset_py(cs):
    return {"UTF-8": "utf-8", "ISO-2022-JP": "iso2022_jp", "Shift_JIS": "cp932"}[cs]


def rfc2231(name, charset="UTF-8", segments=1):
    """`filename*=` or `filename*0*=`... continuations (split by bytes)."""
    data = name.encode(charset_py(charset))
    pct = lambda b: "".join("%%%02X" % x if (x > 0x7e or x < 0x21 or chr(x) in "%'*;\"()<>@,/:=?[]\\") else chr(x) for x in b)
    if segments == 1:
        return "filename*=%s''%s" % (charset, pct(data))
    size = -(-len(data) // segments)
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    out = []
    for i, c in enumerate(chunks):
        prefix = "%s''" % charset if i == 0 else ""
        out.append("filename*%d*=%s%s" % (i, prefix, pct(c)))
    return ";\r\n ".join(out)


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def attachment(data, ctype, disposition_params):
    return ("Content-Type: %s\r\nContent-Disposition: attachment;\r\n %s\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n" % (ctype, disposition_params, b64_lines(data)))


def text_part(body, charset="UTF-8"):
    if charset == "ISO-2022-JP":
        return ("Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
                + jis(body.replace("\n", "\r\n")).decode("ascii") + "\r\n")
    return ("Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n"
            % b64_lines(body.replace("\n", "\r\n").encode("utf-8")))


def multipart(subtype, boundary, parts, extra=""):
    body = "".join("--%s\r\n%s" % (boundary, p) for p in parts) + "--%s--\r\n" % boundary
    return 'Content-Type: multipart/%s; boundary="%s"%s\r\n\r\n%s' % (subtype, boundary, extra, body)


def delivered(sender_host, sender_ip, envelope, when, auth=None):
    """Trace headers our MTA and LDA write at delivery, topmost first. Our
    MTA's Authentication-Results is the top header, above every Received
    line: the only place the gateway trusts it (a sender can forge the
    header, but only below the Received line our MTA prepends)."""
    h = ""
    if auth:
        h += "Authentication-Results: %s;\r\n\t%s\r\n" % (MX, auth)
    h += "Return-Path: <%s>\r\nDelivered-To: %s\r\n" % (envelope, SOS)
    h += ("Received: from %s (%s [%s])\r\n\tby %s (Postfix) with ESMTPS id 4Q%s\r\n\tfor <%s>; %s\r\n"
          % (sender_host, sender_host, sender_ip, MX, abs(hash(when)) % 10**9 if False else when[-14:-6].replace(":", ""), SOS, when))
    return h


def message(trace, from_, subject, msgid, date, body_mime, extra=""):
    return (trace + "From: %s\r\nTo: %s <%s>\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\n%sMIME-Version: 1.0\r\n%s"
            % (from_, ew(SOS_NAME), SOS, subject, date, msgid, extra, body_mime))


def write(name, text):
    data = text.encode("ascii") if isinstance(text, str) else text
    assert b"\n" not in data.replace(b"\r\n", b""), name + ": bare LF"
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


SIG_TOKYO = "\n--\n東京都福祉局 保健医療政策部 医療政策課\n医療物資担当 小林 直子\nTEL 03-5320-0000（内線 12345）\n"
SIG_OSAKA = "\n--\n大阪府 健康医療部 保健医療室 感染症対策課\n医療物資グループ 西田 拓也\nTEL 06-6944-0000\n"
SIG_HOKKAIDO = "\n--\n北海道 保健福祉部 感染症対策局\n医療体制担当 伊藤 恵\nTEL 011-204-0000\n"

TOKYO_FROM = "%s <sos@fukushi.metro.tokyo.lg.jp>" % ew("東京都福祉局 医療政策課")
OSAKA_FROM = "%s <kansen@pref.osaka.lg.jp>" % ew("大阪府 感染症対策課")
HOKKAIDO_FROM = "%s <iryo@pref.hokkaido.lg.jp>" % ew_jis("北海道 保健福祉部")


def tokyo_trace(when):
    return delivered("mail.fukushi.metro.tokyo.lg.jp", "203.0.113.25", "sos@fukushi.metro.tokyo.lg.jp", when,
                     "spf=pass smtp.mailfrom=sos@fukushi.metro.tokyo.lg.jp;\r\n\tdkim=pass header.d=fukushi.metro.tokyo.lg.jp header.s=lgwan;\r\n"
                     "\tdmarc=pass header.from=fukushi.metro.tokyo.lg.jp")


def osaka_trace(when):
    return delivered("smtp.pref.osaka.lg.jp", "198.51.100.40", "kansen@pref.osaka.lg.jp", when,
                     "spf=pass smtp.mailfrom=pref.osaka.lg.jp;\r\n\tdkim=pass header.d=pref.osaka.lg.jp header.s=s2026;\r\n"
                     "\tdmarc=pass header.from=pref.osaka.lg.jp")


def hokkaido_trace(when):
    return delivered("mx1.pref.hokkaido.lg.jp", "192.0.2.71", "iryo@pref.hokkaido.lg.jp", when,
                     "spf=pass smtp.mailfrom=iryo@pref.hokkaido.lg.jp;\r\n\tdkim=none;\r\n"
                     "\tdmarc=pass header.from=pref.hokkaido.lg.jp")


def main():
    os.makedirs(SHEETS, exist_ok=True)
    for name in os.listdir(OUT):
        if name.endswith(".eml"):
            os.remove(os.path.join(OUT, name))

    # 01: a valid submission, Outlook-style: text + HTML with an inline
    # signature logo, and the sheet with an RFC 2231 UTF-8 file name.
    logo = ("Content-Type: image/png; name=\"logo.png\"\r\nContent-ID: <logo@fukushi.metro.tokyo.lg.jp>\r\n"
            "Content-Disposition: inline; filename=\"logo.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n"
            % b64_lines(png_logo()))
    body01 = ("厚生労働省 緊急配布チーム 御中\n\nいつもお世話になっております。\n"
              "みどり内科クリニックより非滅菌手袋の緊急配布要請がありましたので、\n"
              "要請シートを添付にてお送りいたします。\nご確認のほど、よろしくお願いいたします。\n" + SIG_TOKYO)
    html01 = ("<html><body><p>" + body01.replace("\n", "<br>") + "</p><img src=\"cid:logo@fukushi.metro.tokyo.lg.jp\"></body></html>")
    html_part = ("Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n"
                 % b64_lines(html01.encode("utf-8")))
    alt = multipart("alternative", "=_alt_01", [text_part(body01), html_part])
    related = multipart("related", "=_rel_01", [alt, logo], '; type="multipart/alternative"')
    when = "Mon, 16 Nov 2026 10:12:31 +0900"
    write("01-valid-submission.eml", message(
        tokyo_trace(when), TOKYO_FROM, ew("【緊急配布要請】みどり内科クリニック（非滅菌手袋）"),
        "20261116011231.A1B2C3@fukushi.metro.tokyo.lg.jp", when,
        multipart("mixed", "=_mixed_01", [related, attachment(TOKYO, XLSX_TYPE, rfc2231("緊急配布要請シート_みどり内科クリニック.xlsx"))])))

    # 02: several sheets in one mail: .xlsx, .xls (Excel 97-2003) and .ods.
    body02 = ("厚生労働省 緊急配布チーム ご担当者様\n\n大阪府感染症対策課です。\n"
              "府内3医療機関分の緊急配布要請シートを送付します。\n"
              "・なにわ中央病院（xlsx）\n・堺みなと病院（xls）\n・北摂こども診療所（ods）\n" + SIG_OSAKA)
    when = "Tue, 17 Nov 2026 12:48:05 +0900"
    write("02-several-sheets.eml", message(
        osaka_trace(when), OSAKA_FROM, ew("緊急配布要請シート送付（大阪府 3件）"),
        "5f1e2d3c.20261117124805@pref.osaka.lg.jp", when,
        multipart("mixed", "----=_Part_02", [
            text_part(body02),
            attachment(OSAKA_1, XLSX_TYPE, rfc2231("01_なにわ中央病院.xlsx")),
            attachment(OSAKA_2_XLS, "application/vnd.ms-excel", rfc2231("02_堺みなと病院.xls")),
            attachment(OSAKA_3_ODS, "application/vnd.oasis.opendocument.spreadsheet", rfc2231("03_北摂こども診療所.ods")),
        ])))

    # 03: a sheet with errors.
    body03 = "お世話になっております。\n淀川リハビリテーション病院の要請シートを送付します。\n" + SIG_OSAKA
    when = "Tue, 17 Nov 2026 15:20:44 +0900"
    write("03-error-sheet.eml", message(
        osaka_trace(when), OSAKA_FROM, ew("緊急配布要請（淀川リハビリテーション病院）"),
        "7a9b0c1d.20261117152044@pref.osaka.lg.jp", when,
        multipart("mixed", "----=_Part_03", [
            text_part(body03),
            attachment(OSAKA_ERR, XLSX_TYPE, rfc2231("要請シート_淀川リハビリテーション病院.xlsx")),
        ])))

    # 04: ISO-2022-JP subject and body (7bit), Becky!-style encoded-word
    # file name (not standard, but common in Japan).
    body04 = ("厚生労働省　緊急配布チーム　御中\n\n北海道保健福祉部の伊藤です。\n"
              "さっぽろ北クリニックの緊急配布要請シートをお送りします。\n"
              "①非滅菌手袋　１，６００枚\n よろしくお願いいたします。\n" + SIG_HOKKAIDO)
    when = "Wed, 18 Nov 2026 09:03:17 +0900"
    write("04-iso-2022-jp.eml", message(
        hokkaido_trace(when), HOKKAIDO_FROM, ew_jis("緊急配布要請シートの送付について（北海道）"),
        "20261118090317.1234@pref.hokkaido.lg.jp", when,
        multipart("mixed", "Boundary_(ID_04)", [
            text_part(body04, "ISO-2022-JP"),
            "Content-Type: application/vnd.ms-excel;\r\n name=\"%s\"\r\nContent-Disposition: attachment;\r\n filename=\"%s\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n" % (ew_jis("要請シート（さっぽろ北）.xlsx"), ew_jis("要請シート（さっぽろ北）.xlsx"), b64_lines(HOKKAIDO)),
        ]), extra="X-Mailer: Becky! ver. 2.81.04 [ja]\r\n"))

    # 05: Shift_JIS RFC 2231 file name split over three continuation
    # segments (mail-parser alone garbles it), Shift_JIS body.
    body05 = "お疲れ様です。\nみどり内科クリニック分の要請シートを再送いたします（ファイル名を修正しました）。\n" + SIG_TOKYO
    when = "Wed, 18 Nov 2026 11:41:09 +0900"
    sjis_body = ("Content-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n"
                 % b64_lines(body05.replace("\n", "\r\n").encode("cp932")))
    write("05-shift-jis-rfc2231-filename.eml", message(
        tokyo_trace(when), TOKYO_FROM, ew("Re: 【緊急配布要請】みどり内科クリニック（ファイル名修正版）"),
        "20261118114109.D4E5F6@fukushi.metro.tokyo.lg.jp", when,
        multipart("mixed", "=_mixed_05", [
            sjis_body,
            attachment(TOKYO, XLSX_TYPE, rfc2231("東京都_緊急配布要請シート_みどり内科クリニック_修正版.xlsx", "Shift_JIS", 3)),
        ]), extra="In-Reply-To: <20261116011231.A1B2C3@fukushi.metro.tokyo.lg.jp>\r\n"
                  "References: <20261116011231.A1B2C3@fukushi.metro.tokyo.lg.jp>\r\n"))

    # 06: a forwarded mail: the hospital's message (message/rfc822) with a
    # zip holding the sheet inside.
    inner_when = "Thu, 19 Nov 2026 08:55:00 +0900"
    inner = message("", "%s <jimu@midori-naika.example.jp>" % ew("みどり内科クリニック 事務長"),
                    ew("緊急配布要請シート提出"), "20261119085500.99@midori-naika.example.jp", inner_when,
                    multipart("mixed", "=_inner_06", [
                        text_part("東京都 ご担当者様\n\n要請シートをzipで提出します。\nみどり内科クリニック 事務長 吉田\n"),
                        "Content-Type: application/zip; name=\"%s\"\r\nContent-Disposition: attachment; %s\r\n"
                        "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n"
                        % (ew("受付.zip"), rfc2231("受付.zip"), b64_lines(plain_zip([("緊急配布要請シート.xlsx", TOKYO)]))),
                    ])).replace("To: %s <%s>" % (ew(SOS_NAME), SOS), "To: sos@fukushi.metro.tokyo.lg.jp")
    when = "Thu, 19 Nov 2026 09:30:12 +0900"
    write("06-forwarded.eml", message(
        tokyo_trace(when), TOKYO_FROM, ew("Fw: 緊急配布要請シート提出"),
        "20261119093012.F0F1F2@fukushi.metro.tokyo.lg.jp", when,
        multipart("mixed", "=_mixed_06", [
            text_part("医療機関から届いた要請を転送します。\n都の意見欄は記入済みです。\n" + SIG_TOKYO),
            "Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"forwarded.eml\"\r\n\r\n" + inner + "\r\n",
        ])))

    # 07: an unknown sender (a clinic writing directly), not authenticated.
    when = "Thu, 19 Nov 2026 14:02:51 +0900"
    write("07-unknown-sender.eml", message(
        delivered("smtp.midori-naika.example.jp", "233.252.0.9", "jimu@midori-naika.example.jp", when,
                  "spf=none smtp.mailfrom=midori-naika.example.jp;\r\n\tdkim=none"),
        "%s <jimu@midori-naika.example.jp>" % ew("みどり内科クリニック"), ew("手袋の緊急配布をお願いします"),
        "20261119140251.77@midori-naika.example.jp", when,
        multipart("mixed", "=_mixed_07", [
            text_part("厚生労働省 ご担当者様\n\n直接送付で失礼いたします。要請シートを添付します。\n"),
            attachment(TOKYO, XLSX_TYPE, rfc2231("要請シート.xlsx")),
        ])))

    # 12: an unknown but authenticated sender: a prefecture not yet in the
    # directory, whose mail our MTA verified (DKIM pass). Quarantined, and
    # answered.
    when = "Fri, 20 Nov 2026 17:20:03 +0900"
    write("12-unknown-sender-authenticated.eml", message(
        delivered("mail.pref.kyoto.lg.jp", "203.0.113.80", "bounce@mail.pref.kyoto.lg.jp", when,
                  "spf=pass smtp.mailfrom=bounce@mail.pref.kyoto.lg.jp;\r\n\tdkim=pass header.d=pref.kyoto.lg.jp header.s=k1"),
        "%s <iryo-shien@pref.kyoto.lg.jp>" % ew("京都府 医療課"), ew("緊急配布要請シートの送付（京都府）"),
        "20261120172003.AB12@pref.kyoto.lg.jp", when,
        multipart("mixed", "=_mixed_12", [
            text_part("京都府医療課です。初めてお送りします。\n要請シートを添付いたします。\n"),
            attachment(TOKYO, XLSX_TYPE, rfc2231("要請シート_京都府.xlsx")),
        ])))

    # 08: an out-of-office auto-reply (Exchange style).
    when = "Thu, 19 Nov 2026 18:30:00 +0900"
    write("08-out-of-office.eml", message(
        tokyo_trace(when), TOKYO_FROM, ew("自動応答: 【受付】緊急配布要請 受付番号 SOS-20261119-0003"),
        "OOF.20261119183000.1@fukushi.metro.tokyo.lg.jp", when,
        text_part("ただいま不在にしております。11月24日（火）より対応いたします。\n"
                  "お急ぎの場合は医療政策課（03-5320-0000）までご連絡ください。\n"),
        extra="Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n"
              "In-Reply-To: <sos-reply-0003@mhlw.go.jp>\r\nReferences: <sos-reply-0003@mhlw.go.jp>\r\n"))

    # 09: a bounce (multipart/report DSN) for one of our replies.
    when = "Fri, 20 Nov 2026 10:05:42 +0900"
    original = ("From: %s <%s>\r\nTo: old-address@pref.osaka.lg.jp\r\nSubject: %s\r\n"
                "Message-ID: <sos-reply-0007@mhlw.go.jp>\r\nAuto-Submitted: auto-replied\r\nX-SOS-Gateway: sos-intake\r\n"
                % (ew(SOS_NAME), SOS, ew("【受付】緊急配布要請 受付番号 SOS-20261120-0007")))
    dsn = ("Reporting-MTA: dns; smtp.pref.osaka.lg.jp\r\nArrival-Date: %s\r\n\r\n"
           "Final-Recipient: rfc822; old-address@pref.osaka.lg.jp\r\nAction: failed\r\nStatus: 5.1.1\r\n"
           "Diagnostic-Code: smtp; 550 5.1.1 <old-address@pref.osaka.lg.jp>: Recipient address rejected: User unknown\r\n" % when)
    write("09-bounce.eml", message(
        delivered("smtp.pref.osaka.lg.jp", "198.51.100.40", "", when).replace("Return-Path: <>", "Return-Path: <>"),
        "MAILER-DAEMON@smtp.pref.osaka.lg.jp (Mail Delivery System)", "Undelivered Mail Returned to Sender",
        "20261120010542.0A1B2C@smtp.pref.osaka.lg.jp", when,
        multipart("report", "0A1B2C.1763600742/smtp.pref.osaka.lg.jp", [
            "Content-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            "This is the mail system at host smtp.pref.osaka.lg.jp.\r\n\r\nI'm sorry to have to inform you that your message could not\r\n"
            "be delivered to one or more recipients.\r\n\r\n<old-address@pref.osaka.lg.jp>: host said: 550 5.1.1 User unknown\r\n",
            "Content-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n" + dsn,
            "Content-Description: Undelivered Message Headers\r\nContent-Type: text/rfc822-headers\r\n\r\n" + original,
        ], "; report-type=delivery-status"),
        extra="Auto-Submitted: auto-replied\r\n"))

    # 10: a password-protected zip (PPAP), password "to follow".
    when = "Fri, 20 Nov 2026 13:15:00 +0900"
    write("10-password-zip.eml", message(
        osaka_trace(when), OSAKA_FROM, ew("【パスワード別送】緊急配布要請シート（なにわ中央病院）"),
        "3c4d5e6f.20261120131500@pref.osaka.lg.jp", when,
        multipart("mixed", "----=_Part_10", [
            text_part("要請シートをパスワード付きzipで送付します。\nパスワードは別メールにてお送りします。\n" + SIG_OSAKA),
            attachment(encrypted_zip("naniwa.xlsx", OSAKA_1, "Osaka2026"), "application/x-zip-compressed", rfc2231("要請シート_なにわ中央病院.zip")),
        ])))

    # 11: a Word document instead of the sheet.
    when = "Fri, 20 Nov 2026 16:47:29 +0900"
    write("11-docx.eml", message(
        hokkaido_trace(when), HOKKAIDO_FROM, ew_jis("緊急配布要請（文書）"),
        "20261120164729.5678@pref.hokkaido.lg.jp", when,
        multipart("mixed", "Boundary_(ID_11)", [
            text_part("要請内容を文書にまとめましたので送付します。\n" + SIG_HOKKAIDO, "ISO-2022-JP"),
            attachment(docx("緊急配布要請\nさっぽろ北クリニック\n非滅菌手袋 1600枚"),
                       "application/vnd.openxmlformats-officedocument.wordprocessingml.document", rfc2231("要請内容.docx")),
        ])))

    for name, data in [("tokyo-midori.xlsx", TOKYO), ("osaka-naniwa.xlsx", OSAKA_1), ("osaka-sakai.xls", OSAKA_2_XLS),
                       ("osaka-hokusetsu.ods", OSAKA_3_ODS), ("osaka-yodogawa-errors.xlsx", OSAKA_ERR),
                       ("hokkaido-sapporo-kita.xlsx", HOKKAIDO)]:
        with open(os.path.join(SHEETS, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
