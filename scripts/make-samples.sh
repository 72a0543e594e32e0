#!/bin/sh
# Regenerates samples/sheets/: the sheets (examples/make_samples.rs), the
# encrypted workbook (python msoffcrypto-tool), and the copies re-saved by
# LibreOffice as .xlsx, .xls and .ods. Needs soffice and
# `pip install msoffcrypto-tool`. Then review the goldens:
#   UPDATE_GOLDEN=1 cargo test --test samples_golden && git diff samples/
set -eu
cd "$(dirname "$0")/.."
DIR=samples/sheets
cargo run --quiet --example make_samples -- "$DIR"

# A password-protected workbook (password: sos2026), as "PPAP" senders do.
python3 - "$DIR/valid.xlsx" "$DIR/bad/encrypted.xlsx" <<'PY'
import sys, msoffcrypto
with open(sys.argv[1], "rb") as src, open(sys.argv[2], "wb") as dst:
    f = msoffcrypto.OfficeFile(src)
    f.encrypt("sos2026", dst)
PY

# LibreOffice copies of every sheet sample (not the bad files).
PROFILE=$(mktemp -d /tmp/lo-profile.XXXXXX)
trap 'rm -rf "$PROFILE"' EXIT
for fmt in xlsx xls ods; do
    rm -rf "$DIR/lo-$fmt"
    mkdir -p "$DIR/lo-$fmt"
    soffice -env:UserInstallation=file://"$PROFILE" --headless --convert-to "$fmt" \
        --outdir "$DIR/lo-$fmt" "$DIR"/*.xlsx >/dev/null
done
# Macro-enabled copies (.xlsm; macros are never run) of two sheets.
rm -rf "$DIR/lo-xlsm"
mkdir -p "$DIR/lo-xlsm"
soffice -env:UserInstallation=file://"$PROFILE" --headless \
    --convert-to 'xlsm:Calc MS Excel 2007 VBA XML' --outdir "$DIR/lo-xlsm" \
    "$DIR/valid.xlsx" "$DIR/error-prefecture-total-mismatch.xlsx" >/dev/null
echo "samples written to $DIR"
