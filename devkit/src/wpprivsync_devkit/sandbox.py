"""The sandbox: the whole system on one machine, with fake people, playing a short story.

    box = Sandbox(state_dir, plugin_dir, out=click.echo)
    box.start()      # WordPress stack, local ActiveCampaign server, the daemon (a thread)
    box.seed()       # people, comments, orders, newsletter subscribers
    box.story()      # an account deletion, a comment removal, an unsubscribe in ActiveCampaign
    box.close()      # daemon, ActiveCampaign server, WordPress stack stopped; files removed

Everything lives under ``state_dir``: the WordPress stack (``wordpress/``), the daemon's
store, exports and log, its policy copy, and ``wpprivsync.toml``, a config file the other
commands accept while the sandbox runs (``WPPRIVSYNC_CONFIG=... wpprivsync status``).

The people are made up (``@example.com``), so the story may name them; the daemon's own log
(``daemon.log``) never carries a plain email, like in production.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from wpprivsync import errors, services
from wpprivsync.app import App, utcnow
from wpprivsync.engine import plan
from wpprivsync.identity import email_hash
from wpprivsync.logs import configure_logging
from wpprivsync.settings import load_settings

log = logging.getLogger(__name__)

SITE = "sandbox"
LIST_NAME = "Newsletter"
COMMENT_TAG = "blog-commenter"
WAIT_S = 60.0
MARKER = ".wpprivsync-sandbox"
WEBINAR_ID = 4711
WEBINAR_NAME = "Privacy for shop owners"


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    email: str
    tags: tuple[str, ...]
    role_in_story: str


ANN = Person("ann", "Ann Archer", "ann.archer@example.com", ("customer",), "deletes her account")
BEN = Person("ben", "Ben Baker", "ben.baker@example.com", ("newsletter", COMMENT_TAG),
             "asks for his comments to be removed")
CLEO = Person("cleo", "Cleo Clark", "cleo.clark@example.com", ("newsletter",),
              "unsubscribes in a newsletter email")
DAN = Person("dan", "Dan Dyer", "dan.dyer@example.com", ("customer", "newsletter"),
             "stays: try explain, export and erase --dry-run on him")
PEOPLE = (ANN, BEN, CLEO, DAN)
GUEST_BUYER = "eve.early@example.com"  # an old guest order, for `wpprivsync retention`


def repo_root() -> Path | None:
    """The source checkout this package runs from, if any (it has the plugin's source)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "wp-plugin" / "wpprivsync" / "wpprivsync.php").is_file():
            return parent
    return None


def default_state_dir() -> Path:
    """``.stack/sandbox`` in the checkout, else the user's state directory."""
    root = repo_root()
    if root is not None and os.access(root, os.W_OK):
        return root / ".stack" / "sandbox"
    import platformdirs

    return Path(platformdirs.user_state_dir("wpprivsync")) / "sandbox"


def default_plugin_dir() -> Path | None:
    root = repo_root()
    return root / "wp-plugin" / "wpprivsync" if root else None


def _php_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class Timings:
    up_s: float = 0.0
    seed_s: float = 0.0
    story_s: float = 0.0
    acts: dict[str, float] = field(default_factory=dict)


class Sandbox:
    """One sandbox run. ``out`` prints a line of the story (click.echo in the CLI)."""

    def __init__(self, state_dir: Path, plugin_dir: Path | None = None, *, woocommerce_dir: Path | None = None,
                 profile: str | None = None, wp_port: int = 0, ac_port: int = 0, out: Callable[[str], None] = print,
                 clock: Callable[[], dt.datetime] = utcnow):
        self.dir = Path(state_dir).absolute()
        self.plugin_dir = Path(plugin_dir).absolute() if plugin_dir else default_plugin_dir()
        self.woocommerce_dir = Path(woocommerce_dir).absolute() if woocommerce_dir else None
        # the stack profile: None picks "current" when the third-party archives are beside the
        # checkout (WordPress 7.1, WooCommerce with HPOS, Thrive), else Debian's WordPress alone
        self.profile_name = profile
        self.profile: Any = None  # devstack.profiles.Profile, set by start()
        self.thrive = False
        self.wp_port = wp_port
        self.ac_port = ac_port
        self.out = out
        self.clock = clock
        self.config_path = self.dir / "wpprivsync.toml"
        self.log_path = self.dir / "daemon.log"
        self.secret = secrets.token_urlsafe(32)
        self.timings = Timings()
        self.wp: Any = None          # devstack.WordPressStack
        self.ac: Any = None          # acfake.ActiveCampaignServer
        self.wj: Any = None          # wjfake.WebinarJamServer
        self.webinar_leads: dict[str, int] = {}
        self.app: App | None = None  # the story's own view of the store and clients
        self.list_id = 0
        self.field_id = 0
        self.user_ids: dict[str, int] = {}
        self.orders: dict[str, int] = {}
        self._stop = threading.Event()
        self._daemon_thread: threading.Thread | None = None
        self._log_stream: Any = None
        self._owns_dir = False  # set once start() has made the directory the sandbox's own

    @property
    def woocommerce(self) -> bool:
        return self.woocommerce_dir is not None

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Bring up WordPress, the ActiveCampaign server and the daemon; write the config."""
        from .acfake import ActiveCampaignServer
        from .devstack import StackError, WordPressStack, free_port, profiles

        if self.plugin_dir is None or not (self.plugin_dir / "wpprivsync.php").is_file():
            raise errors.ConfigError("the plugin's source is not here", field="plugin",
                                     hint="run the sandbox from a wpprivsync checkout (scripts/run)")
        root = repo_root() or Path.cwd()
        try:
            self.profile = profiles.resolve(self.profile_name or profiles.default_name(root), root)
        except StackError as exc:
            raise errors.ConfigError(str(exc), field="profile",
                                     hint="put the third-party archives in ../shared/thirdparty, or use --profile debian") from None
        if self.woocommerce_dir is None:
            self.woocommerce_dir = self.profile.woocommerce_dir
        self.thrive = self.profile.has_thrive
        if self.woocommerce_dir is not None and not (self.woocommerce_dir / "woocommerce.php").is_file():
            raise errors.ConfigError(f"{self.woocommerce_dir} holds no woocommerce.php", field="woocommerce",
                                     hint="point it at a WooCommerce plugin directory, or leave it unset")
        self._check_dir()
        started = time.monotonic()
        self._clear_leftovers()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        self._owns_dir = True
        (self.dir / MARKER).write_text("wpprivsync sandbox: emptied by the next `wpprivsync sandbox`\n")
        self.out(f"Starting the sandbox ({self.profile.name} profile: {self.profile.description}"
                 + (f"; WooCommerce from {self.woocommerce_dir}" if self.woocommerce_dir != self.profile.woocommerce_dir else "")
                 + "), a local ActiveCampaign server (5 requests/s) and the wpprivsync daemon ...")

        self.ac = ActiveCampaignServer(port=self.ac_port, token=secrets.token_hex(20), rate=5).start()
        from .wjfake import WebinarJamServer

        self.wj = WebinarJamServer(api_key=secrets.token_hex(32)).start()
        wanted = [self.wp_port] if self.wp_port else []

        def pick_port() -> int:
            return wanted.pop() if wanted else free_port()

        options = {**self.profile.stack_options(), "woocommerce_dir": self.woocommerce_dir}
        options["hpos"] = options["hpos"] and self.woocommerce_dir is not None
        self.wp = WordPressStack(self.dir / "wordpress", plugin_dirs=[*self.profile.plugin_dirs, self.plugin_dir],
                                 pick_port=pick_port, **options)
        self.wp.start()
        # state.json lets a later run stop servers a hard-killed sandbox left behind; the
        # servers stay ours to stop in close().
        self.wp.detach()

        self.list_id = self.ac.add_list(LIST_NAME)
        self.field_id = self.ac.add_field("Comment topic", "COMMENT_TOPIC")
        policy = self._write_policy()
        self._write_config(policy)
        settings = load_settings(self.config_path)
        self.app = App(settings, clock=self.clock)
        intake = f"{self.wp.url}/?rest_route=/wpprivsync/v1/webhook/activecampaign/{self._webhook_secret()}"
        self.app.clients(SITE).activecampaign.create_webhook("wpprivsync", intake,
                                                              ["subscribe", "unsubscribe", "update"],
                                                              ["public", "admin", "system"], list_id=self.list_id)
        self._start_daemon()
        self.timings.up_s = time.monotonic() - started
        self.out(f"  WordPress       {self.wp.url}  (WordPress {self.wp.wp_version}"
                 + (f", WooCommerce {self.wp.wc_version} on {self.wp.order_storage} order storage" if self.wp.wc_version else "")
                 + (", Thrive Comments, Leads and Ovation" if self.thrive else "")
                 + f"; up in {self.wp.startup_seconds:.1f} s)")
        self.out(f"  ActiveCampaign  {self.ac.url}  (webhook -> the plugin's intake URL)")
        self.out(f"  WebinarJam      {self.wj.url}  (local server; the API cannot delete registrants)")
        self.out(f"  daemon          polling every {settings.poll_interval_s:g} s; log in {self._show(self.log_path)}")
        self.out(f"  sandbox up in {self.timings.up_s:.1f} s")

    def close(self, *, keep_data: bool = False) -> None:
        """Stop the daemon, the ActiveCampaign server and WordPress; remove the files unless
        ``keep_data``. Safe to call twice and after a failed start."""
        problems: list[str] = []
        self._stop.set()
        if self._daemon_thread is not None:
            self._daemon_thread.join(timeout=60)
            if self._daemon_thread.is_alive():
                problems.append("the daemon did not stop within 60 s")
            self._daemon_thread = None
        if self.app is not None:
            self.app.close()
            self.app = None
        if self.ac is not None:
            self.ac.stop()
            self.ac = None
        if self.wj is not None:
            self.wj.stop()
            self.wj = None
        if self.wp is not None:
            try:
                self.wp.stop()
            except errors.WpprivsyncError as exc:
                problems.append(str(exc))
            self.wp = None
        if self._log_stream is not None:
            logging.getLogger().handlers[:] = [h for h in logging.getLogger().handlers
                                               if getattr(h, "stream", None) is not self._log_stream]
            self._log_stream.close()
            self._log_stream = None
        if not keep_data and self._owns_dir:
            _remove_tree(self.dir)
        if problems:
            raise errors.WpprivsyncError("sandbox clean-up: " + "; ".join(problems))

    def wait(self, stop: threading.Event) -> None:
        """Stay up until ``stop`` is set (the CLI sets it on SIGINT/SIGTERM) or the daemon dies."""
        while not stop.wait(0.5):
            if self._daemon_thread is not None and not self._daemon_thread.is_alive():
                raise errors.WpprivsyncError(f"the daemon stopped; see {self.log_path}")

    def _clear_leftovers(self) -> None:
        """Stop the servers of an earlier sandbox that was killed hard, then start afresh."""
        from .devstack import StackError, WordPressStack

        stack_dir = self.dir / "wordpress"
        if (stack_dir / "state.json").exists():
            try:
                WordPressStack.attach(stack_dir).stop()
            except StackError as exc:
                raise errors.WpprivsyncError(f"an earlier sandbox in {self.dir} cannot be stopped: {exc}") from None
        if self.dir.exists():
            shutil.rmtree(self.dir)

    def _check_dir(self) -> None:
        """Only a sandbox's own directory (or an empty or new one) is ever emptied."""
        if self.dir.is_file():
            raise errors.ConfigError(f"{self.dir} is a file", field="dir", hint="give a directory for the sandbox")
        if self.dir.is_dir() and any(self.dir.iterdir()) and not (self.dir / MARKER).exists():
            raise errors.ConfigError(f"{self.dir} is not empty and holds no sandbox", field="dir",
                                     hint="give a new or empty directory; the sandbox empties its directory at start")

    def _webhook_secret(self) -> str:
        return self.wp.php("echo Wpprivsync_Webhook::secret();").strip()

    def _write_policy(self) -> Path:
        """The shipped policy, with the ActiveCampaign tag and field the sandbox sets from
        comments named as comment-derived data (removed with the comments)."""
        from wpprivsync.settings import default_policy_file

        text = default_policy_file().read_text()
        text = text.replace("activecampaign_tags = []", f'activecampaign_tags = ["{COMMENT_TAG}"]', 1)
        text = text.replace("activecampaign_field_ids = []", f"activecampaign_field_ids = [{self.field_id}]", 1)
        path = self.dir / "policy.toml"
        path.write_text(text)
        return path

    def _write_config(self, policy: Path) -> None:
        top = {
            "store_url": f"sqlite:///{self.dir / 'store.sqlite3'}",
            "site_secret": self.secret,
            "policy_file": str(policy),
            "export_dir": str(self.dir / "exports"),
            "poll_interval_s": 0.5,
            "heartbeat_interval_s": 5.0,
            "max_attempts": 5,
            "step_lease_s": 30.0,
        }
        site = {
            "name": SITE,
            "wordpress_url": self.wp.url,
            "wordpress_user": self.wp.service_user,
            "wordpress_app_password": self.wp.service_app_password,
            "activecampaign_url": self.ac.url,
            "activecampaign_token": self.ac.token,
            "webinarjam_url": self.wj.url,
            "webinarjam_api_key": self.wj.api_key,
        }
        lines = ["# Written by `wpprivsync sandbox`; valid while the sandbox runs.",
                 *(f"{k} = {json.dumps(v)}" for k, v in top.items()), "", "[[sites]]",
                 *(f"{k} = {json.dumps(v)}" for k, v in site.items()),
                 f"newsletter_list_ids = [{self.list_id}]", f"webinarjam_webinar_ids = [{WEBINAR_ID}]", ""]
        self.config_path.write_text("\n".join(lines))
        self.config_path.chmod(0o600)

    def _start_daemon(self) -> None:
        from wpprivsync.daemon import Daemon

        self._log_stream = open(self.log_path, "a", encoding="utf-8")
        configure_logging("INFO", stream=self._log_stream)
        daemon = Daemon(App(load_settings(self.config_path), clock=self.clock), stop=self._stop)
        self._daemon_thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False},
                                               name="wpprivsync-daemon", daemon=True)
        self._daemon_thread.start()

    # -- seed --------------------------------------------------------------------------------
    def seed(self) -> None:
        """Fake people in both systems: accounts with newsletter consent, comments, orders
        (with WooCommerce) and newsletter contacts with tags and a field."""
        started = time.monotonic()
        for p in PEOPLE:
            first, last = p.name.split(" ", 1)
            fields = {self.field_id: "privacy"} if COMMENT_TAG in p.tags else {}
            self.ac.add_contact(p.email, lists={self.list_id: 1}, tags=list(p.tags), fields=fields,
                                first_name=first, last_name=last)
        role = "customer" if self.woocommerce else "subscriber"
        code = ["$ids = [];"]
        for p in PEOPLE:
            login = p.email.split("@")[0].replace(".", "")
            code.append(
                f"$id = wp_insert_user(['user_login' => {_php_str(login)}, 'user_email' => {_php_str(p.email)}, "
                f"'user_pass' => wp_generate_password(), 'display_name' => {_php_str(p.name)}, "
                f"'first_name' => {_php_str(p.name.split()[0])}, 'role' => {_php_str(role)}]);"
                "if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message()); exit(1); }"
                f"update_user_meta($id, 'wpprivsync_newsletter', '1'); $ids[{_php_str(p.key)}] = $id;")
        code.append("echo json_encode($ids);")
        self.user_ids = {k: int(v) for k, v in self.wp.php_json("\n".join(code)).items()}
        comments = [(ANN, "Great shop, fast delivery."), (BEN, "Is this GDPR compliant?"),
                    (BEN, "Thanks for the answer!"), (BEN, "One more question about invoices."),
                    (DAN, "I bought two, both work.")]
        code = ["$post = wp_insert_post(['post_title' => 'Welcome to the sandbox shop', 'post_status' => 'publish',"
                " 'post_content' => 'A post to comment on.']);"]
        for person, text in comments:
            code.append(f"$c = wp_insert_comment(['comment_post_ID' => $post,"
                        f" 'comment_author' => {_php_str(person.name)},"
                        f" 'comment_author_email' => {_php_str(person.email)}, 'comment_content' => {_php_str(text)},"
                        " 'comment_approved' => 1]); add_comment_meta($c, 'tcm_rating', 5);")
        self.wp.php("\n".join(code))
        if self.woocommerce:
            year = self.clock().year
            self.orders = self._orders({
                "ann_old": (ANN, f"{year - 7}-03-01"),
                "ann_mid": (ANN, f"{year - 3}-09-10"),
                "ann_recent": (ANN, f"{year - 1}-06-15"),
                "dan_recent": (DAN, f"{year}-01-20"),
                "guest_old": (None, f"{year - 8}-05-05"),
            })
        thrive = ""
        if self.thrive:
            self._thrive_seed()
            thrive = ", Thrive data (a testimonial and a Thrive Leads sign-up each for Ann and Dan)"
        today = self.clock().date()
        past, upcoming = self.wj.add_webinar(WEBINAR_ID, WEBINAR_NAME, [
            f"{today - dt.timedelta(days=40):%Y-%m-%d} 18:00", f"{today + dt.timedelta(days=7):%Y-%m-%d} 18:00"])
        for p in (ANN, DAN):
            first, last = p.name.split(" ", 1)
            self.webinar_leads[p.key] = self.wj.add_registrant(WEBINAR_ID, past, p.email, first, last,
                                                               f"{today - dt.timedelta(days=45):%Y-%m-%d} 09:00")
        self.wait_idle()
        self.timings.seed_s = time.monotonic() - started
        n_orders = f", {len(self.orders)} orders" if self.orders else " (no WooCommerce: no orders; they come " \
                                                                     "with the third-party archives in ../shared/thirdparty)"
        self.out(f"Seeded {len(PEOPLE)} people (accounts with newsletter consent, ActiveCampaign contacts on list "
                 f"'{LIST_NAME}' with tags and a field), {len(comments)} comments{n_orders}{thrive}, 2 sign-ups for the "
                 f"WebinarJam webinar '{WEBINAR_NAME}' whose session ended 40 days ago; the daemon caught up "
                 f"in {self.timings.seed_s:.1f} s.")

    def _orders(self, wanted: dict[str, tuple[Person | None, str]]) -> dict[str, int]:
        """Completed orders with billing data, created on the given dates; returns their ids."""
        code = ["$ids = [];"]
        for key, (person, created) in wanted.items():
            email = person.email if person else GUEST_BUYER
            first, last = person.name.split(" ", 1) if person else ("Eve", "Early")
            customer = self.user_ids.get(person.key, 0) if person else 0
            code.append(f"""
                $o = wc_create_order(['customer_id' => {int(customer)}]);
                $o->set_billing_first_name({_php_str(first)}); $o->set_billing_last_name({_php_str(last)});
                $o->set_billing_email({_php_str(email)}); $o->set_billing_address_1('1 Sandbox Street');
                $o->set_date_created(strtotime({_php_str(created + ' 12:00:00 UTC')}));
                $o->set_status('completed'); $o->save(); $ids[{_php_str(key)}] = $o->get_id();""")
        code.append("echo json_encode($ids);")
        return {k: int(v) for k, v in self.wp.php_json("\n".join(code)).items()}

    def _thrive_seed(self) -> None:
        """Thrive data made through the real plugins' own functions: a testimonial
        (``tvo_create_testimonial``) and a Thrive Leads sign-up (an event-log row and a contact
        row, as ``tve_leads_register_conversion`` writes them) for Ann and for Dan."""
        code = ["global $tvedb;"]
        for p, text in ((ANN, "Fast delivery and a friendly shop."), (DAN, "Both of them work.")):
            code.append(f"""
                tvo_create_testimonial(['title' => 'From ' . {_php_str(p.name)}, 'content' => {_php_str(text)},
                    'tags' => [], 'status' => -1, 'source' => '', 'name' => {_php_str(p.name)},
                    'email' => {_php_str(p.email)}, 'role' => 'Customer']);
                $log = $tvedb->insert_event(['event_type' => TVE_LEADS_CONVERSION, 'main_group_id' => 0,
                    'form_type_id' => 0, 'variation_key' => 0, 'user' => {_php_str(p.email)}], 0, false);
                $tvedb->tve_leads_register_contact($log, {_php_str(p.name)}, {_php_str(p.email)}, ['phone' => '+48 600 000 000']);""")
        self.wp.php("\n".join(code))

    # -- the story ---------------------------------------------------------------------------
    def story(self) -> dict[str, dict[str, Any]]:
        """Three people use their rights; prints what each system did. Returns the request
        views by act."""
        started = time.monotonic()
        results = {}
        self.out("")
        results["account_deletion"] = self._act(
            1, f"{ANN.name} deletes her WordPress account", "wp_delete_user() in WordPress",
            plan.ERASE, ANN, lambda: self.wp.php(
                "require_once ABSPATH . 'wp-admin/includes/user.php'; "
                f"wp_delete_user({self.user_ids['ann']});"))
        results["comment_removal"] = self._act(
            2, f"{BEN.name} asks for his comments to be removed", "queued from Tools -> Privacy Sync",
            plan.REMOVE_COMMENTS, BEN, lambda: self.wp.php(
                f"Wpprivsync_Outbox::record('comments.removal_requested', ['email' => {_php_str(BEN.email)}, "
                "'source' => 'admin-page']);"))
        results["unsubscribe"] = self._act(
            3, f"{CLEO.name} clicks 'unsubscribe' in a newsletter email", "in ActiveCampaign",
            plan.UNSUBSCRIBE, CLEO, lambda: self.ac.unsubscribe_click(CLEO.email, self.list_id))
        results["manual_task"] = self._close_webinar_task(results["account_deletion"]["id"])
        results["core_export"] = self._core_export(DAN)
        self.timings.story_s = time.monotonic() - started
        self.out(f"Story done in {self.timings.story_s:.1f} s.")
        return results

    def _close_webinar_task(self, request_id: int) -> dict[str, Any]:
        """Act 4: the API cannot delete Ann's webinar registration: a person does it in WebinarJam
        and closes the task; the erasure completes. Then the 30-day rule for Dan's sign-up."""
        assert self.app is not None
        self.out("[4] The site owner deletes Ann's webinar registration in WebinarJam and closes the task")
        for task in services.tasks_view(self.app, site=SITE):
            if task["request_id"] != request_id:
                continue
            self.out(f"    task {task['id']} (due {task['due_at']:%Y-%m-%d}): {task['what']}")
            self.wj.delete_registrant(self.webinar_leads["ann"])
            closed = services.close_task(self.app, task["id"], "deleted in WebinarJam (Registrants -> delete)")
            self.out(f"    `wpprivsync tasks done {task['id']} --note ...`: task {closed['task']['status']}, audited")
        view = services.request_view(self.app, request_id)
        self.out(f"    the daemon: request {request_id} (erase) {view['status']} now that its task is closed")
        from wpprivsync.engine.webinars import sweep_webinars

        today = self.clock().date()
        report = sweep_webinars(self.app.site(SITE), self.app.clients(SITE).webinarjam, self.app.store,
                                self.app.policy, today, self.clock(), dry_run=True)
        for d in report["due"]:
            self.out(f"    `wpprivsync retention --dry-run`: webinar {d['webinar_id']} session {d['schedule']} ended "
                     f"{d['ended']}, {d['registrants']} registrant(s) left, delete by {d['delete_by']} "
                     "(a deletion task on the daily sweep)")
        self.out("")
        return view

    def _core_export(self, person: Person) -> dict[str, Any]:
        """Act 5: WordPress's own Tools → Export Personal Data for Dan, as core's page runs
        wpprivsync's exporter: asks the daemon, waits, returns ActiveCampaign and WebinarJam data."""
        self.out(f"[5] The site owner exports {person.name}'s data with WordPress's Tools -> Export Personal Data")
        call = ("wp_set_current_user(1); echo wp_json_encode(Wpprivsync_Core_Exporter::exporter("
                f"{_php_str(person.email)}, %d));")
        first = self.wp.php_json(call % 1)
        self.out(f"    wpprivsync's exporter, page 1: asked the daemon through the outbox, done={first['done']}")
        started = time.monotonic()
        answer = first
        page = 2
        while not answer["done"] and time.monotonic() - started < WAIT_S + 5:
            answer = self.wp.php_json(call % page)
            page += 1
        items = answer["data"]
        groups = sorted({i["group_label"] for i in items})
        self.out(f"    page {page - 1}: done after {time.monotonic() - started:.1f} s with {len(items)} item(s) from "
                 + (", ".join(groups) or "nowhere"))
        for item in items:
            names = [d["name"] for d in item["data"]]
            self.out(f"      {item['group_label']}: {', '.join(names)}")
        self.wp.php(f"delete_option('wpprivsync_cx_' . substr(Wpprivsync_Plugin::email_hash({_php_str(person.email)}), 0, 40));")
        self.out("    (core deletes the daemon's answer once it has built the file; the story does it here)")
        self.wait_idle()
        self.out("")
        return {"items": len(items), "groups": groups}

    def _act(self, number: int, title: str, how: str, action: str, person: Person,
             trigger: Callable[[], Any]) -> dict[str, Any]:
        assert self.app is not None
        digest = email_hash(self.secret, person.email)
        before = {r.id for r in self.app.store.list_requests(site=SITE, action=action, email_hash=digest)}
        facts_before = self._facts(person)
        self.out(f"[{number}] {title} ({how})")
        trigger()
        started = time.monotonic()
        request_id = self._wait_request(action, digest, before)
        took = time.monotonic() - started
        view = services.request_view(self.app, request_id)
        self.wait_idle()
        self.timings.acts[action] = took
        self.out(f"    the daemon: request {request_id} ({action}) {view['status']} {took:.1f} s later, "
                 f"answer due by {view['due_at']:%Y-%m-%d} (GDPR art. 12(3))")
        for step in view["steps"]:
            self.out("    " + describe_step(step))
        facts = self._facts(person)
        for line in self._checks(person, action, facts_before, facts):
            self.out("    checked: " + line)
        if view["retained_until"]:
            self.out(f"    retained until {view['retained_until']}: orders and invoices (tax year end + 5 years); "
                     "then the daily retention sweep anonymises them")
        self.out("")
        return view

    def _wait_request(self, action: str, digest: str, before: set[int]) -> int:
        assert self.app is not None
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            new = [r for r in self.app.store.list_requests(site=SITE, action=action, email_hash=digest)
                   if r.id not in before]
            if new and all(r.status != "open" or self._waits_for_tasks(r.id) for r in new):
                return max(r.id for r in new)
            time.sleep(0.1)
        raise errors.WpprivsyncError(f"the daemon did not finish a {action} request within {WAIT_S:g} s; "
                                     f"see {self.log_path}")

    def _waits_for_tasks(self, request_id: int) -> bool:
        """Every step done, only manual tasks open (a person's part, act 4)."""
        assert self.app is not None
        steps = self.app.store.steps_of(request_id)
        return bool(steps) and all(s.status == "done" for s in steps) and bool(
            self.app.store.tasks(request_id=request_id, status="open"))

    def wait_idle(self, timeout: float = WAIT_S) -> None:
        """Until the plugin's outbox is drained and no step is pending or running."""
        assert self.app is not None
        wp = self.app.clients(SITE).wordpress
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            idle = wp.status()["outbox"]["pending"] == 0 and self.app.store.queue_depth(SITE) == 0
            quiet = quiet + 1 if idle else 0
            if quiet >= 3:  # a webhook or hook may still be on its way: idle three polls in a row
                return
            time.sleep(0.2)
        raise errors.WpprivsyncError(f"the daemon did not catch up within {timeout:g} s; see {self.log_path}")

    # -- facts read from each system, to check what the daemon says it did --------------------
    def _facts(self, p: Person) -> dict[str, Any]:
        assert self.app is not None
        order_ids = [oid for key, oid in self.orders.items() if key.startswith(p.key + "_")]
        facts = self.wp.php_json(
            f"$u = get_user_by('email', {_php_str(p.email)});"
            f"$c = get_comments(['author_email' => {_php_str(p.email)}, 'status' => 'all', 'fields' => 'ids']);"
            "$orders = [];"
            f"foreach ([{', '.join(map(str, order_ids))}] as $oid) {{ $o = wc_get_order($oid);"
            " $orders[$oid] = ['email' => $o->get_billing_email(),"
            " 'anonymized' => $o->get_meta('_anonymized') === 'yes',"
            " 'created' => $o->get_date_created()->date('Y-m-d')]; }"
            + ("global $wpdb; $thrive = ['leads' => (int) $wpdb->get_var($wpdb->prepare("
               "\"SELECT COUNT(*) FROM {$wpdb->prefix}tve_leads_contacts WHERE LOWER(email) = %s\", "
               f"strtolower({_php_str(p.email)}))), 'testimonials' => 0];"
               "foreach (get_posts(['post_type' => 'tvo_testimonials', 'post_status' => 'any', 'numberposts' => -1]) as $t) {"
               " $m = get_post_meta($t->ID, '_tvo_testimonial_attributes', true);"
               f" if (is_array($m) && strtolower($m['email'] ?? '') === strtolower({_php_str(p.email)})) {{ $thrive['testimonials']++; }} }}"
               if self.thrive else "$thrive = null;")
            + "echo json_encode(['user' => (bool) $u, 'thrive' => $thrive, "
            "'consent' => $u ? get_user_meta($u->ID, 'wpprivsync_newsletter', true) : null,"
            " 'comments' => count($c), 'orders' => (object) $orders]);")
        return {**facts, "contact": self.ac.contact_view(p.email),
                "suppressed": self.app.store.is_suppressed(SITE, email_hash(self.secret, p.email))}

    def _checks(self, p: Person, action: str, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        assert self.app is not None
        lines = []
        if action == plan.ERASE:
            lines.append(f"WordPress account {'still there (!)' if after['user'] else 'erased'}; "
                         f"comments {before['comments']} -> {after['comments']}")
            for oid, o in after["orders"].items():
                if o["anonymized"]:
                    lines.append(f"WooCommerce order {oid} of {o['created']}: anonymised (its retention had ended)")
                else:
                    until = self.app.policy.order_retained_until(dt.date.fromisoformat(o["created"]))
                    lines.append(f"WooCommerce order {oid} of {o['created']}: retained until {until.isoformat()} "
                                 f"with its billing data (invoices)")
            if after.get("thrive") is not None:
                b, a = before["thrive"], after["thrive"]
                lines.append(f"Thrive Ovation testimonials {b['testimonials']} -> {a['testimonials']}, "
                             f"Thrive Leads sign-ups {b['leads']} -> {a['leads']}"
                             + (" (!)" if a["testimonials"] or a["leads"] else ": erased"))
        elif action == plan.REMOVE_COMMENTS:
            lines.append(f"WordPress comments {before['comments']} -> {after['comments']}: comments deleted "
                         "(not anonymised)")
            if after["contact"] is not None:
                tags = ", ".join(after["contact"]["tags"]) or "none"
                lines.append(f"ActiveCampaign contact kept (still subscribed); tags now: {tags}; comment topic "
                             f"field {'cleared' if not after['contact']['fields'].get(self.field_id) else 'kept'}")
        elif action == plan.UNSUBSCRIBE:
            lines.append(f"WordPress newsletter consent {before['consent']!r} -> {after['consent']!r}: "
                         f"{'consent cleared' if after['consent'] == '0' else 'unchanged (!)'}")
        if action in (plan.ERASE, plan.UNSUBSCRIBE):
            lines.append(f"ActiveCampaign contact {'deleted' if after['contact'] is None else 'still there (!)'}"
                         f"{', unsubscribed first' if action == plan.UNSUBSCRIBE else ''}; "
                         f"email on the suppression list as a keyed hash: {'yes' if after['suppressed'] else 'no'}")
        return lines

    # -- what to try next --------------------------------------------------------------------
    def print_next_steps(self, *, exit_after_story: bool) -> None:
        cmd = wpprivsync_command()
        cfg = self._show(self.config_path)
        self.out("Try the other commands against the sandbox while it runs, in another terminal"
                 + (" (run it without --exit-after-story to keep it up):" if exit_after_story else ":"))
        self.out(f"  export WPPRIVSYNC_CONFIG={cfg}")
        self.out(f"  {cmd} status")
        self.out(f"  {cmd} audit {ANN.email}")
        self.out(f"  {cmd} explain {DAN.email}")
        self.out(f"  {cmd} export {DAN.email} -o dan.zip")
        self.out(f"  {cmd} erase {DAN.email} --dry-run")
        if self.woocommerce:
            self.out(f"  {cmd} retention --dry-run      # {GUEST_BUYER}'s old guest order is due")
        self.out(f"  {cmd} reconcile --dry-run")
        self.out(f"  {cmd} doctor")
        if self.wp is not None:
            self.out(f"Admin page (Tools -> Privacy Sync): {self.wp.url}/wp-admin/tools.php?page=wpprivsync")
            self.out(f"  log in as {self.wp.admin_user} / {self.wp.admin_password}")

    def _show(self, path: Path) -> str:
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)


def _remove_tree(path: Path, attempts: int = 20) -> None:
    """Remove ``path``; retried because the ActiveCampaign rate budget's background thread
    (pyrate-limiter's leaker) may touch its lock file beside the store while we delete."""
    for _ in range(attempts):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return
        time.sleep(0.1)


def describe_step(step: dict[str, Any]) -> str:
    """One line on what a finished step did, from its recorded result."""
    r = step.get("result") or {}
    key = (step["system"], step["action"])
    status = step["status"]
    if status != "done":
        error = f" ({step['last_error']})" if step.get("last_error") else ""
        return f"{step['system']:<15} {step['action']}: {status}{error}"
    if key == ("wordpress", "erase"):
        removed = [e["id"] for e in r.get("erasers", []) if e.get("removed")]
        text = "WordPress       erased: every privacy eraser run for the email; data removed by " + \
            (", ".join(removed) if removed else "none (nothing held)")
        for kept in r.get("retained", []):
            text += f"; {kept.get('kind')} {kept.get('id')} retained until {kept.get('until')}"
        return text
    if key == ("wordpress", "remove_comments"):
        return (f"WordPress       {r.get('comments_deleted', 0)} comments deleted with {r.get('meta_deleted', 0)} "
                "meta rows")
    if key == ("wordpress", "set_consent"):
        if r.get("user") is None:
            return "WordPress       no account with this email: nothing to change"
        return f"WordPress       newsletter consent cleared{'' if r.get('changed') else ' (already clear)'}"
    if key == ("activecampaign", "delete_contact"):
        if not r.get("found"):
            return "ActiveCampaign  no contact with this email"
        if not r.get("deleted", True) and r.get("other_lists"):
            return f"ActiveCampaign  contact kept: still on other lists {r['other_lists']}"
        return f"ActiveCampaign  contact {r.get('contact_id')} deleted (restorable by ActiveCampaign for 30 days)"
    if key == ("activecampaign", "remove_comment_data"):
        return (f"ActiveCampaign  comment-derived data removed: {r.get('tags_removed', 0)} tag(s), "
                f"{r.get('fields_cleared', 0)} field(s)")
    if key == ("activecampaign", "unsubscribe"):
        return f"ActiveCampaign  unsubscribed from lists {r.get('lists')}"
    if key == ("activecampaign", "subscribe"):
        return f"ActiveCampaign  subscribed to lists {r.get('lists')}"
    if key == ("webinarjam", "unsubscribe"):
        if not r.get("unsubscribed"):
            return "WebinarJam      no registration with this email"
        return (f"WebinarJam      {r['unsubscribed']} registration(s) unsubscribed; the API cannot delete: "
                f"manual deletion task {r.get('task_id')} opened")
    if key == ("suppression", "add"):
        return "wpprivsync      keyed hash of the email added to the suppression list" + ("" if r.get("new", True)
                                                                                           else " (already there)")
    return f"{step['system']:<15} {step['action']}: done"


def wpprivsync_command() -> str:
    """How to call ``wpprivsync`` from here: on PATH, or the script beside this Python."""
    found = shutil.which("wpprivsync")
    beside = Path(sys.executable).parent / "wpprivsync"
    if found and Path(found).resolve() == beside.resolve():
        return "wpprivsync"
    if beside.exists():
        try:
            return str(beside.relative_to(Path.cwd()))
        except ValueError:
            return str(beside)
    return f"{sys.executable} -m wpprivsync.cli"
