#!/usr/bin/env bash
# Install the real servers and programs the tests drive, from Debian packages (idempotent).
#   - Dovecot IMAP (dovecot-imapd); the test fixture runs it with its own temporary config,
#     so the system service is neither configured nor started.
#   - Chromium, driven by Playwright for Python in the web-client tests (Playwright's own
#     browser download is not reachable here, so the tests launch the system executable).
#   - tmux, which runs the REPL in a real terminal in its end-to-end test.
#   - Redis (redis-server), the event bus of the worker tests; the fixture runs its own server
#     in a temporary folder on a free port, so the system service is neither used nor started.
#   - PostgreSQL (postgresql): the store tests run on a throwaway cluster their fixture
#     initialises with initdb; the system cluster the package creates is never used.
#   - Radicale (CalDAV/CardDAV) and aiosmtpd (SMTP) come from PyPI with the `dev` extra.
set -euo pipefail

# command -> Debian package that provides it
declare -A WANTED=(
    [dovecot]=dovecot-imapd
    [chromium]=chromium
    [tmux]=tmux
    [redis-server]=redis-server
    [initdb]=postgresql
)

# Debian keeps initdb under /usr/lib/postgresql/<major>/bin, off PATH.
initdb_path() {
    command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1
}

have() {
    if [ "$1" = initdb ]; then
        [ -n "$(initdb_path)" ]
    else
        command -v "$1" >/dev/null 2>&1
    fi
}

missing=()
for cmd in "${!WANTED[@]}"; do
    if ! have "$cmd"; then
        missing+=("${WANTED[$cmd]}")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "test servers present: $(dovecot --version | cut -d' ' -f1) dovecot," \
        "$(chromium --version 2>/dev/null | tr -s ' ' | cut -d' ' -f1-2), $(tmux -V)," \
        "$(redis-server --version | cut -d' ' -f1-3)," \
        "PostgreSQL $("$(initdb_path)" --version | awk '{print $3}')"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d may refuse to start services inside containers; that is fine for tests.
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# The dovecot package enables a system service; tests never use it.
$SUDO systemctl disable --now dovecot >/dev/null 2>&1 || true
$SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
# Neither is the postgresql package's own cluster service.
$SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
echo "installed: ${missing[*]}"
