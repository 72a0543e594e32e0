#!/usr/bin/env python3
"""Generates the hostile input corpus of tests/fixtures/hostile/.

Usage:
    scripts/hostile-fixtures.py OUT_DIR          # the small fixtures (committed)
    scripts/hostile-fixtures.py --big OUT_DIR    # the big ones (made at test time)

Every file is built from scratch (OLE2 containers, BIFF records, zips, MIME)
or from a committed sample (samples/sheets/valid.xlsx,
tests/fixtures/reader/example.xls and example.ods), byte for byte
reproducibly: no timestamps, no randomness. What each file is meant to do to
the gateway, and what must happen instead, is in
tests/fixtures/hostile/README.md; tests/hostile_inputs.rs runs each one
through the real binary under a 512 MB address-space limit.
"""

import base64
import io
import struct
import sys
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FREE = 0xFFFFFFFF
END = 0xFFFFFFFE
FATSECT = 0xFFFFFFFD
DIFSECT = 0xFFFFFFFC
MAGIC = bytes([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1])


# ---------------------------------------------------------------------------
# BIFF8 records.


def record(kind, data=b""):
    return struct.pack("<HH", kind, len(data)) + data


def bof(dt):
    # BIFF8, dt 0x0005 globals / 0x0010 worksheet.
    return record(0x0809, struct.pack("<HHHHII", 0x0600, dt, 0x0DBB, 0x07CC, 0, 0x06))


def boundsheet(pos, name):
    raw = name.encode("latin-1")
    return record(0x0085, struct.pack("<IBBBB", pos, 0, 0, len(raw), 0) + raw)


def label(row, col, text, high=False):
    """A LABEL cell (BIFF8 XLUnicodeString); `high` stores UTF-16LE."""
    if high:
        raw = text.encode("utf-16-le")
        body = struct.pack("<HB", len(text), 1) + raw
    else:
        raw = text.encode("latin-1")
        body = struct.pack("<HB", len(raw), 0) + raw
    return record(0x0204, struct.pack("<HHH", row, col, 0) + body)


def workbook_stream(cells, sheets=1, pad_to=4608):
    """Globals (BOF, CODEPAGE, BoundSheets, EOF) then one worksheet holding
    `cells`, padded past the 4096-byte mini-stream cutoff."""
    names = [f"Sheet{i + 1}" for i in range(sheets)]
    globals_len = len(bof(5)) + len(record(0x0042, b"\xb0\x04")) + sum(
        len(boundsheet(0, n)) for n in names
    ) + len(record(0x000A))
    sheet = bof(0x10) + record(0x0200, struct.pack("<IIHHH", 0, 10, 0, 4, 0))
    for c in cells:
        sheet += c
    sheet += record(0x000A)
    out = bof(5) + record(0x0042, b"\xb0\x04")
    for n in names:
        out += boundsheet(globals_len, n)
    out += record(0x000A)
    out += sheet
    while len(out) < pad_to:
        out += record(0x00E1, b"\0" * min(64, max(0, pad_to - len(out) - 4)))
    return out


# ---------------------------------------------------------------------------
# OLE2 compound files (version 3, 512-byte sectors).


def dir_entry(name, kind, start, size, child=FREE):
    units = name.encode("utf-16-le") + b"\0\0" if name else b""
    e = units.ljust(64, b"\0")
    e += struct.pack("<HBB", len(units), kind, 1)  # name length, type, black
    e += struct.pack("<III", FREE, FREE, child)  # left, right, child
    e += b"\0" * 16 + b"\0" * 4 + b"\0" * 16  # clsid, state, times
    e += struct.pack("<IIII", start, size & 0xFFFFFFFF, 0, 0)[:8]
    e += struct.pack("<I", 0)
    return e.ljust(128, b"\0")


def sectors_of(data):
    data = data + b"\0" * (-len(data) % 512)
    return [data[i : i + 512] for i in range(0, len(data), 512)]


def cfb(
    stream,
    *,
    stream_size=None,
    stream_loop=False,
    dir_loop=False,
    mini=False,
    mini_loop=False,
    minifat_chain_loop=False,
    root_size=None,
    csect_fat=1,
    csect_minifat=None,
    difat_loop=False,
    huge_counts=False,
):
    """An OLE2 file holding `stream` as "Workbook". Layout: sector 0 FAT,
    1 directory, 2 mini FAT, 3 mini stream, 4.. the Workbook stream (or, when
    `mini`, the stream lives in the mini stream), then an optional DIFAT
    sector. The flags break one chain each."""
    wb_sectors = [] if mini else sectors_of(stream)
    mini_data = stream if mini else b"\0" * 64
    mini_sectors = sectors_of(mini_data)
    first_wb = 3 + len(mini_sectors)
    n = first_wb + len(wb_sectors)
    difat_sector = n if difat_loop else None
    if difat_loop:
        n += 1
    fat = [FREE] * 128
    fat[0] = FATSECT
    fat[1] = 1 if dir_loop else END
    fat[2] = 2 if minifat_chain_loop else END
    for i in range(len(mini_sectors)):
        fat[3 + i] = 3 + i + 1 if i + 1 < len(mini_sectors) else (3 if mini_loop and not mini else END)
    if mini_loop and not mini:
        fat[3] = 3
    for i in range(len(wb_sectors)):
        nxt = first_wb + i + 1
        fat[first_wb + i] = nxt if i + 1 < len(wb_sectors) else (first_wb if stream_loop else END)
    if difat_sector is not None:
        fat[difat_sector] = DIFSECT
    # Mini FAT: the mini stream's 64-byte sectors.
    mini_count = max(1, (len(mini_data) + 63) // 64)
    minifat = [FREE] * 128
    for i in range(mini_count):
        minifat[i] = i + 1 if i + 1 < mini_count else END
    if mini and mini_loop:
        minifat[mini_count - 1] = 0
    size = len(stream) if stream_size is None else stream_size
    root = dir_entry(
        "Root Entry",
        5,
        3,
        len(mini_data) if root_size is None else root_size,
        child=1,
    )
    wb = dir_entry("Workbook", 2, 0 if mini else first_wb, size)
    directory = root + wb + dir_entry("", 0, 0, 0) + dir_entry("", 0, 0, 0)
    header = bytearray(512)
    header[0:8] = MAGIC
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    csect_mini = (1 if csect_minifat is None else csect_minifat)
    struct.pack_into(
        "<IIIIIIIII",
        header,
        0x28,
        0,  # csectDir (0 in version 3)
        0xFFFFFFFF if huge_counts else csect_fat,
        1,  # directory start
        0,
        4096,
        2,  # mini FAT start
        0xFFFFFFFF if huge_counts else csect_mini,
        difat_sector if difat_sector is not None else END,
        0xFFFFFFFF if huge_counts else (1 if difat_loop else 0),
    )
    difat = [0] + [FREE] * 108
    if difat_loop:
        # The header lists the one FAT sector 109 times; the DIFAT sector
        # lists it 127 times more and points to itself.
        difat = [0] * 109
    struct.pack_into("<109I", header, 0x4C, *difat)
    body = [
        struct.pack("<128I", *fat),
        directory,
        struct.pack("<128I", *minifat),
    ]
    body += mini_sectors + wb_sectors
    if difat_sector is not None:
        body.append(struct.pack("<128I", *([0] * 127 + [difat_sector])))
    return bytes(header) + b"".join(body)


def xls_files(big):
    cells = [label(0, 0, "緊急配布要請シート", high=True), label(1, 0, "hostile")]
    stream = workbook_stream(cells)
    small_stream = workbook_stream(cells, pad_to=0)
    if big:
        return {
            "xls-boundsheets-200k.xls": many_boundsheets(200_000),
            # 250 worksheets (under the sheet cap) each walking 300 KB: 75 MB.
            "xls-walk-250x300k.xls": many_boundsheets(250, pad=300_000),
        }
    return {
        "xls-baseline.xls": cfb(stream),
        "xls-fat-loop-stream.xls": cfb(stream, stream_loop=True, stream_size=0xFFFFFFF0),
        "xls-fat-loop-directory.xls": cfb(stream, dir_loop=True),
        "xls-fat-loop-ministream.xls": cfb(stream, mini_loop=True, root_size=0xFFFFFFF0),
        "xls-fat-loop-minifat-chain.xls": cfb(
            stream, minifat_chain_loop=True, csect_minifat=0x00800000
        ),
        "xls-minifat-loop.xls": cfb(small_stream, mini=True, mini_loop=True),
        "xls-difat-loop.xls": cfb(stream, difat_loop=True),
        "xls-sector-counts-2e32.xls": cfb(stream, huge_counts=True, stream_size=0xFFFFFFFF),
        "xls-boundsheets-2k.xls": many_boundsheets(2_000),
        "xls-nul-cells.xls": cfb(
            workbook_stream(cells + [label(2, 0, "NUL\0 BEL\x07 DEL\x7f"), label(3, 0, "\0" * 40)])
        ),
    }


def many_boundsheets(count, pad=0):
    """`count` BoundSheet records, all pointing at the globals' own start:
    every worksheet walk runs through every BoundSheet (quadratic), and
    through `pad` bytes of filler records before the globals' EOF."""
    filler = record(0x00E1, b"\0" * 8000) * (pad // 8004)
    out = bof(5) + b"".join(boundsheet(0, f"S{i}") for i in range(count)) + filler + record(0x000A)
    sectors = sectors_of(out)
    # FAT sectors needed: one entry per sector (data + FAT + directory).
    total = len(sectors) + 1
    fat_count = 1
    while fat_count * 128 < total + fat_count:
        fat_count += 1
    if fat_count > 109:
        raise SystemExit("too many FAT sectors for a header-only DIFAT")
    first = fat_count + 1  # FAT sectors 0.., directory, then data
    fat = [FREE] * (fat_count * 128)
    for i in range(fat_count):
        fat[i] = FATSECT
    fat[fat_count] = END
    for i in range(len(sectors)):
        fat[first + i] = first + i + 1 if i + 1 < len(sectors) else END
    directory = (
        dir_entry("Root Entry", 5, END, 0, child=1)
        + dir_entry("Workbook", 2, first, len(out))
        + dir_entry("", 0, 0, 0) * 2
    )
    header = bytearray(512)
    header[0:8] = MAGIC
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 0x28, 0, fat_count, fat_count, 0, 4096, END, 0, END, 0)
    difat = list(range(fat_count)) + [FREE] * (109 - fat_count)
    struct.pack_into("<109I", header, 0x4C, *difat)
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat)
    return bytes(header) + fat_bytes + directory + b"".join(sectors)


# ---------------------------------------------------------------------------
# Zips.


def read_zip(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def write_zip(entries, method=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2026, 12, 1, 0, 0, 0))
            info.compress_type = method
            z.writestr(info, data)
    return buf.getvalue()


def raw_deflate(data_chunks):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = b"".join(c.compress(d) for d in data_chunks)
    return out + c.flush()


def zip_by_hand(entries):
    """A zip from (name, raw_deflated, crc, declared_size, real_size) with
    the sizes written as given (they may lie)."""
    out = b""
    central = b""
    for name, packed, crc, declared in entries:
        n = name.encode()
        local = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x5A21, crc, len(packed), declared, len(n), 0
        )
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50, 20, 20, 0, 8, 0, 0x5A21, crc, len(packed), declared, len(n), 0, 0, 0, 0, 0, len(out),
        ) + n
        out += local + n + packed
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return out + central + end


def overlapping_zip(count, kernel_size):
    """The "better zip bomb" shape: `count` central-directory entries whose
    data is one shared deflate stream behind one local header (every entry
    inflates the same `kernel_size` bytes)."""
    packed = raw_deflate([b"\0" * kernel_size])
    crc = zlib.crc32(b"\0" * kernel_size)
    name = b"kernel.xlsx"
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x5A21, crc, len(packed), kernel_size, len(name), 0
    )
    body = local + name + packed
    central = b""
    for i in range(count):
        n = f"sheet{i:04}.xlsx".encode()
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50, 20, 20, 0, 8, 0, 0x5A21, crc, len(packed), kernel_size, len(n), 0, 0, 0, 0, 0, 0,
        ) + n
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), len(body), 0)
    return body + central + end


def crc_of_zeros(size):
    crc = 0
    chunk = b"\0" * (1 << 20)
    left = size
    while left:
        n = min(left, len(chunk))
        crc = zlib.crc32(chunk[:n], crc)
        left -= n
    return crc


def valid_xlsx_entries():
    return read_zip(ROOT / "samples/sheets/valid.xlsx")


def xlsx_with(replace):
    entries = [(n, replace.get(n, d)) for n, d in valid_xlsx_entries()]
    return write_zip(entries)


BILLION_LAUGHS = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE sst [\n<!ENTITY lol "lol">\n'
    + b"".join(
        b'<!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b']>\n<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>'
)


def zip_files(big):
    if big:
        return {}
    files = {}
    # Flat: one worksheet part of 60 MB of zeros, sizes declared honestly.
    size = 60 << 20
    packed = raw_deflate([b"\0" * (1 << 20)] * 60)
    crc = crc_of_zeros(size)
    entries = [
        (n, raw_deflate([d]), zlib.crc32(d), len(d))
        for n, d in valid_xlsx_entries()
        if n != "xl/worksheets/sheet1.xml"
    ]
    files["xlsx-bomb-flat.xlsx"] = zip_by_hand(entries + [("xl/worksheets/sheet1.xml", packed, crc, size)])
    # The same part declaring 1 KB: the size in the directory lies.
    files["xlsx-bomb-lying-size.xlsx"] = zip_by_hand(
        entries + [("xl/worksheets/sheet1.xml", packed, crc, 1024)]
    )
    files["xlsx-billion-laughs.xlsx"] = xlsx_with({"xl/sharedStrings.xml": BILLION_LAUGHS})
    # Entities in the workbook part too (calamine reads it first).
    wb = dict(valid_xlsx_entries())["xl/workbook.xml"]
    doctype = BILLION_LAUGHS.split(b"]>")[0].replace(b"DOCTYPE sst", b"DOCTYPE workbook") + b"]>\n"
    wb_body = wb.split(b"?>", 1)[1] if wb.startswith(b"<?xml") else wb
    files["xlsx-billion-laughs-workbook.xlsx"] = xlsx_with(
        {"xl/workbook.xml": b'<?xml version="1.0" encoding="UTF-8"?>\n' + doctype + wb_body.lstrip()}
    )
    files["zip-overlapping.zip"] = overlapping_zip(150, 10 << 20)
    files["xlsx-overlapping.xlsx"] = xlsx_overlapping()
    # Nested: a zip in a zip, ten levels; the innermost holds 5 MB of zeros.
    inner = write_zip([("sheet.xlsx", b"\0" * (5 << 20))])
    for level in range(10):
        inner = write_zip([(f"level{level}.zip", inner), (f"copy{level}.zip", inner)])
    files["zip-nested.zip"] = inner
    # NUL and other control characters in cells (Excel's _xHHHH_ escape;
    # raw ones are not XML), and invalid UTF-8 in cells.
    sst = dict(valid_xlsx_entries())["xl/sharedStrings.xml"]
    files["xlsx-nul-cells.xlsx"] = xlsx_with(
        {"xl/sharedStrings.xml": sst.replace(b"<t>", b"<t>NUL_x0000_ BEL_x0007_ ESC_x001B_", 5)}
    )
    files["xlsx-invalid-utf8-cells.xlsx"] = xlsx_with(
        {"xl/sharedStrings.xml": sst.replace(b"<t>", b"<t>\xff\xfe\xc3(\xed\xa0\x80", 3)}
    )
    return files


def xlsx_overlapping():
    """valid.xlsx whose central directory lists its worksheet part 100
    times more under other worksheet names, all on the same local data."""
    data = write_zip(valid_xlsx_entries())
    z = zipfile.ZipFile(io.BytesIO(data))
    sheet = z.getinfo("xl/worksheets/sheet1.xml")
    cd_start = struct.unpack_from("<I", data, len(data) - 22 + 16)[0]
    cd = data[cd_start : len(data) - 22]
    body = data[:cd_start]
    extra = b""
    at = 0
    while at < len(cd):
        nlen, xlen, clen = struct.unpack_from("<HHH", cd, at + 28)
        rec = cd[at : at + 46 + nlen + xlen + clen]
        if rec[46 : 46 + nlen] == b"xl/worksheets/sheet1.xml":
            for i in range(100):
                n = f"xl/worksheets/sheet{i + 2}.xml".encode()
                extra += rec[:28] + struct.pack("<H", len(n)) + rec[30:46] + n
        at += 46 + nlen + xlen + clen
    del sheet
    cd2 = cd + extra
    count = struct.unpack_from("<H", data, len(data) - 22 + 10)[0] + 100
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(cd2), len(body), 0)
    return body + cd2 + end


# ---------------------------------------------------------------------------
# OpenDocument.


def write_ods(entries):
    """A zip whose `mimetype` entry comes first and is stored, as ODF wants."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2026, 12, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


def ods_files(big):
    if big:
        return {}
    entries = read_zip(ROOT / "tests/fixtures/reader/example.ods")
    content = dict(entries)["content.xml"]

    def with_content(new):
        return write_ods([(n, new if n == "content.xml" else d) for n, d in entries])

    bomb = (
        b'<table:table-row table:number-rows-repeated="1048000"><table:table-cell '
        b'table:number-columns-repeated="1024" office:value-type="float" office:value="1"/>'
        b"</table:table-row>"
    )
    at = content.index(b"<table:table-row")
    laughs = BILLION_LAUGHS.split(b"]>")[0].replace(b"DOCTYPE sst", b"DOCTYPE office:document-content")
    body = content.split(b"?>", 1)[1] if content.startswith(b"<?xml") else content
    cell = content.index(b"<text:p>", at) + len(b"<text:p>")
    body_cell = body.index(b"<text:p>") + len(b"<text:p>")
    del cell
    # A value in A1 and one a million rows and 90 columns away: calamine
    # builds the dense grid in between (90 million cells).
    table_end = content.index(b"</table:table>")
    gap = (
        b'<table:table-row table:number-rows-repeated="1000000"><table:table-cell '
        b'table:number-columns-repeated="90"/></table:table-row><table:table-row>'
        b'<table:table-cell table:number-columns-repeated="89"/><table:table-cell '
        b'office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell>'
        b"</table:table-row>"
    )
    return {
        "ods-values-far-apart.ods": with_content(content[:table_end] + gap + content[table_end:]),
        "ods-repeat-bomb.ods": with_content(content[:at] + bomb + content[at:]),
        "ods-billion-laughs.ods": with_content(
            b'<?xml version="1.0" encoding="UTF-8"?>\n' + laughs + b"]>\n"
            + body[:body_cell].lstrip() + b"&lol9;" + body[body_cell:]
        ),
    }


# ---------------------------------------------------------------------------
# Truncated files of every format.


def truncated_files(big):
    if big:
        return {}
    xls = (ROOT / "tests/fixtures/reader/example.xls").read_bytes()
    ods = (ROOT / "tests/fixtures/reader/example.ods").read_bytes()
    xlsx = (ROOT / "samples/sheets/valid.xlsx").read_bytes()
    zipped = write_zip([("valid.xlsx", xlsx)])
    return {
        "truncated.xls": xls[: len(xls) // 2],
        "truncated-header.xls": xls[:300],
        "truncated.xlsx": xlsx[: len(xlsx) * 2 // 3],
        "truncated.ods": ods[: len(ods) // 2],
        "truncated.zip": zipped[: len(zipped) // 2],
    }


# ---------------------------------------------------------------------------
# Mail.

HEAD = (
    "From: 東京都 <sos@fukushi.metro.tokyo.lg.jp>\r\nTo: sos-busshi@mhlw.go.jp\r\n"
    "Date: Tue, 01 Dec 2026 09:00:00 +0900\r\nMIME-Version: 1.0\r\n"
)


def mail_with(name, data, message_id, subject="hostile"):
    b64 = base64.encodebytes(data).decode().replace("\n", "\r\n")
    return (
        HEAD
        + f"Subject: {subject}\r\nMessage-ID: <{message_id}@hostile.test>\r\n"
        + 'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
        + "--b0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsheet attached\r\n"
        + f'--b0\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="{name}"\r\n'
        + f"Content-Transfer-Encoding: base64\r\n\r\n{b64}--b0--\r\n"
    ).encode()


def deep_mail(depth):
    out = HEAD + f"Subject: deep\r\nMessage-ID: <deep-{depth}@hostile.test>\r\n"
    out += f'Content-Type: multipart/mixed; boundary="d0"\r\n\r\n'
    for i in range(1, depth):
        out += f'--d{i - 1}\r\nContent-Type: multipart/mixed; boundary="d{i}"\r\n\r\n'
    out += f"--d{depth - 1}\r\nContent-Type: text/plain\r\n\r\nbottom\r\n"
    for i in reversed(range(depth)):
        out += f"--d{i}--\r\n"
    return out.encode()


def many_parts_mail(count):
    out = [HEAD + f"Subject: parts\r\nMessage-ID: <parts-{count}@hostile.test>\r\n"]
    out.append('Content-Type: multipart/mixed; boundary="p"\r\n\r\n')
    for i in range(count):
        out.append(f'--p\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="f{i}.bin"\r\n\r\nx\r\n')
    out.append("--p--\r\n")
    return "".join(out).encode()


def long_header_mail(size):
    return (
        HEAD
        + "Message-ID: <long-header@hostile.test>\r\nSubject: "
        + "長" * (size // 3)
        + "\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
    ).encode()


def many_headers_mail(count):
    out = [HEAD, "Message-ID: <many-headers@hostile.test>\r\nSubject: headers\r\n"]
    out += [f"X-Filler-{i}: {i}\r\n" for i in range(count)]
    out.append("Content-Type: text/plain\r\n\r\nbody\r\n")
    return "".join(out).encode()


def nul_mail():
    xlsx = zip_files(False)["xlsx-nul-cells.xlsx"]
    b64 = base64.encodebytes(xlsx).replace(b"\n", b"\r\n")
    return (
        b"From: =?UTF-8?B?AA==?= \xff\xfe<sos\x00@fukushi.metro.tokyo.lg.jp>\r\n"
        b"To: sos-busshi@mhlw.go.jp\x00\xc3(\r\n"
        b"Subject: =?UTF-8?B?AA==?= NUL \x00 and \xff\xfe invalid\r\n"
        b"Date: Tue, 01 Dec 2026 09:00:00 +0900\x00\r\n"
        b"Message-ID: <nul\x00@hostile.test>\r\n"
        b"X-Nul\x00Name: \x00\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
        b"--b0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody \x00 \xff\r\n"
        b"--b0\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename=\"sh\x00eet\xff\xfe.xlsx\"; filename*=UTF-8''%00%FF.xlsx\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64 + b"--b0--\r\n"
    )


def mail_files(big):
    if big:
        return {
            "eml-100k-parts.eml": many_parts_mail(100_000),
            "eml-10mb-header-line.eml": long_header_mail(10 << 20),
            "eml-headers-20k.eml": many_headers_mail(20_000),
        }
    small = zip_files(False)
    full = mail_with("valid.xlsx", (ROOT / "samples/sheets/valid.xlsx").read_bytes(), "truncated")
    return {
        "eml-mime-depth-1000.eml": deep_mail(1000),
        "eml-nul-invalid-utf8.eml": nul_mail(),
        "eml-zip-nested.eml": mail_with("nested.zip", small["zip-nested.zip"], "zip-nested"),
        "eml-zip-overlapping.eml": mail_with("bomb.zip", small["zip-overlapping.zip"], "zip-overlap"),
        "eml-xls-fat-loop.eml": mail_with(
            "loop.xls", xls_files(False)["xls-fat-loop-directory.xls"], "xls-loop"
        ),
        "eml-truncated.eml": full[: len(full) // 2],
    }


# ---------------------------------------------------------------------------
# Outlook winmail.dat (TNEF, [MS-OXTNEF]). The format has no offsets, only
# lengths, so nothing can point back (no loops): the hostile shapes are
# lying lengths, huge counts and deep nesting of embedded Outlook items.

TNEF_SIGNATURE = struct.pack("<IH", 0x223E9F78, 0x0001)
IID_IMESSAGE = bytes.fromhex("0703020000000000c000000000000046")


def tnef_attr(level, att_id, data, length=None):
    n = len(data) if length is None else length
    return struct.pack("<BII", level, att_id, n) + data + struct.pack("<H", sum(data) & 0xFFFF)


def tnef_file(data):
    """attAttachRenddata then attAttachData: one attached file."""
    return (tnef_attr(2, 0x00069002, struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0, 0, 0))
            + tnef_attr(2, 0x0006800F, data))


def tnef_lying_length():
    """attAttachData declaring 4 GiB - 16 bytes, followed by 64 bytes."""
    return (TNEF_SIGNATURE + struct.pack("<BII", 2, 0x00069002, 0)
            + struct.pack("<H", 0) + struct.pack("<BII", 2, 0x0006800F, 0xFFFFFFF0)
            + b"\x00" * 64)


def tnef_many_files(count):
    """`count` one-byte files (the cap is [mail] max_zip_entries)."""
    return TNEF_SIGNATURE + tnef_file(b"x") * count


def tnef_huge_counts():
    """attAttachment whose property list claims 2^32-1 properties, the
    first a multi-valued binary of 2^32-1 values of 2^32-1 bytes each."""
    props = struct.pack("<IHHII", 0xFFFFFFFF, 0x1102, 0x3701, 0xFFFFFFFF, 0xFFFFFFFF) + b"\x00" * 32
    return (TNEF_SIGNATURE + tnef_attr(2, 0x00069002, b"\x01\x00" + b"\x00" * 12)
            + tnef_attr(2, 0x00069005, props))


def tnef_nested(depth):
    """An embedded Outlook item (PR_ATTACH_DATA_OBJ, IID_IMessage) holding
    another, `depth` levels down, the innermost holding one file."""
    inner = TNEF_SIGNATURE + tnef_file(b"bottom")
    for _ in range(depth):
        obj = IID_IMESSAGE + inner
        props = (struct.pack("<I", 1) + struct.pack("<HHII", 0x000D, 0x3701, 1, len(obj))
                 + obj + b"\x00" * (-len(obj) % 4))
        inner = (TNEF_SIGNATURE + tnef_attr(2, 0x00069002, b"\x01\x00" + b"\x00" * 12)
                 + tnef_attr(2, 0x00069005, props))
    return inner


def tnef_mail(name, data, message_id):
    b64 = base64.encodebytes(data).decode().replace("\n", "\r\n")
    return (
        HEAD
        + f"Subject: hostile winmail.dat\r\nMessage-ID: <{message_id}@hostile.test>\r\n"
        + 'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
        + "--b0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsheet attached\r\n"
        + f'--b0\r\nContent-Type: application/ms-tnef; name="{name}"\r\nContent-Disposition: attachment; filename="{name}"\r\n'
        + f"Content-Transfer-Encoding: base64\r\n\r\n{b64}--b0--\r\n"
    ).encode()


def tnef_files(big):
    if big:
        return {}
    return {
        "eml-tnef-lying-length.eml": tnef_mail("winmail.dat", tnef_lying_length(), "tnef-lying"),
        "eml-tnef-1k-files.eml": tnef_mail("winmail.dat", tnef_many_files(1_000), "tnef-many"),
        "eml-tnef-huge-counts.eml": tnef_mail("winmail.dat", tnef_huge_counts(), "tnef-counts"),
        "eml-tnef-nested-200.eml": tnef_mail("winmail.dat", tnef_nested(200), "tnef-nested"),
    }


def main(argv):
    big = "--big" in argv
    args = [a for a in argv if a != "--big"]
    if len(args) != 1:
        raise SystemExit(__doc__)
    out = Path(args[0])
    out.mkdir(parents=True, exist_ok=True)
    for make in (xls_files, zip_files, ods_files, truncated_files, mail_files, tnef_files):
        for name, data in make(big).items():
            (out / name).write_bytes(data)


if __name__ == "__main__":
    main(sys.argv[1:])
