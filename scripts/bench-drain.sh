#!/usr/bin/env bash
# A backlog drained as a new user would see it (issue 15): the release
# binary `sos-intake serve` over a Maildir of MESSAGES copies of valid
# submissions (80 % valid sheet, 10 % sheet with errors, 10 % no sheet, one
# registered Tokyo address), replies written as .eml files, the staff UI
# served by the same process over a queue already holding RECORDS requests,
# while a reviewer reloads the queue page without pause.
#
#   scripts/bench-drain.sh                        # SQLite, 10,000 messages
#   BACKEND=postgres scripts/bench-drain.sh       # a fresh database on $SOS_TEST_POSTGRES_URL
#   MESSAGES=2000 RECORDS=1000 scripts/bench-drain.sh
#   STRACE=1 scripts/bench-drain.sh               # also count fsync/fdatasync per message (slower)
#
# Prints: messages per second (to filed + reply written), peak RSS of the
# gateway and of its largest reader process, the queue page's latency
# (p50 / p95 / max) during the drain, and with STRACE=1 the fsyncs per
# message. Addresses only 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

MESSAGES=${MESSAGES:-10000}
RECORDS=${RECORDS:-100000}
PORT=${PORT:-18090}
BACKEND=${BACKEND:-sqlite}
TARGET=${CARGO_TARGET_DIR:-target}
# BIN: another build of the gateway to measure (e.g. a copy of an earlier
# commit's binary, to compare two builds in turn on the same machine).
BIN=${BIN:-$TARGET/release/sos-intake}

cargo build --release --bin sos-intake --example web_bench_server >/dev/null

work=${KEEP_WORK:-$(mktemp -d)}
cleanup() {
  [[ -n "${server:-}" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  [[ -n "${reviewer:-}" ]] && kill "$reviewer" 2>/dev/null || true
  # The gateway runs under time (and strace): stop what they run first.
  [[ -n "${gateway:-}" ]] && pkill -TERM -f "^$BIN --config $work/" 2>/dev/null && wait "$gateway" 2>/dev/null || true
  bench_drop_database
  [[ -n "${KEEP_WORK:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT
data="$work/data"
mkdir -p "$data/outbox"

bench_database sos_bench_drain

# 1. The queue as months of work leave it, and a reviewer's session.
bench_start_web_server "$data" "$RECORDS" "$PORT" "$work"
cookie=$(sed -n 's/^COOKIE //p' "$work/out")
kill "$server"; wait "$server" 2>/dev/null || true; server=

# 2. The backlog.
python3 - "$data/inbox" "$MESSAGES" <<'EOF'
import base64, os, sys
inbox, n = sys.argv[1], int(sys.argv[2])
for d in ("new", "cur", "tmp"):
    os.makedirs(os.path.join(inbox, d), exist_ok=True)
sheet = lambda name: base64.encodebytes(open(f"samples/sheets/{name}", "rb").read()).decode()
valid, error = sheet("valid.xlsx"), sheet("error-item-reason-economic.xlsx")
tokyo = "sos@fukushi.metro.tokyo.lg.jp"
for i in range(n):
    att = {3: error, 7: None}.get(i % 10, valid)
    m = (f"Return-Path: <{tokyo}>\r\nFrom: {tokyo}\r\nTo: sos-busshi@mhlw.go.jp\r\nSubject: drain {i}\r\n"
         f"Message-ID: <drain-{i}@tokyo>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
         f"--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n送付します {i}\r\n")
    if att:
        m += ("--b\r\nContent-Type: application/octet-stream\r\n"
              f"Content-Disposition: attachment; filename=\"sheet-{i}.xlsx\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{att}\r\n")
    m += "--b--\r\n"
    name = f"1700000000.M{i:06d}P1.bench"
    with open(os.path.join(inbox, "tmp", name), "w", newline="") as f:
        f.write(m)
    os.rename(os.path.join(inbox, "tmp", name), os.path.join(inbox, "new", name))
EOF
cat >"$work/sos-intake.toml" <<EOF
data_dir = "$data"
[prefectures]
"東京都" = ["sos@fukushi.metro.tokyo.lg.jp"]
[mail]
reply_rate_limit_per_hour = 100000000
poll_interval_ms = 50
[web]
enabled = true
listen = "127.0.0.1:$PORT"
EOF
sync

# 3. The drain, with the reviewer reloading the queue page.
wrap=(/usr/bin/time -v -o "$work/time")
if [[ "${STRACE:-}" == 1 ]]; then
  command -v strace >/dev/null || apt-get install -y strace >/dev/null
  wrap=(strace -f -c -e trace=fsync,fdatasync -o "$work/strace" "${wrap[@]}")
fi
started=$(date +%s.%N)
RUST_LOG=${RUST_LOG:-warn} "${wrap[@]}" "$BIN" --config "$work/sos-intake.toml" serve >"$work/serve.out" 2>&1 &
gateway=$!
: >"$work/latency"
# The reviewer: reloads the queue page, pausing REVIEW_PAUSE seconds
# between loads (0: without pause), until the drain ends.
(
  while :; do
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "Cookie: $cookie" "http://127.0.0.1:$PORT/queue" >>"$work/latency" || sleep 0.05
    [[ "${REVIEW_PAUSE:-0}" == 0 ]] || sleep "$REVIEW_PAUSE"
  done
) &
reviewer=$!
# The drain is over when new/ is empty and every reply is written. The
# check lists the two directories five times a second: listing 10,000
# files without pause would take a core from the gateway it measures.
while :; do
  left=$(ls -U "$data/inbox/new" | wc -l)
  sent=$(ls -U "$data/outbox" | grep -c '\.eml$' || true)
  if [[ $left -eq 0 && -z "${emptied:-}" ]]; then emptied=$(date +%s.%N); fi
  if [[ $left -eq 0 && $sent -ge $MESSAGES ]]; then break; fi
  kill -0 "$gateway" 2>/dev/null || { echo "serve stopped"; tail -20 "$work/serve.out"; exit 1; }
  sleep 0.2
done
kill "$reviewer" 2>/dev/null; wait "$reviewer" 2>/dev/null || true; reviewer=
finished=$(date +%s.%N)
pkill -TERM -f "^$BIN --config $work/" || true
wait "$gateway" 2>/dev/null || true
gateway=

awk -v b="$BACKEND" -v n="$MESSAGES" -v r="$RECORDS" -v s="$started" -v f="$finished" 'BEGIN {
  printf "drain/%s: %d messages (queue holding %d requests) filed and answered in %.1f s → %.0f messages/s\n", b, n, r, f - s, n / (f - s) }'
awk -v s="$started" -v e="$emptied" -v f="$finished" 'BEGIN {
  printf "  of which: every message filed (new/ empty) after %.1f s, the last reply written %.1f s later\n", e - s, f - e }'
sed -n 's/^\s*Maximum resident set size (kbytes): /peak RSS (largest process of the gateway, KiB): /p' "$work/time"
# CPU time of the gateway and its reader processes (reaped children count),
# start-up and shut-down included: steadier than the rate on a VM whose
# speed drifts, so two builds compare better by it.
awk -v n="$MESSAGES" -F': ' '/User time/ { u = $2 } /System time/ { s = $2 }
  END { printf "CPU (gateway + readers): user %.1f s, system %.1f s, %.0f µs a message\n", u, s, (u + s) * 1e6 / n }' "$work/time"
awk '$1 == 200 { print $2 }' "$work/latency" | sort -n | awk '
  { v[NR] = $1 }
  END {
    if (NR == 0) { print "queue page: no successful request during the drain"; exit 1 }
    printf "queue page during the drain: %d requests, p50 %.0f ms, p95 %.0f ms, max %.0f ms\n",
      NR, v[int(NR * 0.5) + (NR * 0.5 > int(NR * 0.5))] * 1000, v[int(NR * 0.95) + (NR * 0.95 > int(NR * 0.95))] * 1000, v[NR] * 1000
  }'
# Before the UI listens, curl reports 000; after its first answer, every
# request must be answered 200.
bad=$(awk '$1 == 200 { up = 1 } up && $1 != 200' "$work/latency" | wc -l)
[[ $bad -eq 0 ]] || echo "queue page: $bad requests did not answer 200 once the UI was up"
if [[ -f "$work/strace" ]]; then
  calls=$(awk '/fsync|fdatasync/ { s += $4 } END { print s + 0 }' "$work/strace")
  awk -v c="$calls" -v n="$MESSAGES" 'BEGIN { printf "fsync + fdatasync by the gateway: %d (%.2f per message)\n", c, c / n }'
fi
