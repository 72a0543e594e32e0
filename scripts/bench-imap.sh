#!/usr/bin/env bash
# IMAP latency as a prefecture sees it (issue 15): `sos-intake serve`
# watches the test harness's Dovecot (IDLE) and answers through its Postfix,
# both started on 127.0.0.1 by tests/common/maillab.rs; MESSAGES sheet mails
# are appended over IMAP one at a time, and each is timed from just before
# its APPEND to the moment Postfix accepted the reply (the outbox row's
# sent_at, written after the relay's 250).
#
#   scripts/bench-imap.sh                       # SQLite, 50 messages
#   MESSAGES=200 scripts/bench-imap.sh
#   BACKEND=postgres scripts/bench-imap.sh      # a fresh database on $SOS_TEST_POSTGRES_URL
#   BIN=debug scripts/bench-imap.sh             # force the debug binary
#   MODE=backlog MESSAGES=500 scripts/bench-imap.sh             # a backlog appended while down
#   MODE=backlog MESSAGES=500 BATCH=1 scripts/bench-imap.sh     # the same one message at a time
#
# Uses the release binary when it exists ($CARGO_TARGET_DIR/release/sos-intake;
# `cargo build --release` first to measure this commit), else the debug one,
# and says which. Prints p50, p95
# and max, and the part up to the filing commit. Needs root (Postfix), as
# the tests do. Stops by itself (at most TIMEOUT seconds, default 900).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

MODE=${MODE:-latency}
case "$MODE" in
  latency) test=imap_append_to_reply_accepted_latency; MESSAGES=${MESSAGES:-50} ;;
  backlog) test=imap_backlog_to_replies_accepted; MESSAGES=${MESSAGES:-500} ;;
  *) echo "MODE is latency or backlog"; exit 2 ;;
esac
BATCH=${BATCH:-32}
BACKEND=${BACKEND:-sqlite}
TIMEOUT=${TIMEOUT:-900}
TARGET=${CARGO_TARGET_DIR:-target}

# The harness (Dovecot, Postfix, the timing client) is the debug test
# build; building it also builds the debug binary (with the test build's
# features, so no second build of the dependencies).
echo "building the harness (debug)…"
cargo test --test imap_bench --no-run >/dev/null 2>&1 || cargo test --test imap_bench --no-run
if [[ "${BIN:-}" != debug && -x "$TARGET/release/sos-intake" ]]; then
  bin="$TARGET/release/sos-intake"
  echo "binary: release ($bin, built $(date -r "$bin" -u +%Y-%m-%dT%H:%MZ))"
else
  bin="$TARGET/debug/sos-intake"
  echo "binary: debug ($bin) — a release build answers faster; figures from it are upper bounds"
fi

[[ "$bin" == /* ]] || bin="$PWD/$bin"

log=$(mktemp)
trap 'bench_drop_database; rm -f "$log"' EXIT
bench_database sos_bench_imap

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
set +e
SOS_BENCH_BIN="$bin" SOS_BENCH_MESSAGES="$MESSAGES" SOS_BENCH_BATCH="$BATCH" \
  timeout --kill-after=30 "$TIMEOUT" \
  cargo test --test imap_bench -- --ignored --exact "$test" --nocapture >"$log" 2>&1
rc=$?
set -e
grep -E '^(IMAP|  of which|RESULT)' "$log" || true
echo "machine: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
if [[ $rc -ne 0 ]]; then
  tail -n 40 "$log"
  echo "bench-imap: failed (exit $rc)"
  exit "$rc"
fi
