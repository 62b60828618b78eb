"""A private PostgreSQL server for tests and benches, from Debian's ``postgresql`` package.

``PostgresServer(root).start()`` runs ``initdb`` and ``postgres`` from
``/usr/lib/postgresql/<newest>/bin``, listening on a Unix socket and a free loopback port
with trust authentication, creates the ``wpprivsync`` database and returns its URL.
``stop()`` shuts the server down (fast shutdown, then SIGKILL of its process group) and removes
what it created outside ``root``; no process is left.

PostgreSQL refuses to run as root. When we are root, the server runs as the ``postgres`` OS
user (created by the Debian package) and its data directory lives in a directory that user
owns: ``root`` itself when that user can reach it, else a fresh directory under the system
temp dir (pytest's temp dirs are private to root).
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from wpprivsync.errors import WpprivsyncError
from .processes import kill_group

DATABASE = "wpprivsync"
_MAX_SOCKET_DIR = 90  # sockaddr_un holds ~107 bytes, and the file name is ".s.PGSQL.<port>"
_SERVER_SETTINGS = {
    # Throw-away test data: durability off, small memory.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "32MB",
    "max_connections": "200",
    "listen_addresses": "127.0.0.1",
    "logging_collector": "off",
}
_running: set["PostgresServer"] = set()
_lock = threading.Lock()


class PostgresError(WpprivsyncError):
    """The private PostgreSQL server could not be set up, started or stopped."""


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has ``initdb``, or None."""
    found = []
    for candidate in Path("/usr/lib/postgresql").glob("*/bin"):
        if (candidate / "initdb").is_file() and (candidate / "postgres").is_file():
            version = candidate.parent.name
            key = tuple(int(p) for p in re.findall(r"\d+", version)) or (0,)
            found.append((key, candidate))
    return max(found)[1] if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reachable_by(uid: int, gids: set[int], path: Path) -> bool:
    """True if a process with ``uid``/``gids`` can enter every directory down to ``path``."""
    for part in [*reversed(path.parents), path]:
        try:
            st = part.stat()
        except OSError:
            return False
        if st.st_uid == uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid in gids:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return False
    return True


class PostgresServer:
    def __init__(self, root: Path, *, bin_dir: Path | None = None, port: int | None = None):
        self.root = Path(root)
        self.bin_dir = bin_dir or find_bin_dir()
        self.port = port
        self.url: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._own_dir: Path | None = None  # created outside root; removed by stop()
        self._user: pwd.struct_passwd | None = None
        self.home: Path = self.root  # holds data/, socket/ and postgres.log once started

    # -- paths ---------------------------------------------------------------------------
    @property
    def datadir(self) -> Path:
        return self.home / "data"

    @property
    def socket_dir(self) -> Path:
        return self.home / "socket"

    @property
    def log(self) -> Path:
        return self.home / "postgres.log"

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, *, timeout: float = 60.0) -> str:
        """Start the server (initialising it on first use); returns the database URL."""
        if self._proc is not None and self._proc.poll() is None and self.url:
            return self.url
        if self.bin_dir is None:
            raise PostgresError("PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb "
                                "(run scripts/install-system-deps)")
        self.root.mkdir(parents=True, exist_ok=True)
        self._choose_home()
        if not (self.datadir / "PG_VERSION").is_file():
            self._initdb()
        self.socket_dir.mkdir(exist_ok=True)
        self._chown(self.socket_dir)
        self.port = self.port or _free_port()
        argv = [str(self.bin_dir / "postgres"), "-D", str(self.datadir), "-p", str(self.port),
                "-k", str(self.socket_dir)]
        for key, value in _SERVER_SETTINGS.items():
            argv += ["-c", f"{key}={value}"]
        with open(self.log, "ab") as out:
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                          cwd=self.home, start_new_session=True, **self._as_user())
        with _lock:
            _running.add(self)
        try:
            self._wait_ready(timeout)
            self.url = self.create_database(DATABASE)
        except BaseException:
            self.stop()
            raise
        return self.url

    def stop(self, *, timeout: float = 30.0) -> None:
        """Fast shutdown; SIGKILL to the whole process group if it does not end in time."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGINT)  # "fast" shutdown: ends sessions, checkpoints
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    pass
            kill_group(proc.pid, timeout=0, proc=proc, sig=signal.SIGKILL)
        with _lock:
            _running.discard(self)
        self.url = None
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    def __enter__(self) -> "PostgresServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- databases -----------------------------------------------------------------------
    def url_for(self, database: str) -> str:
        return f"postgresql://{self._db_user()}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create database ``name`` (a plain identifier) and return its URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise PostgresError(f"not a plain database name: {name!r}")
        import psycopg

        try:
            with psycopg.connect(host=str(self.socket_dir), port=self.port, user=self._db_user(),
                                 dbname="postgres", autocommit=True, connect_timeout=10) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
        except psycopg.Error as exc:
            raise PostgresError(f"cannot create database {name}: {exc}") from None
        return self.url_for(name)

    # -- internals -----------------------------------------------------------------------
    def _db_user(self) -> str:
        return self._user.pw_name if self._user is not None else pwd.getpwuid(os.geteuid()).pw_name

    def _choose_home(self) -> None:
        if os.geteuid() != 0:
            self._user = None
            self.home = self.root
            if len(str(self.root / "socket")) > _MAX_SOCKET_DIR:
                self._own_dir = Path(tempfile.mkdtemp(prefix="wpps-pg-"))
                self.home = self._own_dir
            return
        try:
            self._user = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresError("running as root, PostgreSQL needs the 'postgres' OS user "
                                "(created by Debian's postgresql package)") from None
        gids = {self._user.pw_gid, *os.getgrouplist(self._user.pw_name, self._user.pw_gid)}
        if _reachable_by(self._user.pw_uid, gids, self.root) and len(str(self.root / "socket")) <= _MAX_SOCKET_DIR:
            self.home = self.root
        else:
            if self._own_dir is None or not self._own_dir.is_dir():
                self._own_dir = Path(tempfile.mkdtemp(prefix="wpps-pg-"))
            self.home = self._own_dir
        self._chown(self.home)

    def _chown(self, path: Path) -> None:
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def _as_user(self) -> dict[str, object]:
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": [],
                "env": {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self._user.pw_dir,
                        "LANG": "C.UTF-8"}}

    def _initdb(self) -> None:
        assert self.bin_dir is not None
        argv = [str(self.bin_dir / "initdb"), "-D", str(self.datadir), "-U", self._db_user(), "-A", "trust",
                "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"]
        done = subprocess.run(argv, capture_output=True, text=True, cwd=self.home, **self._as_user())
        if done.returncode != 0:
            raise PostgresError("initdb failed:\n" + "\n".join((done.stdout + done.stderr).splitlines()[-15:]))

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        delay = 0.01
        last = ""
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise PostgresError(f"postgres exited with status {self._proc.returncode}:\n{self._log_tail()}")
            try:
                with psycopg.connect(host=str(self.socket_dir), port=self.port, user=self._db_user(),
                                     dbname="postgres", connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                last = str(exc).strip()
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        raise PostgresError(f"postgres did not accept connections within {timeout:g} s ({last}):\n{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
        except OSError:
            return "(no log)"


@atexit.register
def _stop_all() -> None:
    with _lock:
        servers = list(_running)
    for server in servers:
        try:
            server.stop(timeout=5)
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass
