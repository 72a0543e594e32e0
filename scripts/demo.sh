#!/usr/bin/env bash
# The gateway on its embedded defaults, fed with the sample inbox:
#   1. builds sos-intake;
#   2. makes a fresh data directory (./data; an existing one is moved aside
#      to ./data.old-<time>, never deleted);
#   3. copies samples/inbox/*.eml into the Maildir ./data/inbox/new/;
#   4. imports the sample G-MIS export (samples/gmis/, with its Salesforce
#      footer) with 申請日時 set to now, so the first queue page shows G-MIS
#      and sheet requests of the same batch side by side;
#   5. runs `sos-intake --config samples/sos-intake.toml serve` (SQLite,
#      replies written as .eml files to ./data/outbox, web UI on
#      http://127.0.0.1:8080);
#   6. prints what happened: each reply with its X-SOS-Status and subject,
#      and `sos-intake queue list`;
# then keeps serving until Ctrl-C, so the web UI can be opened.
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG=samples/sos-intake.toml
DATA=./data
BIN=${CARGO_TARGET_DIR:-target}/debug/sos-intake

echo "==> cargo build"
cargo build --quiet --bin sos-intake

if [ -e "$DATA" ]; then
    OLD="$DATA.old-$(date +%Y%m%d-%H%M%S)"
    echo "==> moving the previous $DATA to $OLD"
    mv "$DATA" "$OLD"
fi
mkdir -p "$DATA/inbox/new" "$DATA/inbox/cur" "$DATA/inbox/tmp"
cp samples/inbox/*.eml "$DATA/inbox/new/"
TOTAL=$(ls "$DATA/inbox/new" | wc -l)
echo "==> $TOTAL sample messages delivered to $DATA/inbox/new/"

DEMO_USER=demo
DEMO_PASSWORD=sos-demo-password
echo "==> web UI account: $DEMO_USER / $DEMO_PASSWORD (admin)"
echo "$DEMO_PASSWORD" | "$BIN" --config "$CONFIG" users add "$DEMO_USER" --role admin >/dev/null

# The sample export was made in November; its requests are moved to now
# (JST), the time the sample mails arrive, so both land in one batch.
NOW_JST=$(TZ=Asia/Tokyo date +'%Y/%m/%d %H:%M')
sed -E "s#20[0-9]{2}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}#$NOW_JST#" \
    samples/gmis/gmis-sos-export-salesforce.csv > "$DATA/gmis-sos-export.csv"
echo "==> sos-intake gmis import (the sample G-MIS export, 申請日時 $NOW_JST)"
"$BIN" --config "$CONFIG" gmis import "$DATA/gmis-sos-export.csv" --actor "$DEMO_USER" > "$DATA/gmis-import.log"
head -1 "$DATA/gmis-import.log"

echo "==> sos-intake --config $CONFIG serve"
"$BIN" --config "$CONFIG" serve 2> "$DATA/serve.log" &
PID=$!
stop() {
    if kill -0 "$PID" 2>/dev/null; then
        kill -INT "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
}
trap stop EXIT
trap 'echo; echo "==> stopping"; exit 0' INT TERM

# Wait until the inbox is drained, then give the sender a moment.
for _ in $(seq 1 240); do
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "sos-intake stopped unexpectedly; see $DATA/serve.log:" >&2
        tail -20 "$DATA/serve.log" >&2
        exit 1
    fi
    [ -z "$(ls "$DATA/inbox/new")" ] && break
    sleep 0.5
done
sleep 2

echo
echo "==> replies written to $DATA/outbox/ (one per answered message)"
if command -v python3 >/dev/null; then
    python3 - "$DATA/outbox" <<'PY'
import email, pathlib, sys
from email import policy
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.eml")):
    m = email.message_from_bytes(f.read_bytes(), policy=policy.default)
    print(f"{f}  [{m['X-SOS-Status']}]  To: {m['To']}")
    print(f"    {m['Subject']}")
PY
else
    for f in "$DATA"/outbox/*.eml; do
        echo "$f  [$(grep -m1 '^X-SOS-Status:' "$f" | cut -d' ' -f2)]"
    done
fi
echo
echo "==> sos-intake queue list"
"$BIN" --config "$CONFIG" queue list || true
echo
echo "Not answered (logged and kept): $(grep -c 'not answered' "$DATA/serve.log" || true) message(s); see $DATA/serve.log."
echo "Raw mail is kept in $DATA/inbox/cur/ (flag S) and in the database."
echo
echo "Web UI: http://127.0.0.1:8080  (log in as $DEMO_USER / $DEMO_PASSWORD; Ctrl-C to stop)"
wait "$PID"
