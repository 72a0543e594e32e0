#!/usr/bin/env bash
# Makes sure a PostgreSQL that trusts local TCP connections answers, and
# prints its URL on stdout. Uses the machine's server on 127.0.0.1:5432 when
# it answers (starting the packaged cluster if it is merely stopped); else
# creates a throwaway cluster under /tmp on port 55432.
set -euo pipefail

try_url() { psql "$1" -Atqc 'select 1' >/dev/null 2>&1; }

for user in postgres root; do
  url="postgres://$user@127.0.0.1:5432/postgres"
  if try_url "$url"; then echo "$url"; exit 0; fi
done

if ls /etc/postgresql/*/main >/dev/null 2>&1; then
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
  for i in $(seq 1 30); do
    for user in postgres root; do
      url="postgres://$user@127.0.0.1:5432/postgres"
      if try_url "$url"; then echo "$url"; exit 0; fi
    done
    sleep 0.5
  done
fi

# Fall back to a private cluster with trust authentication.
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=/tmp/sos-intake-pg
port=55432
url="postgres://postgres@127.0.0.1:$port/postgres"
if try_url "$url"; then echo "$url"; exit 0; fi
run() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ ! -f "$dir/PG_VERSION" ]; then
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  run "$bin/initdb" -D "$dir" -U postgres -A trust >/dev/null
fi
run "$bin/pg_ctl" -D "$dir" -o "-p $port -k /tmp -c listen_addresses=127.0.0.1" -l "$dir/log" -w start >/dev/null
try_url "$url" || { echo "start-postgres: cannot reach $url" >&2; exit 1; }
echo "$url"
