"""The sandbox (`wpprivsync sandbox`, the README's first command without a configured site), run
as a person runs it: a real subprocess that starts WordPress, the local ActiveCampaign server and
the daemon, plays its story and cleans up.

With the third-party archives beside the checkout the first test runs on the ``current``
profile (WordPress 7.1, WooCommerce with HPOS, Thrive) and checks the orders of three tax years
and the Thrive data too; the others run on Debian's WordPress alone (quicker)."""

from __future__ import annotations

import datetime as dt
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


from wpprivsync_devkit.devstack import profiles
from wpprivsync_devkit.devstack.processes import group_members, kill_group
from wpprivsync_devkit.sandbox import PEOPLE
from wpprivsync.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
FULL = profiles.default_name(REPO) == "current"


def processes_using(path: Path) -> list[str]:
    """Command lines of running processes that mention ``path`` (php -S -t …, mariadbd --datadir=…)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if str(path) in argv and state != "Z":
            found.append(f"{entry.name}: {argv[:200]}")
    return found


class Sandbox:
    """`wpprivsync sandbox` in its own session, its output read line by line."""

    def __init__(self, state_dir: Path, *args: str, woocommerce: bool, env_extra: dict[str, str] | None = None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("WPPRIVSYNC_")} | (env_extra or {})
        self.state_dir = state_dir
        profile = [] if woocommerce else ["--profile", "debian"]  # default: current when the archives are there
        argv = [sys.executable, "-m", "wpprivsync.cli", "sandbox", "--dir", str(state_dir), *profile, *args]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                     cwd=REPO, start_new_session=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                return False
            self.lines.append(line)
            if text in line:
                return True
        return False

    def finish(self, timeout: float) -> int:
        code = self.proc.wait(timeout=timeout)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            kill_group(self.proc.pid, proc=self.proc, timeout=10)


def test_story_says_what_each_system_did_and_leaves_nothing_running(tmp_path):
    state = tmp_path / "sandbox"
    box = Sandbox(state, "--exit-after-story", "--keep-data", woocommerce=True)
    try:
        code = box.finish(timeout=240)
    finally:
        box.kill()
    out = box.output
    assert code == 0, out

    # act 1: account deletion, everywhere
    act1 = out.split("[1]", 1)[1].split("[2]", 1)[0]
    assert "account erased" in act1 and "request" in act1 and "(erase) open" in act1  # its manual task waits
    assert "WebinarJam      1 registration(s) unsubscribed; the API cannot delete: manual deletion task" in act1
    assert "ActiveCampaign contact deleted" in act1 and "suppression list as a keyed hash: yes" in act1
    if FULL:
        assert "current profile" in out and "WordPress 7.1, WooCommerce 9.9.5 on hpos order storage" in out
        year = dt.date.today().year
        # orders of three tax years: the oldest anonymised, two kept, each with its own end date
        assert act1.count("anonymised (its retention had ended)") == 1  # the order of seven years ago
        assert f"of {year - 3}-09-10: retained until {year - 3 + 5}-12-31" in act1
        assert f"of {year - 1}-06-15: retained until {year - 1 + 5}-12-31" in act1
        assert "Thrive Ovation testimonials 1 -> 0, Thrive Leads sign-ups 1 -> 0: erased" in act1
    # act 2: comments deleted, not anonymised, and comment-derived newsletter data with them
    act2 = out.split("[2]", 1)[1].split("[3]", 1)[0]
    assert "3 comments deleted" in act2 and "comments 3 -> 0" in act2
    assert "comment-derived data removed: 1 tag(s), 1 field(s)" in act2
    # act 3: unsubscribe in ActiveCampaign reached WordPress, then the contact went
    act3 = out.split("[3]", 1)[1].split("[4]", 1)[0]
    assert "(unsubscribe) done" in act3 and "consent '1' -> '0': consent cleared" in act3
    assert "ActiveCampaign contact deleted" in act3 and "keyed hash: yes" in act3
    # act 4: a person deletes in WebinarJam and closes the task; the erasure completes
    act4 = out.split("[4]", 1)[1].split("[5]", 1)[0]
    assert "Delete the person's registrations in WebinarJam" in act4 and "task" in act4 and "done, audited" in act4
    assert "(erase) done now that its task is closed" in act4
    assert "retention --dry-run`: webinar 4711" in act4 and "1 registrant(s) left" in act4  # Dan's sign-up
    # act 5: core's export has the ActiveCampaign contact (and Dan's webinar sign-up)
    act5 = out.split("[5]", 1)[1].split("Story done", 1)[0]
    assert "asked the daemon through the outbox, done=False" in act5
    assert "Newsletter (ActiveCampaign)" in act5 and "Webinars (WebinarJam)" in act5 and "Tags" in act5
    assert "(!)" not in out  # no check found a system that did not follow
    assert "WPPRIVSYNC_CONFIG=" in out and "tools.php?page=wpprivsync" in out and "sandbox stopped" in out

    assert processes_using(state) == []
    assert group_members(box.proc.pid) == []
    # --keep-data: the files stay; the config it printed is valid; the daemon's log names no one
    settings = load_settings(state / "wpprivsync.toml")
    assert settings.sites[0].name == "sandbox"
    daemon_log = (state / "daemon.log").read_text()
    assert "daemon started" in daemon_log and "daemon stopped" in daemon_log
    for person in PEOPLE:
        assert person.email not in daemon_log


def test_sigint_while_it_stays_up_cleans_everything(tmp_path):
    state = tmp_path / "sandbox"
    box = Sandbox(state, woocommerce=False)
    try:
        assert box.wait_for_line("Ctrl-C stops it", timeout=180), box.output
        assert processes_using(state) != []  # the servers run while it stays up
        os.kill(box.proc.pid, signal.SIGINT)
        code = box.finish(timeout=90)
    finally:
        box.kill()
    assert code == 0, box.output
    assert "sandbox stopped" in box.output
    assert processes_using(state) == []
    assert group_members(box.proc.pid) == []
    assert not state.exists()  # without --keep-data its files go too


def test_a_second_run_stops_what_a_killed_one_left(tmp_path):
    """A sandbox killed hard (SIGKILL: no clean-up) leaves its servers; the next run in the same
    directory stops them before it starts afresh."""
    state = tmp_path / "sandbox"
    first = Sandbox(state, woocommerce=False)
    try:
        assert first.wait_for_line("sandbox up in", timeout=180), first.output
        os.killpg(first.proc.pid, signal.SIGKILL)
        first.proc.wait(timeout=30)
        left = processes_using(state)
        assert left, "the servers run in their own sessions, so SIGKILL of the sandbox leaves them"
        second = Sandbox(state, "--exit-after-story", woocommerce=False)
        try:
            code = second.finish(timeout=240)
        finally:
            second.kill()
        assert code == 0, second.output
        assert processes_using(state) == []
    finally:
        first.kill()
        for line in processes_using(state):  # never leave servers behind, even when the test fails
            pid = int(line.split(":", 1)[0])
            try:
                kill_group(os.getpgid(pid), timeout=10)
            except (ProcessLookupError, OSError):
                pass


def test_bad_inputs_are_refused_before_anything_starts_or_is_deleted(tmp_path):
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    box = Sandbox(foreign, "--exit-after-story", woocommerce=False)
    code = box.finish(timeout=60)
    assert code == 2 and "is not empty and holds no sandbox" in box.output
    assert (foreign / "keep.txt").read_text() == "mine"

    state = tmp_path / "sandbox"
    box = Sandbox(state, "--exit-after-story", "--woocommerce", str(tmp_path / "nowhere"), woocommerce=False)
    code = box.finish(timeout=60)
    assert code == 2 and "holds no woocommerce.php" in box.output
    assert processes_using(state) == [] and not state.exists()

    box = Sandbox(state, "--exit-after-story", "--profile", "current", woocommerce=True,
                  env_extra={"WPPRIVSYNC_THIRDPARTY_DIR": str(tmp_path / "no-archives")})
    code = box.finish(timeout=60)
    assert code == 2 and f"needs the third-party archives folder {tmp_path / 'no-archives'} (not found)" in box.output
    assert processes_using(state) == [] and not state.exists()
