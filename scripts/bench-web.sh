#!/usr/bin/env bash
# Load benchmark of the web UI's queue page over 100,000 requests
# (issue 6). Builds the release example `web_bench_server`, fills a fresh
# database, signs a reviewer in, and measures with `hey` on 127.0.0.1 only.
#
#   scripts/bench-web.sh                 # SQLite in a temporary directory
#   BACKEND=postgres scripts/bench-web.sh  # a fresh database on $SOS_TEST_POSTGRES_URL
#   REQUESTS=2000 CONCURRENCY=4 scripts/bench-web.sh
#
# Prints hey's summaries (median = 50%, p95 = 95% in the latency distribution).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

REQUESTS=${REQUESTS:-2000}
CONCURRENCY=${CONCURRENCY:-4}
RECORDS=${RECORDS:-100000}
PORT=${PORT:-18080}
BACKEND=${BACKEND:-sqlite}

command -v hey >/dev/null || { echo "installing hey"; apt-get install -y hey >/dev/null; }
cargo build --release --example web_bench_server >/dev/null

work=$(mktemp -d)
cleanup() {
  [[ -n "${server:-}" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  bench_drop_database
  rm -rf "$work"
}
trap cleanup EXIT

bench_database sos_bench_web
bench_start_web_server "$work" "$RECORDS" "$PORT" "$work"
cat "$work/err"
cookie=$(sed -n 's/^COOKIE //p' "$work/out")
request=$(sed -n 's/^REQUEST //p' "$work/out")
base=$(sed -n 's/^READY //p' "$work/out")
case "$base" in http://127.0.0.1:*) ;; *) echo "refusing non-loopback target $base"; exit 1 ;; esac

run() {
  local name=$1 path=$2
  echo
  echo "== $name: GET $path ($REQUESTS requests, $CONCURRENCY concurrent, $BACKEND, $RECORDS records)"
  curl -s -o /dev/null -w "status %{http_code}, %{size_download} bytes\n" -H "Cookie: $cookie" "$base$path"
  hey -n "$REQUESTS" -c "$CONCURRENCY" -H "Cookie: $cookie" "$base$path" \
    | sed -n '/Summary:/,/Requests\/sec/p;/Latency distribution:/,/99%/p;/Status code distribution:/,/^$/p'
}

run "queue page, today's batch (default)" "/queue"
run "queue page, filtered (prefecture + status)" "/queue?prefecture=%E6%9D%B1%E4%BA%AC%E9%83%BD&status=%E9%83%BD%E9%81%93%E5%BA%9C%E7%9C%8C%E3%83%BB%E5%9B%BD%E7%A2%BA%E8%AA%8D%E4%B8%AD"
run "queue page, search by name within the day" "/queue?q=%E3%83%99%E3%83%B3%E3%83%81%E7%97%85%E9%99%A2123"
run "queue page, all dates, page 20" "/queue?date=all&page=20"
run "request page" "/requests/$request"
