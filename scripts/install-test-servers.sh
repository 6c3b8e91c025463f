#!/usr/bin/env bash
# Install the real servers used by tests marked `server` (idempotent).
#   - Dovecot IMAP (Debian package dovecot-imapd); the test fixture runs it with its own
#     temporary config, so the system service is neither configured nor started.
#   - Radicale (CalDAV/CardDAV) comes from PyPI with the `dev` extra; nothing to do here.
set -euo pipefail

if command -v dovecot >/dev/null 2>&1; then
    echo "dovecot already installed: $(dovecot --version)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d may refuse to start the service inside containers; that is fine for tests.
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends dovecot-imapd
# The package enables a system service; tests never use it.
$SUDO systemctl disable --now dovecot >/dev/null 2>&1 || true
echo "installed: $(dovecot --version)"
