"""Real test servers on 127.0.0.1: Dovecot (IMAP) and Radicale (CalDAV/CardDAV).

Each runs as a child process with a throw-away config and storage, on a free port, in the
foreground, and is stopped by its own process id.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = {ssl}
{ssl_files}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
default_internal_user = {run_user}
default_internal_group = {run_group}
default_login_user = {login_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service auth {{
  chroot =
}}
service anvil {{
  chroot =
}}
"""


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Block until something accepts on ``port`` or the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port} within {timeout}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate one child process we started (never by name)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _existing_user(*names: str) -> str:
    for name in names:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError(f"none of the users {names} exists")


@dataclass(slots=True)
class Dovecot:
    """A running Dovecot: port, test login, and the Maildir of that user on disk."""

    port: int
    username: str
    password: str
    maildir: Path
    root: Path
    mail_uid: int
    mail_gid: int
    imaps_port: int = 0
    cert: Path | None = None

    def chown_tree(self) -> None:
        """Give files written by the test to the mail user (when running as root)."""
        if os.geteuid() != 0:
            return
        for path in [self.maildir, *self.maildir.rglob("*")]:
            os.chown(path, self.mail_uid, self.mail_gid)


def _self_signed(root: Path) -> str:
    """A throwaway certificate for 127.0.0.1; returns Dovecot's ssl_cert/ssl_key lines."""
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return f"ssl_cert = <{cert}\nssl_key = <{key}"


@contextmanager
def run_dovecot(seed: list[Path], *, tls: bool = False) -> Iterator[Dovecot]:
    """Start Dovecot with one user whose INBOX Maildir holds copies of ``seed``.

    With ``tls`` it also listens for implicit TLS on ``Dovecot.imaps_port`` and offers
    STARTTLS on the plain port, with a self-signed certificate (``Dovecot.cert``)."""
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(binary).exists():
        raise FileNotFoundError("dovecot is not installed: run scripts/install-test-servers.sh")
    # Not under pytest's tmp_path: that is 0700 root-owned, and Dovecot's mail processes run
    # as an unprivileged user when we are root (Dovecot refuses mail access as UID 0).
    root = Path(tempfile.mkdtemp(prefix="mailmind-dovecot-"))
    root.chmod(0o755)
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        mail_uid, mail_gid = nobody.pw_uid, nobody.pw_gid
        # Login and internal processes must not be root either: use the package's users.
        login_user = _existing_user("dovenull", "nobody")
        run_user = _existing_user("dovecot", "nobody")
        run_group = pwd.getpwnam(run_user).pw_gid
    else:
        mail_uid, mail_gid = os.getuid(), os.getgid()
        run_user = login_user = pwd.getpwuid(mail_uid).pw_name
        run_group = mail_gid
    port = free_port()
    imaps_port = free_port() if tls else 0
    ssl_files = _self_signed(root) if tls else ""
    username, password = "tester", "secret-pass"
    maildir = root / "mail" / username
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for i, src in enumerate(seed):
        # Maildir file names: unique part, then ":2," info (no flags).
        shutil.copyfile(src, maildir / "cur" / f"{1700000000 + i}.M{i}P1.test:2,")
    (root / "home" / username).mkdir(parents=True)
    (root / "users").write_text(f"{username}:{{PLAIN}}{password}\n")
    conf = root / "dovecot.conf"
    conf.write_text(
        DOVECOT_CONF.format(
            root=root,
            port=port,
            run_user=run_user,
            run_group=grp.getgrgid(run_group).gr_name,
            login_user=login_user,
            mail_uid=mail_uid,
            mail_gid=mail_gid,
            ssl="yes" if tls else "no",
            ssl_files=ssl_files,
            imaps_port=imaps_port,
        )
    )
    server = Dovecot(
        port, username, password, maildir, root, mail_uid, mail_gid, imaps_port,
        root / "cert.pem" if tls else None,
    )  # fmt: skip
    server.chown_tree()
    if os.geteuid() == 0:
        os.chown(root / "home" / username, mail_uid, mail_gid)
    proc = subprocess.Popen(
        [binary, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        try:
            wait_for_port(port, proc)
            if imaps_port:
                wait_for_port(imaps_port, proc)
        except RuntimeError as exc:
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            out = proc.stdout.read().decode() if proc.stdout and proc.poll() is not None else ""
            raise RuntimeError(f"{exc}\n{out}\n{log}") from exc
        yield server
    finally:
        stop(proc)
        shutil.rmtree(root, ignore_errors=True)


@dataclass(slots=True)
class Radicale:
    """A running Radicale with ``auth = none`` (any user name is accepted)."""

    url: str
    storage: Path


@contextmanager
def run_radicale(storage: Path) -> Iterator[Radicale]:
    """Start Radicale on a free port, storing collections under ``storage``."""
    port = free_port()
    config = storage / "radicale.conf"
    storage.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "[server]\n"
        f"hosts = 127.0.0.1:{port}\n"
        "[auth]\ntype = none\ndelay = 0\n"
        "[storage]\n"
        f"filesystem_folder = {storage / 'collections'}\n"
        "[logging]\nlevel = warning\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        try:
            wait_for_port(port, proc)
        except RuntimeError as exc:
            err = proc.stderr.read().decode() if proc.stderr and proc.poll() is not None else ""
            raise RuntimeError(f"{exc}\n{err}") from exc
        yield Radicale(f"http://127.0.0.1:{port}/", storage)
    finally:
        stop(proc)
