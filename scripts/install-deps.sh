#!/usr/bin/env bash
# Installs what the test suite needs when it is missing: the real mail servers
# (Dovecot, Postfix), PostgreSQL, headless Chromium, LibreOffice (sample
# conversion checks), Python openpyxl (benchmark comparison) and tnefparse
# (the winmail.dat reference test). Idempotent:
# a machine that has everything installs nothing.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }
have /usr/sbin/dovecot || need+=(dovecot-imapd dovecot-lmtpd)
have /usr/lib/postfix/sbin/master || need+=(postfix)
have openssl || need+=(openssl)
have /usr/lib/postgresql || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
have chromium || need+=(chromium)
have chromedriver || need+=(chromium-driver)
fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || need+=(fonts-noto-cjk)
have soffice || need+=(libreoffice-calc-nogui)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing ${need[*]} and not root; install them first" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # A parallel apt run can delete a downloaded .deb: retry once.
  for attempt in 1 2; do
    if apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}"; then
      break
    fi
    [ "$attempt" = 2 ] && exit 1
    sleep 2
  done
fi

# Only the benchmark comparison (scripts/bench-sheet.sh) needs openpyxl: a
# failure here does not stop the tests.
if ! python3 -c 'import openpyxl' >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check openpyxl==3.1.5 \
    || echo "install-deps: openpyxl not installed (only the benchmark needs it)" >&2
fi

# tests/tnef_reference.rs compares our winmail.dat reader with Python's
# tnefparse: the test fails without it, so a failed install stops here.
if ! python3 -c 'import tnefparse' >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check tnefparse==1.4.0
fi
