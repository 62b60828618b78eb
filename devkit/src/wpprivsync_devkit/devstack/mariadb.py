"""A private MariaDB server for one development stack: own data directory, socket and port,
nothing shared with a system-wide server (none needs to run)."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket as _socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from . import processes
from .processes import StackError

# Unix socket paths longer than this do not fit in sockaddr_un.
_MAX_SOCKET_PATH = 100

# Options that shape the files mariadb-install-db writes; the server gets them too.
_INSTALL_OPTIONS = ("--innodb-log-file-size=16M",)

# Test data, not precious: commit to the OS cache only, no doublewrite buffer, a small redo log.
_SERVER_OPTIONS = (
    *_INSTALL_OPTIONS,
    "--skip-log-bin",
    "--skip-name-resolve",
    "--innodb-flush-log-at-trx-commit=2",
    "--innodb-doublewrite=0",
    "--innodb-buffer-pool-size=128M",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci",
    "--max-connections=200",
)


@dataclass(frozen=True)
class Connection:
    host: str
    port: int
    socket: Path
    user: str = "root"
    password: str = ""


class MariaDB:
    """``root`` holds ``data/`` and ``mariadb.log``; the socket lives there too unless the path
    would be too long for a Unix socket, then in a short directory under the system temp dir."""

    def __init__(self, root: Path, *, port: int, socket_path: Path | None = None,
                 template_cache: Path | None = None):
        self.root = Path(root)
        # where an initialised data directory is kept for copying (None: always install)
        self.template_cache = Path(template_cache) if template_cache is not None else None
        self.datadir = self.root / "data"
        self.log = self.root / "mariadb.log"
        # its own temporary directory: nothing else can remove its temporary tables
        self.tmpdir = self.root / "tmp"
        self.port = port
        self._own_socket_dir: Path | None = None
        if socket_path is None:
            socket_path = self.root / "mysqld.sock"
            if len(str(socket_path)) > _MAX_SOCKET_PATH:
                self._own_socket_dir = Path(tempfile.mkdtemp(prefix="wpps-db-"))
                socket_path = self._own_socket_dir / "mysqld.sock"
        self.socket = Path(socket_path)
        self._proc: subprocess.Popen | None = None
        self.pid: int | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def initialize(self) -> None:
        """Create the system tables in ``data/`` unless that was done already: a copy of the
        cached template when there is a cache (about 0.1 s), else mariadb-install-db (0.6 s
        on an idle machine, several seconds on a busy one)."""
        if (self.datadir / "mysql").is_dir():
            return
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        if self.template_cache is None:
            self._install_db(self.datadir)
            return
        template = self.template_cache / f"mariadb-datadir-{_server_fingerprint()}"
        if not (template / "mysql").is_dir():
            try:
                self.template_cache.mkdir(parents=True, exist_ok=True)
                building = Path(tempfile.mkdtemp(prefix=template.name + ".building-", dir=self.template_cache))
            except OSError:  # no usable cache directory: install in place
                self._install_db(self.datadir)
                return
            try:
                self._install_db(building / "data")
                try:
                    (building / "data").rename(template)  # atomic: a concurrent builder may win
                except OSError:
                    pass
            finally:
                shutil.rmtree(building, ignore_errors=True)
        done = subprocess.run(["cp", "-a", str(template), str(self.datadir)], capture_output=True, text=True)
        if done.returncode != 0:
            raise StackError(f"cannot copy the MariaDB template: {done.stderr.strip()}")

    def _install_db(self, datadir: Path) -> None:
        argv = [_tool("mariadb-install-db"), "--no-defaults", f"--datadir={datadir}", "--user=root",
                "--auth-root-authentication-method=normal", "--skip-test-db", f"--tmpdir={self.tmpdir}",
                *_INSTALL_OPTIONS]
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise StackError("mariadb-install-db failed:\n" + _tail(done.stdout + done.stderr))

    def start(self, *, timeout: float = 30.0) -> None:
        if self.running:
            return
        self.initialize()
        self.socket.unlink(missing_ok=True)
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        argv = [_tool("mariadbd"), "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}",
                f"--port={self.port}", "--bind-address=127.0.0.1", "--user=root",
                f"--pid-file={self.root / 'mariadbd.pid'}", f"--tmpdir={self.tmpdir}", *_SERVER_OPTIONS]
        self._proc = processes.spawn(argv, log=self.log)
        self.pid = self._proc.pid
        deadline = time.monotonic() + timeout
        delay = 0.005
        while not self._answers():
            if self._proc.poll() is not None:
                self._proc = None
                self.pid = None
                raise StackError(f"mariadbd exited during start-up:\n{_tail(self.log.read_text(errors='replace'))}")
            if time.monotonic() > deadline:
                self.stop()
                raise StackError(f"mariadbd did not answer within {timeout:g} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def stop(self, *, crash: bool = False) -> None:
        """Clean shutdown (SIGTERM to the server's process group), or with ``crash`` a SIGKILL
        as in a power cut of the server process; returns when it is gone."""
        if self.pid is not None:
            processes.kill_group(self.pid, proc=self._proc, timeout=30.0,
                                 sig=signal.SIGKILL if crash else signal.SIGTERM)
        self._proc = None
        self.pid = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop and remove the short socket directory if one was made."""
        self.stop()
        if self._own_socket_dir is not None:
            shutil.rmtree(self._own_socket_dir, ignore_errors=True)

    def adopt(self, pid: int) -> None:
        """Take over a server started by another process (a detached stack)."""
        self._proc = None
        self.pid = pid

    @property
    def running(self) -> bool:
        return self.pid is not None and processes.group_alive(self.pid)

    def _answers(self) -> bool:
        """The server sends its handshake as soon as it accepts connections."""
        if not self.socket.exists():
            return False
        try:
            with _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM) as s:
                s.settimeout(1.0)
                s.connect(str(self.socket))
                return len(s.recv(64)) > 0
        except OSError:
            return False

    # -- SQL -----------------------------------------------------------------------------
    def sql(self, script: str, *, database: str | None = None) -> str:
        """Run SQL statements through the ``mariadb`` client; return its tab-separated output."""
        argv = [_tool("mariadb"), "--no-defaults", "--protocol=socket", f"--socket={self.socket}",
                "--user=root", "--batch", "--skip-column-names", "--raw"]
        if database:
            argv.append(database)
        done = subprocess.run(argv, input=script, capture_output=True, text=True)
        if done.returncode != 0:
            raise StackError(f"SQL failed: {done.stderr.strip()}")
        return done.stdout

    def rows(self, query: str, *, database: str | None = None) -> list[list[str]]:
        return [line.split("\t") for line in self.sql(query, database=database).splitlines()]

    def connection(self) -> Connection:
        return Connection(host="127.0.0.1", port=self.port, socket=self.socket)


def default_template_cache() -> Path:
    """``$WPPRIVSYNC_DEVSTACK_CACHE``, else the user's cache directory."""
    override = os.environ.get("WPPRIVSYNC_DEVSTACK_CACHE")
    return Path(override) if override else Path(platformdirs.user_cache_dir("wpprivsync")) / "devstack"


def _server_fingerprint() -> str:
    """Changes when the MariaDB package or our install options change."""
    server = Path(_tool("mariadbd"))
    stat = server.stat()
    text = f"{server}:{stat.st_size}:{stat.st_mtime_ns}:{' '.join(_INSTALL_OPTIONS)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        raise StackError(f"{name} is not installed (run scripts/install-system-deps)")
    return path


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
