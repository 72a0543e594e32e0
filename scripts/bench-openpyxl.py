#!/usr/bin/env python3
"""The sheet benchmark's Python side: the same work as `read_workbook` +
`check` for one 緊急配布要請シート, done with openpyxl (pip install openpyxl).

Loads the workbook from bytes (cached values, as our reader uses), finds the
blocks and labels by their text on every worksheet, reads the value right of
each label and the five item rows of each table, normalises the text (NFKC,
digits, `1,000枚`) and runs a representative subset of the validation rules
(code digits + Luhn, postcode, phone, request words, quantities, totals).
Prints the mean wall-clock and CPU time per sheet in microseconds on the
last line (`WALL CPU`).

usage: bench-openpyxl.py FILE.xlsx [ITERATIONS]
"""
import io
import re
import sys
import time
import unicodedata

import openpyxl

LABELS = ["医療機関名", "医療機関コード", "郵便番号", "都道府県", "医療機関住所", "連絡先電話番号", "医療機関担当者名"]
ITEMS = ["手袋", "n95", "サージカル", "フェイスシールド", "ガウン"]


def fold(text):
    text = unicodedata.normalize("NFKC", str(text)).replace("\u301c", "~")
    return re.sub(r"[\s()\[\]【】「」・※:*、。]", "", text).lower()


def quantity(text):
    t = unicodedata.normalize("NFKC", str(text)).strip().replace(",", "")
    t = re.sub(r"(枚|個|双)$", "", t)
    return int(t) if re.fullmatch(r"\d+", t) else None


def luhn_ok(code):
    digits = [int(c) for c in code]
    total = 0
    for i, d in enumerate(reversed(digits[:9])):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10 == digits[9]


def read_and_check(data):
    wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    findings = []
    for ws in wb.worksheets:
        cells = {}
        for row in ws.iter_rows():
            for c in row:
                if c.value is not None and str(c.value).strip():
                    cells[(c.row, c.column)] = c.value
        labels = {fold(v): pos for pos, v in cells.items() if isinstance(v, str)}
        if "医療機関記入欄" not in labels:
            continue
        fields = {}
        for label in LABELS:
            pos = labels.get(fold(label))
            if pos is None:
                findings.append(("sheet.label.missing", label))
                continue
            right = sorted((c, v) for (r, c), v in cells.items() if r == pos[0] and c > pos[1])
            fields[label] = str(right[0][1]) if right else ""
        code = re.sub(r"\D", "", unicodedata.normalize("NFKC", fields.get("医療機関コード", "")))
        if len(code) == 9:
            code = "0" + code
        if len(code) != 10:
            findings.append(("institution.code.format", code))
        elif not luhn_ok(code):
            findings.append(("institution.code.check_digit", code))
        postcode = unicodedata.normalize("NFKC", fields.get("郵便番号", ""))
        if not re.fullmatch(r"\d{3}-?\d{4}", postcode):
            findings.append(("institution.postcode.format", postcode))
        phone = re.sub(r"\D", "", unicodedata.normalize("NFKC", fields.get("連絡先電話番号", "")))
        if len(phone) not in (10, 11):
            findings.append(("institution.phone.format", phone))
        headers = sorted(pos for pos, v in cells.items() if isinstance(v, str) and fold(v) == "配布物品一覧")
        for table, (hr, hc) in enumerate(headers):
            for r in range(hr + 1, hr + 6):
                label = fold(cells.get((r, hc), ""))
                if not any(word in label for word in ITEMS):
                    findings.append(("sheet.item_row.missing", r))
                    continue
                values = [cells.get((r, hc + k), "") for k in range(1, 7)]
                if table == 0 and fold(values[0]) == "要請する":
                    for k in (1, 3, 4):
                        if quantity(values[k]) is None:
                            findings.append(("item.quantity.invalid", (r, k)))
                if table == 1 and fold(values[0]) == "要":
                    q = [quantity(v) if str(v).strip() else 0 for v in values[2:5]]
                    if None not in q and q[0] + q[1] != q[2]:
                        findings.append(("prefecture.total.mismatch", r))
    return findings


def main():
    path = sys.argv[1]
    iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    data = open(path, "rb").read()
    findings = read_and_check(data)
    if findings:
        print(f"findings: {findings}", file=sys.stderr)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(iterations):
        read_and_check(data)
    wall = (time.perf_counter() - start) / iterations
    cpu = (time.process_time() - cpu_start) / iterations
    print(f"openpyxl {openpyxl.__version__}: {iterations} iterations")
    print(f"{wall * 1e6:.1f} {cpu * 1e6:.1f}")


if __name__ == "__main__":
    main()
