"""Starting and stopping the stack's servers, each in a process group of its own.

A server such as ``php -S`` with workers forks children; killing only the parent leaves
them running, so everything here works on whole process groups. Groups started by this
process and not handed over with :func:`disown` are killed at interpreter exit.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Mapping, Sequence

from wpprivsync.errors import WpprivsyncError


class StackError(WpprivsyncError):
    """A part of the development stack could not be set up, started or used."""


_owned: dict[int, subprocess.Popen] = {}
_lock = threading.Lock()


def spawn(argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.Popen:
    """Start ``argv`` as the leader of a new session/process group, output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        try:
            proc = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True,
            )
        except OSError as exc:
            raise StackError(f"cannot start {argv[0]}: {exc.strerror}") from None
    with _lock:
        _owned[proc.pid] = proc
    return proc


def disown(pid: int) -> None:
    """Leave the group led by ``pid`` running when this interpreter exits (detached stacks)."""
    with _lock:
        _owned.pop(pid, None)


def group_alive(pgid: int) -> bool:
    """True while group ``pgid`` has a process that is not a zombie (a container's init may
    never reap the re-parented ones)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return bool(group_members(pgid))


def kill_group(pgid: int, *, timeout: float = 10.0, proc: subprocess.Popen | None = None,
               sig: signal.Signals = signal.SIGTERM) -> None:
    """Send ``sig`` (SIGTERM: a clean shutdown) to every process of group ``pgid``, SIGKILL what
    is left after ``timeout`` seconds, and return once the group is empty (its leader reaped
    when we are its parent)."""
    if proc is None:
        with _lock:
            proc = _owned.get(pgid)
    _signal_group(pgid, sig)
    deadline = time.monotonic() + timeout
    if not _wait_group(pgid, proc, deadline):
        _signal_group(pgid, signal.SIGKILL)
        if not _wait_group(pgid, proc, time.monotonic() + 5.0):
            raise StackError(f"process group {pgid} survived SIGKILL")
    with _lock:
        _owned.pop(pgid, None)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _wait_group(pgid: int, proc: subprocess.Popen | None, deadline: float) -> bool:
    if proc is not None:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return False
    # The leader is gone; children re-parented to init are reaped by it shortly.
    delay = 0.002
    while group_alive(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return True


def cmdline(pid: int) -> list[str]:
    """The command line of a running process, or [] when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def group_members(pgid: int) -> list[int]:
    """Pids of the live (not zombie) processes in group ``pgid``, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields after "comm)": state ppid pgrp ...
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


@atexit.register
def _kill_owned_groups() -> None:
    with _lock:
        leftovers = list(_owned.items())
    for pgid, proc in leftovers:
        try:
            kill_group(pgid, proc=proc, timeout=5.0)
        except StackError:
            pass
