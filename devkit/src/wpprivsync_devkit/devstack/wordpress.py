"""A real, throwaway WordPress for tests and local trials: the system's WordPress package,
a private MariaDB and PHP's built-in web server, all under one directory.

    stack = WordPressStack(tmp, plugin_dirs=[Path("wp-plugin/wpprivsync")])
    stack.start()            # about 2-3 s
    stack.php("echo get_option('home');")
    stack.snapshot(); ...; stack.restore()
    stack.stop()             # kills every process it started

The site directory is a hard-linked copy of the system's WordPress (``cp -al``): the files
are shared with the package, so this module never writes into a file it did not create
(``wp-config.php`` and ``.htaccess`` are unlinked and replaced, not overwritten).
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import requests

from . import ports, processes
from .mariadb import MariaDB, default_template_cache
from .processes import StackError
from .snapshots import DatabaseSnapshot

log = logging.getLogger(__name__)

SYSTEM_WORDPRESS = Path("/usr/share/wordpress")
WORDPRESS_ENV = "WPPRIVSYNC_WORDPRESS_DIR"
SERVICE_ROLE = "wpprivsync_daemon"
THEME = "wpprivsync-minimal"
STATE_FILE = "state.json"
DATABASE = "wordpress"
_PORT_ATTEMPTS = 3
# The server's workers share the opcode cache of the process that forks them; files are
# checked for changes on every request so an edited plugin is seen at once.
_SERVER_INI = ("-d", "memory_limit=512M", "-d", "opcache.enable_cli=1", "-d", "opcache.validate_timestamps=1",
               "-d", "opcache.revalidate_freq=0")
# PHP helpers shipped as package data; they include each other, so they are used in place.
PHP_DIR = Path(__file__).parent / "php"


class WordPressStack:
    """One WordPress site with its database and web server, rooted at ``root``.

    ``wordpress_dir`` is the WordPress core tree the site is laid out from (default
    ``$WPPRIVSYNC_WORDPRESS_DIR``, else Debian's ``/usr/share/wordpress``); it is never written to.
    ``hpos=True`` switches WooCommerce to High-Performance Order Storage with sync off.

    ``plugin_dirs`` are linked into ``wp-content/plugins`` under their directory names and
    activated in order, after WooCommerce when ``woocommerce_dir`` is given.

    ``multisite=True`` makes the site a network (sub-directories, ``SUBDOMAIN_INSTALL`` false)
    whose super admin is the administrator, with a second site at ``/site2/``
    (``second_site_id``, ``second_site_url``); the plugins are activated on both sites (site by
    site, not network-wide) and the service user holds its role on both.
    """

    def __init__(self, root: Path, *, plugin_dirs: list[Path] | tuple[Path, ...] = (),
                 woocommerce_dir: Path | None = None, workers: int = 4,
                 wordpress_dir: Path | None = None, pick_port: Callable[[], int] = ports.free_port,
                 template_cache: Path | None = None, hpos: bool = False, profile: str = "",
                 multisite: bool = False):
        self.root = Path(root).absolute()
        self.site = self.root / "site"
        self.logs = self.root / "logs"
        self.wordpress_dir = Path(wordpress_dir) if wordpress_dir else default_wordpress_dir()
        self.plugin_dirs = [Path(p).absolute() for p in plugin_dirs]
        self.woocommerce_dir = Path(woocommerce_dir).absolute() if woocommerce_dir else None
        # WooCommerce's High-Performance Order Storage: on (sync off) when True, else posts storage
        self.hpos = hpos
        self.profile = profile  # the name of the profile it was built from, for reports
        self.multisite = multisite
        self._network_ready = False  # wp-config.php says MULTISITE only once the network exists
        self.second_site_id = 0
        self.second_site_url = ""
        self.wp_version = ""
        self.wc_version = ""
        self.order_storage = ""  # "hpos" or "posts" as WooCommerce reports it; "" without it
        if workers < 1:
            raise StackError("workers must be at least 1")
        self.workers = workers
        self._pick_port = pick_port
        # initialised MariaDB data directories are copied from here (see mariadb.MariaDB)
        self.template_cache = template_cache if template_cache is not None else default_template_cache()

        self.admin_user = "admin"
        self.admin_email = "admin@example.test"
        self.admin_password = secrets.token_urlsafe(18)
        self.admin_app_password = ""
        self.service_user = "wpprivsync-daemon"
        self.service_email = "wpprivsync-daemon@example.test"
        self.service_role = SERVICE_ROLE
        self.service_app_password = ""
        self.subscriber_user = "subscriber"
        self.subscriber_email = "subscriber@example.test"
        self.subscriber_password = secrets.token_urlsafe(18)
        self.subscriber_app_password = ""
        self.user_ids: dict[str, int] = {}
        self.plugins: dict[str, str] = {}  # slug -> plugin file, as activated at start
        self.warnings: list[str] = []

        self.http_port = 0
        self.url = ""
        self.db: MariaDB | None = None
        self._server: subprocess.Popen | None = None
        self.server_pid: int | None = None
        self._snapshot: DatabaseSnapshot | None = None
        self.startup_seconds: float | None = None
        self.phase_seconds: dict[str, float] = {}  # where start-up time went

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Create the site, start the database and web server, install WordPress, activate
        the plugins, create the users and Application Passwords."""
        if self.server_pid is not None:
            return
        started = time.monotonic()
        self._check_inputs()
        if self.root.exists() and any(self.root.iterdir()):
            raise StackError(f"{self.root} is not empty; a stack starts in a new directory")
        self.logs.mkdir(parents=True, exist_ok=True)
        self._use_http_port(self._pick_port())
        self.db = MariaDB(self.root / "mysql", port=self._other_port(), template_cache=self.template_cache)
        try:
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                db_ready = pool.submit(self._timed, "database", self._start_database)
                files_ready = pool.submit(self._timed, "site_files", self._build_site)
                files_ready.result()
                self._timed("web_server", self._start_server)
                db_ready.result()
            self._timed("install", self._install)
            self._timed("plugins_and_users", self._setup)
            if self.multisite:
                self._timed("second_site", self._add_second_site)
            self._timed("settle", self._settle)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started

    def stop(self) -> None:
        """Stop the web server and the database (whole process groups) and wait for them."""
        problems = []
        if self.server_pid is not None:
            try:
                processes.kill_group(self.server_pid, proc=self._server)
            except StackError as exc:
                problems.append(str(exc))
            self._server = None
            self.server_pid = None
        if self.db is not None:
            try:
                self.db.cleanup()
            except StackError as exc:
                problems.append(str(exc))
        if problems:
            raise StackError("; ".join(problems))

    def __enter__(self) -> WordPressStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return (self.server_pid is not None and processes.group_alive(self.server_pid)
                and self.db is not None and self.db.running)

    def pgids(self) -> list[int]:
        """Process groups of the running servers (each server leads its own group)."""
        return [p for p in (self.server_pid, self.db.pid if self.db else None) if p is not None]

    # -- database ------------------------------------------------------------------------
    def stop_db(self, *, crash: bool = False) -> None:
        """Stop MariaDB; ``crash=True`` kills it (SIGKILL) instead of shutting it down. The web
        server keeps running and answers with database errors until :meth:`start_db`."""
        self._need_db().stop(crash=crash)

    def start_db(self) -> None:
        self._need_db().start()

    def restart_db(self) -> None:
        """Stop and start MariaDB on the same data directory, socket and port."""
        self._need_db().restart()

    def sql(self, script: str) -> str:
        """Run SQL in the site's database; returns the client's tab-separated output."""
        return self._need_db().sql(script, database=DATABASE)

    def snapshot(self) -> None:
        """Remember the database's current content (see :meth:`restore`)."""
        snap = DatabaseSnapshot(self._need_db(), DATABASE)
        snap.take()
        self._snapshot = snap

    def restore(self) -> None:
        """Put the database back to the last :meth:`snapshot`: changed tables are reloaded,
        tables created since are dropped."""
        if self._snapshot is None:
            raise StackError("no snapshot to restore; call snapshot() first")
        self._snapshot.restore()

    # -- PHP inside the site -------------------------------------------------------------
    def php(self, code: str, *, timeout: float = 120.0) -> str:
        """Run a PHP snippet (no ``<?php`` needed) after WordPress and its admin includes are
        loaded; returns what it printed. No user is logged in (``wp_set_current_user(1)`` for
        the administrator). Notices go to stderr, never into the output; a non-zero exit or
        an uncaught error raises StackError carrying stderr and what WordPress logged."""
        body = code.lstrip()
        if body.startswith("<?php"):
            body = body[len("<?php"):]
        tmp = self.root / "tmp"
        tmp.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=tmp, prefix="snippet-", suffix=".php", delete=False) as f:
            f.write("<?php\n" + body + "\n")
        snippet = Path(f.name)
        try:
            done = self._run_php("run.php", str(snippet), timeout=timeout)
        finally:
            snippet.unlink(missing_ok=True)
        if done.returncode != 0:
            raise StackError(f"PHP snippet failed (exit {done.returncode}):\n{_tail(done.stderr or done.stdout)}")
        if done.stderr.strip():
            log.debug("PHP snippet wrote to stderr: %s", _tail(done.stderr, 5))
        return done.stdout

    def php_json(self, code: str, *, timeout: float = 120.0) -> Any:
        """Run a snippet that echoes ``json_encode(...)`` and decode its output."""
        out = self.php(code, timeout=timeout)
        try:
            return json.loads(out)
        except ValueError:
            raise StackError(f"PHP snippet printed no JSON: {out[:300]!r}") from None

    def activate_plugin(self, slug: str) -> str:
        """Activate the plugin in ``wp-content/plugins/<slug>`` (activation hook included);
        returns its plugin file."""
        result = self.php_json(
            f"$r = wpprivsync_devstack_activate({_php_str(slug)});"
            " if (is_wp_error($r)) { fwrite(STDERR, $r->get_error_message()); exit(1); }"
            " echo json_encode($r);")
        return str(result)

    def deactivate_plugin(self, slug: str) -> str:
        result = self.php_json(
            f"$r = wpprivsync_devstack_deactivate({_php_str(slug)});"
            " if (is_wp_error($r)) { fwrite(STDERR, $r->get_error_message()); exit(1); }"
            " echo json_encode($r);")
        return str(result)

    def active_plugins(self) -> list[str]:
        return list(self.php_json("echo json_encode(array_values(get_option('active_plugins', [])));"))

    def sent_mail(self) -> list[dict[str, Any]]:
        """Mail WordPress tried to send since the stack started (caught, never delivered)."""
        path = self.logs / "mail.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def debug_log(self) -> str:
        """WordPress's debug log (notices, warnings, plugin errors)."""
        path = self.logs / "wp-debug.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- facts ---------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """Connection facts as ``WPPRIVSYNC_*`` environment variables."""
        db = self._need_db().connection()
        return {
            "WPPRIVSYNC_WP_URL": self.url,
            "WPPRIVSYNC_WP_USER": self.service_user,
            "WPPRIVSYNC_WP_APP_PASSWORD": self.service_app_password,
            "WPPRIVSYNC_WP_ADMIN_USER": self.admin_user,
            "WPPRIVSYNC_WP_ADMIN_PASSWORD": self.admin_password,
            "WPPRIVSYNC_WP_ADMIN_APP_PASSWORD": self.admin_app_password,
            "WPPRIVSYNC_WP_SUBSCRIBER_USER": self.subscriber_user,
            "WPPRIVSYNC_WP_SUBSCRIBER_PASSWORD": self.subscriber_password,
            "WPPRIVSYNC_WP_SUBSCRIBER_APP_PASSWORD": self.subscriber_app_password,
            "WPPRIVSYNC_WP_SITE_DIR": str(self.site),
            "WPPRIVSYNC_WP_DB_HOST": db.host,
            "WPPRIVSYNC_WP_DB_PORT": str(db.port),
            "WPPRIVSYNC_WP_DB_SOCKET": str(db.socket),
            "WPPRIVSYNC_WP_DB_NAME": DATABASE,
            "WPPRIVSYNC_WP_DB_USER": db.user,
            "WPPRIVSYNC_WP_DB_PASSWORD": db.password,
        }

    # -- detached stacks (scripts/wp-stack) -----------------------------------------------
    def detach(self) -> Path:
        """Leave the servers running after this process exits; write ``state.json`` so that
        :meth:`attach` can find and stop them later. Returns the state file."""
        if self.server_pid is None or self.db is None or self.db.pid is None:
            raise StackError("the stack is not running")
        state = {
            "url": self.url, "http_port": self.http_port, "workers": self.workers,
            "server_pid": self.server_pid, "db_pid": self.db.pid, "db_port": self.db.port,
            "db_socket": str(self.db.socket),
            "plugin_dirs": [str(p) for p in self.plugin_dirs],
            "woocommerce_dir": str(self.woocommerce_dir) if self.woocommerce_dir else None,
            "wordpress_dir": str(self.wordpress_dir), "hpos": self.hpos, "profile": self.profile,
            "multisite": self.multisite, "second_site_id": self.second_site_id,
            "second_site_url": self.second_site_url,
            "wp_version": self.wp_version, "wc_version": self.wc_version, "order_storage": self.order_storage,
            "plugins": self.plugins, "user_ids": self.user_ids, "warnings": self.warnings,
            "service_role": self.service_role,
            "admin_password": self.admin_password, "admin_app_password": self.admin_app_password,
            "service_app_password": self.service_app_password,
            "subscriber_password": self.subscriber_password,
            "subscriber_app_password": self.subscriber_app_password,
            "startup_seconds": self.startup_seconds,
            "snapshot": self._snapshot.to_dict() if self._snapshot is not None else None,
        }
        path = self.root / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.chmod(0o600)
        tmp.replace(path)
        processes.disown(self.server_pid)
        processes.disown(self.db.pid)
        return path

    @classmethod
    def attach(cls, root: Path) -> WordPressStack:
        """The stack a detached run left in ``root`` (running or not: see ``running``)."""
        root = Path(root).absolute()
        try:
            state = json.loads((root / STATE_FILE).read_text())
        except FileNotFoundError:
            raise StackError(f"no stack state in {root}") from None
        except ValueError:
            raise StackError(f"unreadable stack state in {root}") from None
        stack = cls(root, plugin_dirs=[Path(p) for p in state["plugin_dirs"]],
                    woocommerce_dir=Path(state["woocommerce_dir"]) if state["woocommerce_dir"] else None,
                    workers=state["workers"], wordpress_dir=Path(state.get("wordpress_dir") or SYSTEM_WORDPRESS),
                    hpos=bool(state.get("hpos")), profile=state.get("profile", ""),
                    multisite=bool(state.get("multisite")))
        stack._network_ready = stack.multisite
        stack.second_site_id = int(state.get("second_site_id") or 0)
        stack.second_site_url = str(state.get("second_site_url") or "")
        for key in ("wp_version", "wc_version", "order_storage"):
            setattr(stack, key, state.get(key, ""))
        stack.url, stack.http_port = state["url"], state["http_port"]
        stack.plugins, stack.user_ids = state["plugins"], state["user_ids"]
        stack.warnings, stack.service_role = state["warnings"], state["service_role"]
        for key in ("admin_password", "admin_app_password", "service_app_password",
                    "subscriber_password", "subscriber_app_password", "startup_seconds"):
            setattr(stack, key, state[key])
        stack.db = MariaDB(root / "mysql", port=state["db_port"], socket_path=Path(state["db_socket"]))
        # Only groups still led by the program we started are ours to signal (pids get reused).
        if _runs(state["db_pid"], "mariadbd"):
            stack.db.adopt(state["db_pid"])
        if state.get("snapshot"):
            stack._snapshot = DatabaseSnapshot.from_dict(stack.db, DATABASE, state["snapshot"])
        if _runs(state["server_pid"], "php"):
            stack.server_pid = state["server_pid"]
        return stack

    # -- steps of start() ----------------------------------------------------------------
    def _check_inputs(self) -> None:
        if not (self.wordpress_dir / "wp-settings.php").is_file():
            raise StackError(f"no WordPress in {self.wordpress_dir} (run scripts/install-system-deps)")
        if shutil.which("php") is None:
            raise StackError("php is not installed (run scripts/install-system-deps)")
        dirs = list(self.plugin_dirs) + ([self.woocommerce_dir] if self.woocommerce_dir else [])
        for d in dirs:
            if not d.is_dir():
                raise StackError(f"plugin directory not found: {d}")
        if self.woocommerce_dir and not (self.woocommerce_dir / "woocommerce.php").is_file():
            raise StackError(f"{self.woocommerce_dir} holds no woocommerce.php")
        names = [d.name for d in dirs]
        if len(set(names)) != len(names):
            raise StackError(f"two plugin directories share a name: {sorted(names)}")

    def _start_database(self) -> None:
        assert self.db is not None
        for attempt in range(_PORT_ATTEMPTS):
            try:
                self.db.start()
                break
            except StackError as exc:
                # another program took the port between our check and mariadbd's bind
                if "Address already in use" not in str(exc) or attempt == _PORT_ATTEMPTS - 1:
                    raise
                self.db.port = self._other_port()
        self.db.sql(f"CREATE DATABASE `{DATABASE}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;")

    def _build_site(self) -> None:
        done = subprocess.run(["cp", "-al", str(self.wordpress_dir), str(self.site)], capture_output=True, text=True)
        if done.returncode != 0:
            # hard links cannot cross file systems: fall back to a real copy
            shutil.rmtree(self.site, ignore_errors=True)
            shutil.copytree(self.wordpress_dir, self.site, symlinks=True)
        for name in ("wp-config.php", ".htaccess"):
            (self.site / name).unlink(missing_ok=True)  # shared with the package: never write into it
        self._write_config()
        content = self.site / "wp-content"
        _copy_package_tree("theme", content / "themes" / THEME)
        (content / "mu-plugins").mkdir(exist_ok=True)
        _copy_package_file("mail-catcher.php", content / "mu-plugins" / "wpprivsync-devstack-mail.php")
        _copy_package_file("no-background-work.php", content / "mu-plugins" / "wpprivsync-devstack-quiet.php")
        (content / "uploads").mkdir(exist_ok=True)
        for d in self._plugin_sources():
            link = content / "plugins" / d.name
            if link.is_symlink() or link.exists():
                raise StackError(f"wp-content/plugins/{d.name} already exists in the system's WordPress")
            link.symlink_to(d, target_is_directory=True)

    def _plugin_sources(self) -> list[Path]:
        return ([self.woocommerce_dir] if self.woocommerce_dir else []) + list(self.plugin_dirs)

    def _write_config(self) -> None:
        assert self.db is not None
        values = {
            "DB_NAME": DATABASE,
            "DB_HOST": f"localhost:{self.db.socket}",
            "URL": self.url,
            "DEBUG_LOG": str(self.logs / "wp-debug.log"),
            "MAIL_LOG": str(self.logs / "mail.jsonl"),
        }
        for i in range(1, 9):
            values[f"SALT_{i}"] = secrets.token_urlsafe(48)
        text = _package_text("wp-config.php.in")
        for key, value in values.items():
            text = text.replace(f"@@{key}@@", _php_str(value))
        if "@@" in text:
            raise StackError("wp-config.php.in has a placeholder without a value")
        if self.multisite:
            text = text.replace("if ( ! defined( 'ABSPATH' ) ) {", self._multisite_config() + "\nif ( ! defined( 'ABSPATH' ) ) {", 1)
        path = self.site / "wp-config.php"
        path.unlink(missing_ok=True)  # never write into a file that may be a hard link
        path.write_text(text)
        path.chmod(0o600)

    def _multisite_config(self) -> str:
        lines = ["// A network of sites in sub-directories (devstack multisite).",
                 "define( 'WP_ALLOW_MULTISITE', true );"]
        if self._network_ready:
            lines += ["define( 'MULTISITE', true );", "define( 'SUBDOMAIN_INSTALL', false );",
                      f"define( 'DOMAIN_CURRENT_SITE', {_php_str(self.url.split('://', 1)[1])} );",
                      "define( 'PATH_CURRENT_SITE', '/' );", "define( 'SITE_ID_CURRENT_SITE', 1 );",
                      "define( 'BLOG_ID_CURRENT_SITE', 1 );"]
        return "\n".join(lines) + "\n"

    def _start_server(self) -> None:
        """Start ``php -S`` and wait until it listens; on a port taken meanwhile, move to
        another one (the URL is in wp-config.php, which is rewritten)."""
        env = dict(os.environ)
        env.pop("PHP_CLI_SERVER_WORKERS", None)
        if self.workers > 1:  # PHP refuses a single "worker": without the variable it serves alone
            env["PHP_CLI_SERVER_WORKERS"] = str(self.workers)
        log = self.logs / "php-server.log"
        for attempt in range(_PORT_ATTEMPTS):
            argv = ["php", *_SERVER_INI, "-S", f"127.0.0.1:{self.http_port}", "-t", str(self.site)]
            log_start = log.stat().st_size if log.exists() else 0
            self._server = processes.spawn(argv, log=log, env=env, cwd=self.site)
            self.server_pid = self._server.pid
            try:
                self._wait_http(log, log_start)
                return
            except StackError as exc:
                processes.kill_group(self.server_pid, proc=self._server)
                self._server = None
                self.server_pid = None
                if "Address already in use" not in str(exc) or attempt == _PORT_ATTEMPTS - 1:
                    raise
                self._use_http_port(self._other_port())
                self._write_config()

    def _use_http_port(self, port: int) -> None:
        self.http_port = port
        self.url = f"http://127.0.0.1:{port}"

    def _other_port(self) -> int:
        """A free port that is not the web server's."""
        port = self._pick_port()
        while port == self.http_port:
            port = self._pick_port()
        return port

    def _install(self) -> None:
        self._run_php_json("install.php", {
            "title": "wpprivsync test site", "admin_user": self.admin_user,
            "admin_email": self.admin_email, "admin_password": self.admin_password,
        })
        self.user_ids[self.admin_user] = 1
        if self.multisite:
            self._run_php_json("network.php", {"domain": self.url.split("://", 1)[1], "email": self.admin_email,
                                               "title": "wpprivsync test network"})
            self._network_ready = True
            self._write_config()

    def _add_second_site(self) -> None:
        """The network's second site at /site2/, with the same plugins activated on it and the
        service user in its role there."""
        plugins = ", ".join(_php_str(slug) for slug in self.plugins)
        answer = self.php_json(
            "wp_set_current_user(1);"
            f" $id = wpmu_create_blog(DOMAIN_CURRENT_SITE, '/site2/', 'Second site', 1);"
            " if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message()); exit(1); }"
            # WordPress before 6.2 drops the port's colon from a new site's domain: put it back
            " global $wpdb; $wpdb->update($wpdb->blogs, ['domain' => DOMAIN_CURRENT_SITE], ['blog_id' => $id]);"
            " clean_blog_cache($id);"
            " switch_to_blog($id);"
            f" update_option('home', {_php_str(self.url + '/site2')}); update_option('siteurl', {_php_str(self.url + '/site2')});"
            f" foreach ([{plugins}] as $slug) {{ $r = wpprivsync_devstack_activate($slug);"
            "   if (is_wp_error($r)) { fwrite(STDERR, $slug . ': ' . $r->get_error_message()); exit(1); } }"
            f" $service = get_user_by('login', {_php_str(self.service_user)});"
            f" add_user_to_blog($id, $service->ID, get_role({_php_str(self.service_role)}) ? "
            f"{_php_str(self.service_role)} : 'subscriber');"
            " $url = untrailingslashit(home_url());"
            " restore_current_blog();"
            " echo json_encode(['id' => (int) $id, 'url' => $url]);")
        self.second_site_id = int(answer["id"])
        self.second_site_url = str(answer["url"])

    def _setup(self) -> None:
        users = [
            {"login": self.service_user, "email": self.service_email, "password": secrets.token_urlsafe(18),
             "role": SERVICE_ROLE, "fallback_role": "subscriber"},
            {"login": self.subscriber_user, "email": self.subscriber_email, "password": self.subscriber_password,
             "role": "subscriber", "fallback_role": "subscriber"},
        ]
        answer = self._run_php_json("setup.php", {
            "plugins": [d.name for d in self._plugin_sources()],
            "users": users,
            "app_passwords": [self.admin_user, self.service_user, self.subscriber_user],
        })
        self.plugins = dict(answer["plugins"])
        for login, info in answer["users"].items():
            self.user_ids[login] = int(info["id"])
        self.service_role = answer["users"][self.service_user]["role"]
        self.admin_app_password = answer["app_passwords"][self.admin_user]
        self.service_app_password = answer["app_passwords"][self.service_user]
        self.subscriber_app_password = answer["app_passwords"][self.subscriber_user]
        self.warnings = list(answer["warnings"])
        for text in self.warnings:
            warnings.warn(f"WordPress stack: {text}", RuntimeWarning, stacklevel=3)

    def _settle(self) -> None:
        """After activation: switch WooCommerce to HPOS when asked (the way its settings page
        does, with compatibility sync off), then load one admin page as the administrator, as
        a person would after activating plugins (some plugins, Thrive's among them, create
        tables only then). Records the versions and order storage actually in use."""
        if self.hpos:
            if self.woocommerce_dir is None:
                raise StackError("HPOS needs WooCommerce")
            self._run_php_json("hpos.php", {"enable": True})
        self.load_admin_page("index.php")
        facts = self._run_php_json("facts.php", {})
        self.wp_version = str(facts["wp_version"])
        self.wc_version = str(facts.get("wc_version") or "")
        self.order_storage = str(facts.get("order_storage") or "")
        if self.hpos and self.order_storage != "hpos":
            raise StackError(f"HPOS was asked for but WooCommerce stores orders in {self.order_storage or 'nothing'}")

    def admin_client(self) -> requests.Session:
        """An HTTP session logged in to wp-admin as the administrator (cookies, like a browser)."""
        client = requests.Session()
        client.cookies.set("wordpress_test_cookie", "WP Cookie check")
        answer = client.post(f"{self.url}/wp-login.php", timeout=60, data={
            "log": self.admin_user, "pwd": self.admin_password, "wp-submit": "Log In",
            "redirect_to": f"{self.url}/wp-admin/", "testcookie": "1"})
        if answer.status_code != 200 or not any(c.startswith("wordpress_logged_in_") for c in client.cookies.keys()):
            client.close()
            raise StackError(f"could not log in to wp-admin as {self.admin_user} (HTTP {answer.status_code})")
        return client

    def load_admin_page(self, page: str) -> str:
        """GET ``/wp-admin/<page>`` as the administrator; returns the HTML."""
        with self.admin_client() as client:
            answer = client.get(f"{self.url}/wp-admin/{page}", timeout=120)
        if answer.status_code != 200:
            raise StackError(f"wp-admin/{page} answered HTTP {answer.status_code}")
        return answer.text

    def _wait_http(self, log: Path, log_start: int, timeout: float = 15.0) -> None:
        """Wait for the server's own "started" line: a connection alone could reach another
        program that holds the port."""
        assert self._server is not None
        started = f"Development Server (http://127.0.0.1:{self.http_port}) started"
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            with open(log, "rb") as f:
                f.seek(log_start)
                written = f.read().decode(errors="replace")
            if started in written and ports.is_listening(self.http_port):
                return
            if self._server.poll() is not None:
                raise StackError("php -S exited:\n" + _tail(written))
            if time.monotonic() > deadline:
                raise StackError(f"php -S did not listen on port {self.http_port} within {timeout:g} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    # -- helpers -------------------------------------------------------------------------
    def _timed(self, phase: str, step: Callable[[], None]) -> None:
        began = time.monotonic()
        step()
        self.phase_seconds[phase] = time.monotonic() - began

    def _need_db(self) -> MariaDB:
        if self.db is None:
            raise StackError("the stack was never started")
        return self.db

    def _php_env(self) -> dict[str, str]:
        return dict(os.environ, WPPRIVSYNC_DEVSTACK_SITE=str(self.site), WPPRIVSYNC_DEVSTACK_URL=self.url)

    def _cli_ini(self) -> list[str]:
        # Command-line runs share compiled scripts through an on-disk opcode cache: a snippet
        # with WooCommerce active takes about half the time.
        cache = self.root / "opcache"
        cache.mkdir(exist_ok=True)
        return ["-d", "memory_limit=512M", "-d", "opcache.enable_cli=1", "-d", f"opcache.file_cache={cache}",
                "-d", "opcache.file_cache_only=1", "-d", "opcache.validate_timestamps=1",
                "-d", "opcache.revalidate_freq=0"]

    def _run_php(self, script: str, *args: str, stdin: str = "", timeout: float = 120.0) -> subprocess.CompletedProcess:
        """Run one of the PHP helpers in the site; a failed run's stderr gets what it wrote to
        WordPress's debug log."""
        debug_log = self.logs / "wp-debug.log"
        seen = debug_log.stat().st_size if debug_log.exists() else 0
        try:
            done = subprocess.run(["php", *self._cli_ini(), str(PHP_DIR / script), *args], input=stdin,
                                  capture_output=True, text=True, env=self._php_env(),
                                  cwd=self.site, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise StackError(f"PHP {script} did not finish within {timeout:g} s") from None
        if done.returncode != 0 and debug_log.exists():
            # WordPress sends errors to its debug log, not to the terminal: add what this run logged
            with open(debug_log, "rb") as f:
                f.seek(seen)
                logged = f.read().decode(errors="replace")
            if logged.strip():
                done.stderr = (done.stderr or "") + logged
        return done

    def _run_php_json(self, script: str, data: dict[str, Any]) -> dict[str, Any]:
        done = self._run_php(script, stdin=json.dumps(data))
        if done.returncode != 0:
            raise StackError(f"{script} failed (exit {done.returncode}):\n{_tail(done.stderr or done.stdout)}")
        try:
            # the answer is the last line; anything before it is noise from plugins
            return json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise StackError(f"{script} printed no JSON answer:\n{_tail(done.stdout + done.stderr)}") from None


def default_wordpress_dir() -> Path:
    """``$WPPRIVSYNC_WORDPRESS_DIR`` (any WordPress tree), else Debian's package."""
    value = os.environ.get(WORDPRESS_ENV, "").strip()
    return Path(value).absolute() if value else SYSTEM_WORDPRESS


def _runs(pid: int | None, program: str) -> bool:
    if not pid:
        return False
    argv = processes.cmdline(pid)
    return bool(argv) and Path(argv[0]).name.startswith(program) and processes.group_alive(pid)


def _package_text(name: str) -> str:
    return (PHP_DIR / name).read_text()


def _copy_package_file(name: str, dest: Path) -> None:
    shutil.copyfile(PHP_DIR / name, dest)


def _copy_package_tree(name: str, dest: Path) -> None:
    shutil.copytree(PHP_DIR / name, dest)


def _php_str(value: str) -> str:
    """A single-quoted PHP string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
