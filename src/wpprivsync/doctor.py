"""``doctor``: is every configured site ready for the daemon? One result per check.

For each site: WordPress reachable, credentials valid, plugin active (and its version), the
service user holds the plugin's capability; ActiveCampaign reachable, token valid, each
newsletter list exists. Then: the store is writable, the policy file loads and checks, and at
least one site is configured (doctor fails with none: the daemon would have nothing to do, so
the systemd unit's ``ExecStartPre`` stops the start instead of passing). A failed check does not stop the others
of the other system (ActiveCampaign is checked even when WordPress is down); checks that
depend on a failed one are reported as skipped, saying why.

The HTTP session, the client constructors and the store opener are passed in, so tests run
the checks against real or local servers without patching.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import requests

from . import errors
from .settings import Settings, SiteSettings

CAPABILITY = "wpprivsync_sync"
ROLE = "wpprivsync_daemon"
NAMESPACE = "wpprivsync/v1"

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True)
class CheckResult:
    site: str | None  # None for checks not tied to a site (the store)
    system: str  # "wordpress", "activecampaign", "webinarjam", "store", "policy", "config"
    name: str  # "reachable", "credentials", "plugin", "capability", "token", "list 7", "writable"
    status: str  # PASS, FAIL or SKIP
    detail: str  # the reason, never a secret

    @property
    def ok(self) -> bool:
        return self.status == PASS

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


WordPressFactory = Callable[[SiteSettings, requests.Session], Any]
ActiveCampaignFactory = Callable[[SiteSettings, requests.Session, Settings], Any]


def default_wordpress(site: SiteSettings, session: requests.Session, *, timeout: float = 10.0) -> Any:
    from .clients.wordpress import WordPressClient

    assert site.wordpress_app_password is not None  # settings guarantee it
    return WordPressClient(str(site.wordpress_url), site.wordpress_user,
                           site.wordpress_app_password.get_secret_value(),
                           session=session, timeout=timeout, verify=site.verify_tls)


def default_activecampaign(site: SiteSettings, session: requests.Session, settings: Settings, *,
                           timeout: float = 10.0) -> Any:
    """The real client, sharing the account's rate budget, retrying once at most: doctor
    reports a failure rather than waiting it out. When the shared budget cannot be set up
    (its database lives next to the store, whose own check reports why) the client runs
    without one: doctor makes only a few calls."""
    from .clients.activecampaign import ActiveCampaignClient
    from .clients.ratebudget import rate_budget

    assert site.activecampaign_token is not None  # settings guarantee it
    try:
        budget = rate_budget(site.account_key, store_url=settings.store_url)
    except Exception:  # noqa: BLE001 — see above
        budget = None
    return ActiveCampaignClient(str(site.activecampaign_url), site.activecampaign_token.get_secret_value(),
                                session=session, budget=budget, timeout=timeout, max_retries=1,
                                max_429_retries=2, backoff_max=2.0)


def default_store_opener(url: str) -> Any:
    from .store import open_store

    return open_store(url)


def run_checks(settings: Settings, *, session_factory: Callable[[], requests.Session] = requests.Session,
               store_opener: Callable[[str], Any] = default_store_opener,
               wordpress_factory: WordPressFactory | None = None,
               activecampaign_factory: ActiveCampaignFactory | None = None,
               sites: Iterable[str] | None = None) -> list[CheckResult]:
    """Run every check and return the results in a stable order: per site WordPress then
    ActiveCampaign, then the store. ``sites`` limits the sites checked (default: all)."""
    wordpress_factory = wordpress_factory or default_wordpress
    activecampaign_factory = activecampaign_factory or default_activecampaign
    chosen = list(settings.sites) if sites is None else [settings.site(n) for n in sites]
    results: list[CheckResult] = []
    for site in chosen:
        with session_factory() as session:
            results += check_wordpress(site, wordpress_factory(site, session))
        with session_factory() as session:
            results += check_activecampaign(  # the factory is called before the loop moves on
                site, lambda: activecampaign_factory(site, session, settings))  # noqa: B023
        if site.webinarjam:
            with session_factory() as session:
                results += check_webinarjam(site, default_webinarjam(site, session))
    results += check_store(settings.store_url, store_opener)
    results += check_policy(settings.policy_file)
    results += check_sites(settings)
    return results


# -- WordPress ---------------------------------------------------------------------------


def check_wordpress(site: SiteSettings, client: Any) -> list[CheckResult]:
    name = site.name
    url = str(site.wordpress_url).rstrip("/")

    def result(check: str, status: str, detail: str) -> CheckResult:
        return CheckResult(name, "wordpress", check, status, detail)

    out: list[CheckResult] = []
    # 1. reachable: the unauthenticated REST index answers
    index: dict[str, Any] | None = None
    try:
        index = client.index()
        if not isinstance(index, dict) or "namespaces" not in index:
            raise errors.BadResponse("the REST index lists no namespaces", system="wordpress")
        out.append(result("reachable", PASS, f"REST API answers at {url}"
                          + (f" ({index['name']})" if index.get("name") else "")))
    except errors.Unreachable as exc:
        out.append(result("reachable", FAIL, f"{_unreachable(exc)} (check wordpress_url)"))
    except errors.NotFound:
        out.append(result("reachable", FAIL, f"not reachable: no WordPress REST API at {url} (check wordpress_url)"))
    except errors.WpprivsyncError as exc:
        out.append(result("reachable", FAIL, f"not reachable: {_reason(exc)} (is {url} a WordPress site?)"))
    if index is None:
        why = "skipped: WordPress not reachable"
        return out + [result(c, SKIP, why) for c in ("credentials", "plugin", "capability")]

    # 2. credentials: the service user signs in with its Application Password
    me: dict[str, Any] | None = None
    try:
        me = client.me()
        roles = ", ".join(me.get("roles") or []) or "no role"
        out.append(result("credentials", PASS, f"signed in as {me.get('slug') or site.wordpress_user} ({roles})"))
    except errors.AuthenticationFailed as exc:
        detail = (f"authentication failed{_code(exc)}: check wordpress_user and wordpress_app_password "
                  "(an Application Password of that user)")
        if site.wordpress_url.scheme == "http":
            detail += "; over plain http WordPress accepts Application Passwords only when WP_ENVIRONMENT_TYPE is local"
        out.append(result("credentials", FAIL, detail))
    except errors.WpprivsyncError as exc:
        out.append(result("credentials", FAIL, f"cannot sign in: {_reason(exc)}"))

    # 3. plugin: its namespace is registered (works without credentials); version from status
    if NAMESPACE not in (index.get("namespaces") or []):
        out.append(result("plugin", FAIL, "plugin not active: the REST namespace wpprivsync/v1 is missing "
                          "(activate wpprivsync under Plugins)"))
    elif me is None:
        out.append(result("plugin", PASS, "plugin active (version unknown: cannot sign in)"))
    else:
        try:
            status = client.status()
            version = status.get("version", "unknown") if isinstance(status, dict) else "unknown"
            extra = ""
            if isinstance(status, dict) and "woocommerce" in status:
                extra = ", WooCommerce " + ("active" if status["woocommerce"] else "not active")
            out.append(result("plugin", PASS, f"plugin active, version {version}{extra}"))
        except errors.PermissionDenied:
            out.append(result("plugin", PASS, "plugin active (version unknown: the user lacks the capability)"))
        except errors.WpprivsyncError as exc:
            out.append(result("plugin", FAIL, f"plugin active but its status fails: {_reason(exc)}"))

    # 4. capability: the service user may use the plugin's routes
    if me is None:
        out.append(result("capability", SKIP, "skipped: cannot sign in to WordPress"))
    else:
        caps = me.get("capabilities") or {}
        if isinstance(caps, dict) and caps.get(CAPABILITY):
            out.append(result("capability", PASS, f"{site.wordpress_user} holds {CAPABILITY}"))
        else:
            out.append(result("capability", FAIL, f"{site.wordpress_user} lacks capability {CAPABILITY} "
                              f"(give it the role {ROLE})"))
    return out


# -- ActiveCampaign ----------------------------------------------------------------------


def check_activecampaign(site: SiteSettings, build: Callable[[], Any]) -> list[CheckResult]:
    name = site.name
    url = str(site.activecampaign_url).rstrip("/")
    lists = [f"list {i}" for i in site.newsletter_list_ids]

    def result(check: str, status: str, detail: str) -> CheckResult:
        return CheckResult(name, "activecampaign", check, status, detail)

    try:
        client = build()
    except Exception as exc:  # noqa: BLE001 — e.g. the rate budget's database; report, don't crash
        reason = f"cannot set up the client: {_reason(exc) or type(exc).__name__}"
        return [result(c, FAIL if c == "reachable" else SKIP, reason if c == "reachable" else
                       "skipped: no client") for c in ("reachable", "token", *lists)]

    try:
        client.check()
        out = [result("reachable", PASS, f"API answers at {url}"), result("token", PASS, "token accepted")]
    except errors.Unreachable as exc:
        why = "skipped: ActiveCampaign not reachable"
        return [result("reachable", FAIL, f"{_unreachable(exc)} (check activecampaign_url)"),
                *(result(c, SKIP, why) for c in ("token", *lists))]
    except (errors.AuthenticationFailed, errors.PermissionDenied) as exc:
        why = "skipped: token not accepted"
        return [result("reachable", PASS, f"API answers at {url}"),
                result("token", FAIL, f"token not accepted{_code(exc)}: check activecampaign_token"),
                *(result(c, SKIP, why) for c in lists)]
    except errors.NotFound:
        why = "skipped: ActiveCampaign not reachable"
        return [result("reachable", FAIL, f"not reachable: no ActiveCampaign API at {url} "
                       "(check activecampaign_url: the account's API URL followed by /api/3)"),
                *(result(c, SKIP, why) for c in ("token", *lists))]
    except errors.WpprivsyncError as exc:
        why = "skipped: ActiveCampaign check failed"
        return [result("reachable", FAIL, f"not usable: {_reason(exc)}"),
                *(result(c, SKIP, why) for c in ("token", *lists))]

    for list_id, check in zip(site.newsletter_list_ids, lists):
        try:
            found = client.get_list(list_id)
            label = _list_name(found)
            out.append(result(check, PASS, f"list {list_id} exists" + (f" ({label})" if label else "")))
        except errors.NotFound:
            out.append(result(check, FAIL, f"list {list_id} not found (check newsletter_list_ids)"))
        except errors.WpprivsyncError as exc:
            out.append(result(check, FAIL, f"cannot read list {list_id}: {_reason(exc)}"))
    return out


# -- WebinarJam --------------------------------------------------------------------------
def default_webinarjam(site: SiteSettings, session: requests.Session, *, timeout: float = 10.0) -> Any:
    from .clients.webinarjam import WebinarJamClient

    assert site.webinarjam_api_key is not None  # settings guarantee it when webinars are set
    return WebinarJamClient(str(site.webinarjam_url), site.webinarjam_api_key.get_secret_value(), session=session,
                            timeout=timeout, max_retries=1, backoff_base=0.2)


def check_webinarjam(site: SiteSettings, client: Any) -> list[CheckResult]:
    """The key works (``webinars``) and every configured webinar exists in the account."""
    url = str(site.webinarjam_url).rstrip("/")
    webinars = [f"webinar {i}" for i in site.webinarjam_webinar_ids]

    def result(check: str, status: str, detail: str) -> CheckResult:
        return CheckResult(site.name, "webinarjam", check, status, detail)

    try:
        found = {int(w["webinar_id"]) for w in client.webinars()}
    except errors.Unreachable as exc:
        return [result("reachable", FAIL, f"{_unreachable(exc)} (check webinarjam_url)"),
                *(result(c, SKIP, "skipped: WebinarJam not reachable") for c in ("api key", *webinars))]
    except errors.AuthenticationFailed as exc:
        return [result("reachable", PASS, f"API answers at {url}"),
                result("api key", FAIL, f"API key not accepted ({_reason(exc).split('(', 1)[-1].rstrip(')')}): "
                                        "check webinarjam_api_key_file (invalid or revoked key)"),
                *(result(c, SKIP, "skipped: API key not accepted") for c in webinars)]
    except errors.WpprivsyncError as exc:
        return [result("reachable", FAIL, f"not usable: {_reason(exc)}"),
                *(result(c, SKIP, "skipped: WebinarJam check failed") for c in ("api key", *webinars))]
    out = [result("reachable", PASS, f"API answers at {url}"), result("api key", PASS, "API key accepted")]
    for webinar_id, check in zip(site.webinarjam_webinar_ids, webinars):
        out.append(result(check, PASS, f"webinar {webinar_id} exists") if webinar_id in found else
                   result(check, FAIL, f"webinar {webinar_id} not in the account (check webinarjam_webinar_ids)"))
    return out


def _list_name(found: Any) -> str | None:
    if isinstance(found, dict):
        inner = found.get("list", found)
        if isinstance(inner, dict):
            return inner.get("name") or None
    return getattr(found, "name", None)


# -- store -------------------------------------------------------------------------------


def check_store(url: str, opener: Callable[[str], Any]) -> list[CheckResult]:
    from .settings import _mask_url_password

    shown = _mask_url_password(url)
    try:
        store = opener(url)
    except errors.WpprivsyncError as exc:
        return [CheckResult(None, "store", "writable", FAIL, f"cannot open {shown}: {_reason(exc)}")]
    try:
        store.check_writable()
        return [CheckResult(None, "store", "writable", PASS, f"{shown} is writable")]
    except errors.WpprivsyncError as exc:
        return [CheckResult(None, "store", "writable", FAIL, f"{shown} is not writable: {_reason(exc)}")]
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            close()


# -- policy and configuration ----------------------------------------------------------


def check_policy(path: Path) -> list[CheckResult]:
    """The policy file loads and passes the policy's checks (every rule the engine needs, each
    quoting its clause); says whether it is the default shipped with wpprivsync."""
    from .policy import load_policy
    from .settings import default_policy_file

    which = "the default policy" if path == default_policy_file() else str(path)
    try:
        policy = load_policy(path)
    except errors.WpprivsyncError as exc:
        return [CheckResult(None, "policy", "rules", FAIL, f"{which}: {_reason(exc)}")]
    return [CheckResult(None, "policy", "rules", PASS, f"{which}: {len(policy.rules)} rules")]


def check_sites(settings: Settings) -> list[CheckResult]:
    """At least one site is configured: with none, the daemon has nothing to do."""
    if not settings.sites:
        return [CheckResult(None, "config", "sites", FAIL,
                            "no site configured: add a [[sites]] table to the configuration file "
                            "(see config/wpprivsync.example.toml)")]
    names = ", ".join(site.name for site in settings.sites)
    count = len(settings.sites)
    return [CheckResult(None, "config", "sites", PASS, f"{count} site{'s' if count != 1 else ''} configured: {names}")]


# -- helpers -----------------------------------------------------------------------------


def _reason(exc: BaseException) -> str:
    """The error's message without the "system: " prefix RemoteError adds."""
    text = str(exc)
    system = getattr(exc, "system", None)
    if system and text.startswith(f"{system}: "):
        text = text[len(system) + 2:]
    return text


def _unreachable(exc: BaseException) -> str:
    reason = _reason(exc)
    return reason if reason.startswith("not reachable") else f"not reachable: {reason}"


def _code(exc: errors.RemoteError) -> str:
    if exc.code:
        return f" ({exc.code})"
    return f" (HTTP {exc.status})" if exc.status else ""


def summary(results: list[CheckResult]) -> dict[str, int]:
    return {s: sum(1 for r in results if r.status == s) for s in (PASS, FAIL, SKIP)}
