"""Helpers for the reliability suites (crash, faults, fuzz, access, privacy scan, scale-out).

    DaemonProcess      the real ``python -m wpprivsync.cli run`` in its own session; ``kill()``
                       sends SIGKILL to the whole group, ``stop()`` SIGTERM then SIGKILL
    all_requests       every request of the store (the API pages newest first)
    all_audit          every audit entry of the store
    outbox_rows        the plugin's outbox table as dicts (id, type, payload, acked_at)
    wait_until         poll a condition with a deadline (no fixed sleeps in the suites)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from wpprivsync.store.api import Audit, Request


class DaemonProcess:
    """One run of the daemon command, output appended to ``log_path``."""

    def __init__(self, config: Path, log_path: Path, *args: str, env: dict[str, str] | None = None):
        self.log_path = log_path
        self._log = open(log_path, "ab")
        full_env = {**os.environ, "WPPRIVSYNC_CONFIG": str(config), **(env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "wpprivsync.cli", *(args or ("run",))], env=full_env,
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> int:
        """SIGKILL to the process group; returns the exit status."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        code = self.proc.wait(30)
        self._log.close()
        return code

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM (the daemon finishes the steps in flight), SIGKILL if it does not exit."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                code = self.proc.wait(30)
            except ProcessLookupError:
                code = self.proc.wait(30)
        else:
            code = self.proc.returncode
        # a daemon leaves nothing behind in its group
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log.close()
        return code


def wait_until(condition: Callable[[], Any], timeout: float, interval: float = 0.25,
               what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def all_requests(store: Any, site: str | None = None) -> list[Request]:
    out: list[Request] = []
    offset = 0
    while True:
        page = store.list_requests(site=site, limit=500, offset=offset)
        out += page
        if len(page) < 500:
            return out
        offset += len(page)


def all_audit(store: Any) -> list[Audit]:
    return store.audit(limit=1_000_000)


def outbox_rows(wp: Any) -> list[dict[str, Any]]:
    return wp.php_json(
        "global $wpdb; echo wp_json_encode($wpdb->get_results(\"SELECT id, type, payload, acked_at "
        "FROM {$wpdb->prefix}wpprivsync_outbox ORDER BY id\", ARRAY_A));", timeout=120)


def outbox_counts(wp: Any) -> dict[str, int]:
    out = wp.php_json("global $wpdb; $t = $wpdb->prefix . 'wpprivsync_outbox'; echo wp_json_encode(["
                      "'total' => (int) $wpdb->get_var(\"SELECT COUNT(*) FROM $t\"),"
                      "'pending' => (int) $wpdb->get_var(\"SELECT COUNT(*) FROM $t WHERE acked_at IS NULL\")]);")
    return {k: int(v) for k, v in out.items()}


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON objects among the lines of a log (other lines are skipped)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


class FlakyProxy:
    """A tiny HTTP proxy in front of WordPress that answers 503 for a share of requests (and
    for every request whose path and query contain ``always_fail``), passing the rest through.

        proxy = FlakyProxy(wp.url, fail_rate=0.2, seed=1); proxy.url; proxy.stop()
    """

    _HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
            "transfer-encoding", "upgrade", "host", "content-length", "accept-encoding"}

    def __init__(self, target: str, *, fail_rate: float = 0.0, seed: int = 0):
        import random
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        import requests

        self.target = target.rstrip("/")
        self.fail_rate = fail_rate
        self.always_fail: str | None = None
        self.served = 0
        self.failed = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._session = requests.Session()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy._lock:
                    fail = (proxy.always_fail is not None and proxy.always_fail in self.path) or \
                        proxy._rng.random() < proxy.fail_rate
                    proxy.served += 1
                    proxy.failed += int(fail)
                if fail:
                    self._answer(503, {"Content-Type": "text/html", "Retry-After": "1"},
                                 b"<h1>Service Unavailable</h1>")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in proxy._HOP}
                try:
                    resp = proxy._session.request(self.command, proxy.target + self.path, headers=headers,
                                                  data=body or None, allow_redirects=False, timeout=120)
                except requests.RequestException:
                    self._answer(502, {"Content-Type": "text/plain"}, b"bad gateway")
                    return
                out = {k: v for k, v in resp.headers.items() if k.lower() not in proxy._HOP | {"content-encoding"}}
                self._answer(resp.status_code, out, resp.content)

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._session.close()


def admin_session(wp: Any) -> Any:
    """A requests.Session logged in to wp-admin as the administrator."""
    import requests

    s = requests.Session()
    s.cookies.set("wordpress_test_cookie", "WP Cookie check")
    resp = s.post(f"{wp.url}/wp-login.php", data={"log": wp.admin_user, "pwd": wp.admin_password,
                                                  "wp-submit": "Log In", "redirect_to": f"{wp.url}/wp-admin/",
                                                  "testcookie": "1"}, timeout=60, allow_redirects=False)
    assert resp.status_code == 302, resp.status_code
    return s


def cli(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """One run of the command line (``python -m wpprivsync.cli``) with ``config``."""
    env = {**os.environ, "WPPRIVSYNC_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-m", "wpprivsync.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


class Backlog:
    """A backlog of privacy events made cheaply in two PHP runs, and the exactly-once checks.

    ``users`` account deletions (the first ``with_contact`` of those people also have an
    ActiveCampaign contact), ``comment_requests`` comment-removal requests recorded the way the
    admin page records them, and ``deleted_comments`` comments deleted in WordPress (each a
    ``comment.deleted`` event whose effect is one audit entry). Events are interleaved: each
    removal request is followed by its share of account and comment deletions.
    """

    def __init__(self, prefix: str, *, users: int, with_contact: int, comment_requests: int, deleted_comments: int):
        assert users % comment_requests == 0 and deleted_comments % comment_requests == 0
        self.prefix = prefix
        self.users, self.with_contact = users, with_contact
        self.comment_requests, self.deleted_comments = comment_requests, deleted_comments
        self.events = users + comment_requests + deleted_comments
        self.requests = users + comment_requests

    def user(self, i: int) -> str:
        return f"{self.prefix}.user{i:04d}@example.com"

    def seed(self, system: Any) -> None:
        p = self.prefix
        for i in range(self.with_contact):
            system.ac.add_contact(self.user(i), lists={system.list_id: 1})
        system.wp.php(
            f"$post = wp_insert_post(['post_title' => '{p}', 'post_status' => 'publish']);"
            f"for ($i = 0; $i < {self.users}; $i++) {{ $e = sprintf('{p}.user%04d@example.com', $i);"
            f"  wp_insert_user(['user_login' => '{p}user' . $i, 'user_email' => $e, 'user_pass' => 'x-' . $i,"
            "                  'role' => 'subscriber']); }"
            f"for ($i = 0; $i < {self.comment_requests}; $i++) {{ $e = sprintf('{p}.commenter%04d@example.org', $i);"
            "  wp_insert_comment(['comment_post_ID' => $post, 'comment_author' => 'C', 'comment_author_email' => $e,"
            "                     'comment_content' => 'hello ' . $i, 'comment_approved' => 1]); }"
            f"for ($i = 0; $i < {self.deleted_comments}; $i++) {{ $e = sprintf('{p}.gone%04d@example.net', $i);"
            "  wp_insert_comment(['comment_post_ID' => $post, 'comment_author' => 'G', 'comment_author_email' => $e,"
            "                     'comment_content' => 'bye ' . $i, 'comment_approved' => 1]); }", timeout=300)
        per_users = self.users // self.comment_requests
        per_gone = self.deleted_comments // self.comment_requests
        system.wp.php(
            "require_once ABSPATH . 'wp-admin/includes/user.php';"
            "global $wpdb; $gone = $wpdb->get_col(\"SELECT comment_ID FROM {$wpdb->comments} "
            f"WHERE comment_author_email LIKE '{p}.gone%' ORDER BY comment_ID\");"
            f"for ($i = 0; $i < {self.comment_requests}; $i++) {{"
            "  Wpprivsync_Outbox::record('comments.removal_requested', ['email' => "
            f"      sprintf('{p}.commenter%04d@example.org', $i), 'source' => 'admin-page']);"
            f"  for ($u = {per_users} * $i; $u < {per_users} * ($i + 1); $u++) {{"
            f"    wp_delete_user(get_user_by('email', sprintf('{p}.user%04d@example.com', $u))->ID); }}"
            f"  foreach (array_slice($gone, {per_gone} * $i, {per_gone}) as $c) {{ wp_delete_comment($c, true); }} }}",
            timeout=300)
        assert outbox_counts(system.wp) == {"total": self.events, "pending": self.events}

    def finished(self, system: Any, store: Any) -> bool:
        if outbox_counts(system.wp)["pending"]:  # not all pulled yet
            return False
        reqs = all_requests(store, "test")
        return len(reqs) >= self.requests and all(r.status == "done" for r in reqs)

    def verify(self, system: Any, store: Any, *, rerun_steps: int = 0) -> dict[str, int]:
        """Every event done exactly once in effect; returns figures for the report.
        ``rerun_steps``: steps that may have run again after a kill (each may repeat its DELETE
        by a linked contact id, which then answers 404: harmless, and counted apart from the
        contacts actually deleted)."""
        import collections

        # every event pulled and acknowledged, each planned once
        assert outbox_counts(system.wp) == {"total": self.events, "pending": 0}
        reqs = all_requests(store, "test")
        by_event = collections.Counter(r.event_id for r in reqs)
        assert len(reqs) == self.requests and None not in by_event and max(by_event.values()) == 1
        assert collections.Counter(r.action for r in reqs) == {"erase": self.users,
                                                               "remove_comments": self.comment_requests}
        assert len({(r.action, r.email_hash) for r in reqs}) == len(reqs)  # no duplicate request
        assert all(r.status == "done" for r in reqs)

        # ActiveCampaign: each contact deleted exactly once. A DELETE call repeated by the
        # client's own retry after a lost answer is harmless (the repeat answers 404) and is
        # allowed once in a while; two workers running one step would show up below as two
        # audit entries for the step and as "lease lost" in the logs. A step run again after a
        # kill repeats its DELETE by the linked id (404, nothing deleted twice).
        for i in range(self.with_contact):
            assert system.ac.contact_view(self.user(i)) is None
        calls = system.ac.counters()
        assert calls["contacts_deleted"] == self.with_contact, calls
        assert calls["requests"].get("DELETE /contacts/{id}", 0) <= self.with_contact + 2 + rerun_steps, calls

        # WordPress: every account and comment gone
        left = system.wp.php(
            "global $wpdb; echo (int) $wpdb->get_var(\"SELECT COUNT(*) FROM {$wpdb->users} "
            f"WHERE user_email LIKE '{self.prefix}.user%'\") + (int) $wpdb->get_var(\"SELECT COUNT(*) FROM "
            f"{{$wpdb->comments}} WHERE comment_author_email LIKE '{self.prefix}.%'\");")
        assert left == "0"

        # audit: one entry per step (written in the same transaction as the step's finish, so
        # one entry means one successful finish), and the expected entries per request
        audit = all_audit(store)
        per_step = collections.Counter(a.step_id for a in audit if a.step_id is not None)
        steps = [s for r in reqs for s in store.steps_of(r.id)]
        assert all(s.status == "done" for s in steps)
        assert {s.id for s in steps} == set(per_step) and max(per_step.values()) == 1
        per_request: dict[int, collections.Counter] = collections.defaultdict(collections.Counter)
        for a in audit:
            if a.request_id is not None:
                per_request[a.request_id][(a.system, a.action)] += 1
        removed_comments = 0
        for r in reqs:
            got = per_request[r.id]
            if r.action == "erase":
                # the residue scan after each erasure is recorded once too, kills or not
                assert got == {("wordpress", "erase"): 1, ("activecampaign", "delete_contact"): 1,
                               ("suppression", "add"): 1, ("wordpress", "residue_scan"): 1}, (r.id, got)
            else:
                assert got == {("wordpress", "remove_comments"): 1}, (r.id, got)
                (step,) = store.steps_of(r.id)
                removed_comments += step.result["comments_deleted"]
        # and found nothing of anyone left behind
        assert store.counts()["residues_open"] == 0, store.residues(status="open")[:5]
        # a step killed after WordPress answered runs again and finds nothing left: never more
        assert removed_comments <= self.comment_requests
        # each deleted comment's event: exactly one audit entry (written with the cursor)
        gone = collections.Counter(a.detail.get("comment_id") for a in audit
                                   if (a.system, a.action) == ("wordpress", "comment_deleted"))
        assert len(gone) == self.deleted_comments and set(gone.values()) == {1}
        deleted_in_ac = sum(a.items_removed for a in audit
                            if (a.system, a.action) == ("activecampaign", "delete_contact"))
        assert deleted_in_ac <= self.with_contact
        return {"requests": len(reqs), "steps": len(steps), "audit": len(audit),
                "ac_calls": calls["total"], "ac_max_per_second": calls["max_per_second"],
                "ac_429": calls["http429"]}
