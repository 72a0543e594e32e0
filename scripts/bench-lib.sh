# Shared by scripts/bench-web.sh and scripts/bench-drain.sh (sourced, not run).

# Chooses the database for BACKEND: a fresh PostgreSQL database on
# $SOS_TEST_POSTGRES_URL named after $1 (dropped by bench_drop_database), or
# SQLite in the data directory.
bench_database() {
  if [[ "$BACKEND" == postgres ]]; then
    admin_url=${SOS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
    pgdb="$1_$$"
    psql "$admin_url" -qc "CREATE DATABASE $pgdb" >/dev/null
    export SOS_INTAKE_DATABASE_URL="${admin_url%/*}/$pgdb"
  else
    unset SOS_INTAKE_DATABASE_URL
  fi
}

# Drops the database bench_database made, if any.
bench_drop_database() {
  if [[ -n "${pgdb:-}" ]]; then psql "$admin_url" -qc "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null || true; fi
}

# Starts web_bench_server over data directory $1 with $2 records on port $3,
# writing to $4/out and $4/err, and waits for its READY line; sets $server.
bench_start_web_server() {
  "${CARGO_TARGET_DIR:-target}"/release/examples/web_bench_server --data-dir "$1" --records "$2" --port "$3" >"$4/out" 2>"$4/err" &
  server=$!
  for _ in $(seq 1 600); do
    grep -q '^READY' "$4/out" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$4/err"; exit 1; }
    sleep 0.5
  done
  grep -q '^READY' "$4/out" || { echo "web_bench_server did not start"; cat "$4/err"; exit 1; }
}
