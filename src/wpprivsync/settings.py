"""Settings, built once from (highest first) init arguments, ``WPPRIVSYNC_*`` environment
variables, secrets files, and a TOML file; then passed down. No module-level config.

Nested keys in the environment use ``__``: ``WPPRIVSYNC_SITES='[{...}]'`` (JSON) or
``WPPRIVSYNC_STORE_URL=...``. A secret can be given inline or, better, as a file:
``site_secret_file``, and per site ``wordpress_app_password_file`` and
``activecampaign_token_file``; a secrets directory (``WPPRIVSYNC_SECRETS_DIR``, default
``/run/secrets``) may hold a file per top-level field (``site_secret``).
"""

from __future__ import annotations

import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from .errors import ConfigError

APP = "wpprivsync"
DEFAULT_CONFIG = Path(platformdirs.user_config_dir(APP)) / "wpprivsync.toml"
DEFAULT_SECRETS_DIR = Path("/run/secrets")
_TOML_PATH: ContextVar[Path | None] = ContextVar("wpprivsync_toml_path", default=None)
_SECRETS_DIR: ContextVar[Path | None] = ContextVar("wpprivsync_secrets_dir", default=None)


def default_store_url() -> str:
    return "sqlite:///" + str(Path(platformdirs.user_state_dir(APP)) / "wpprivsync.sqlite3")


def default_policy_file() -> Path:
    """The policy shipped inside the package (``config/policy.toml`` in a checkout, the same
    file); ``policy_file`` in the settings points elsewhere to override it."""
    return Path(__file__).resolve().parent / "policy" / "policy.toml"


class _FieldProblem(ValueError):
    """A problem found by a model validator, naming the field it is about (pydantic gives
    model-level errors no location of their own)."""

    def __init__(self, field: str, message: str, hint: str | None = None):
        self.field = field
        self.hint = hint
        super().__init__(message)


def _read_secret_file(path: Path, field: str) -> SecretStr:
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise _FieldProblem(f"{field}_file", f"cannot read secret file {path}: {exc.strerror}",
                            "check the path and that this user may read it") from None
    except UnicodeDecodeError:
        raise _FieldProblem(f"{field}_file", f"secret file {path} is not UTF-8 text") from None
    if not text:
        raise _FieldProblem(f"{field}_file", f"secret file {path} is empty", "write the secret into it")
    return SecretStr(text)


class SiteSettings(BaseModel):
    """One WordPress site and the ActiveCampaign account its newsletter uses."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    wordpress_url: AnyHttpUrl
    wordpress_user: str = Field(min_length=1)
    wordpress_app_password: SecretStr | None = None
    wordpress_app_password_file: Path | None = None
    activecampaign_url: AnyHttpUrl
    activecampaign_token: SecretStr | None = None
    activecampaign_token_file: Path | None = None
    newsletter_list_ids: list[int] = Field(min_length=1)
    verify_tls: bool = True
    # WebinarJam (optional): which webinars hold this site's sign-ups, and the account's key
    webinarjam_url: AnyHttpUrl = AnyHttpUrl("https://api.webinarjam.com/webinarjam")
    webinarjam_api_key: SecretStr | None = None
    webinarjam_api_key_file: Path | None = None
    webinarjam_webinar_ids: list[int] = Field(default_factory=list)
    # policy systems without an API whose rules become manual tasks on erasure and export
    manual_task_systems: list[str] = Field(default_factory=list)
    # After every erasure, scan the WordPress database for what it left (docs/ERASURE.md)
    residue_scan: bool = True

    @field_validator("newsletter_list_ids")
    @classmethod
    def _positive_ids(cls, ids: list[int]) -> list[int]:
        if any(i <= 0 for i in ids):
            raise ValueError("list ids are positive integers")
        return ids

    @model_validator(mode="after")
    def _secrets_from_files(self) -> "SiteSettings":
        for field in ("wordpress_app_password", "activecampaign_token"):
            path = getattr(self, f"{field}_file")
            if getattr(self, field) is None:
                if path is None:
                    raise _FieldProblem(field, "missing", f"set {field} or {field}_file")
                setattr(self, field, _read_secret_file(path, field))
        unknown = sorted(set(self.manual_task_systems) - {"correspondence", "accounting"})
        if unknown:
            raise _FieldProblem("manual_task_systems", f"unknown system {', '.join(map(repr, unknown))}",
                                'use "correspondence" and/or "accounting"')
        if any(i <= 0 for i in self.webinarjam_webinar_ids):
            raise _FieldProblem("webinarjam_webinar_ids", "webinar ids are positive integers")
        if self.webinarjam_api_key is None and self.webinarjam_api_key_file is not None:
            self.webinarjam_api_key = _read_secret_file(self.webinarjam_api_key_file, "webinarjam_api_key")
        if self.webinarjam_webinar_ids and self.webinarjam_api_key is None:
            raise _FieldProblem("webinarjam_api_key", "missing: required when webinarjam_webinar_ids are set",
                                "set webinarjam_api_key_file")
        return self

    @property
    def webinarjam(self) -> bool:
        """True when the site's webinar sign-ups live in WebinarJam."""
        return bool(self.webinarjam_webinar_ids)

    @property
    def account_key(self) -> str:
        """Identifies the ActiveCampaign account, for the shared rate budget."""
        return str(self.activecampaign_url).rstrip("/")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WPPRIVSYNC_",
        env_nested_delimiter="__",
        extra="forbid",
        secrets_dir=None,
    )

    store_url: str = Field(default_factory=default_store_url)
    site_secret: SecretStr | None = None
    site_secret_file: Path | None = None
    policy_file: Path = Field(default_factory=default_policy_file)
    sites: list[SiteSettings] = Field(default_factory=list)

    poll_interval_s: float = Field(default=1.0, gt=0)
    heartbeat_interval_s: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=8, ge=1, le=100)
    reconcile_at: str = Field(default="03:15", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    retention_at: str = Field(default="04:15", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    export_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_state_dir(APP)) / "exports")
    log_json: bool = False
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    step_concurrency: int = Field(default=4, ge=1, le=32)
    step_lease_s: float = Field(default=120.0, ge=1, le=86400)
    # the residue scan waits for a moment with no other work, at most this long (docs/ERASURE.md)
    residue_scan_max_wait_s: float = Field(default=900.0, ge=0, le=86400)

    @field_validator("store_url")
    @classmethod
    def _store_scheme(cls, url: str) -> str:
        if not url.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return url

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        if self.site_secret is None and self.site_secret_file is not None:
            self.site_secret = _read_secret_file(self.site_secret_file, "site_secret")
        if self.site_secret is not None and len(self.site_secret.get_secret_value()) < 16:
            raise _FieldProblem("site_secret", "too short: it must be at least 16 characters",
                                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'")
        if self.sites and self.site_secret is None:
            raise _FieldProblem("site_secret", "missing: required when sites are configured",
                                "set site_secret_file (or WPPRIVSYNC_SITE_SECRET)")
        names = [s.name for s in self.sites]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise _FieldProblem("sites", f"duplicate site name {', '.join(map(repr, dupes))}",
                                "give every [[sites]] table its own name")
        return self

    def site(self, name: str | None) -> SiteSettings:
        if not self.sites:
            raise ConfigError("no site is configured", field="sites", hint="add a [[sites]] table to the config file")
        if name is None:
            if len(self.sites) > 1:
                raise ConfigError("several sites are configured", field="site", hint="pick one with --site NAME")
            return self.sites[0]
        for s in self.sites:
            if s.name == name:
                return s
        raise ConfigError(f"no site named {name!r}", field="site", hint="see `wpprivsync config show`")

    @property
    def secret(self) -> str:
        if self.site_secret is None:
            raise ConfigError("missing", field="site_secret", hint="set site_secret_file in the config file")
        return self.site_secret.get_secret_value()

    # -- sources -----------------------------------------------------------------------
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        secrets_dir = _SECRETS_DIR.get()
        if secrets_dir is not None:
            # a file per top-level field, named "site_secret" (as Docker/systemd credentials
            # name them) or "wpprivsync_site_secret"
            sources.append(SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir))
            sources.append(SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir, env_prefix=""))
        toml = _TOML_PATH.get()
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)


def _location(loc: tuple[Any, ...]) -> str:
    """("sites", 0, "wordpress_url") -> "sites[0].wordpress_url"."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _describe(err: ErrorDetails) -> tuple[str, str, str | None]:
    """(field, message, hint) for one pydantic error."""
    where = tuple(err.get("loc", ()))
    msg = err.get("msg", "invalid value")
    msg = msg.removeprefix("Value error, ")
    kind = err.get("type", "")
    problem = (err.get("ctx") or {}).get("error")
    if isinstance(problem, _FieldProblem):
        field = _location(where + (problem.field,)) if problem.field not in where else _location(where)
        return field, str(problem), problem.hint
    loc = _location(where) or "config"
    hints = {
        "missing": "this setting is required",
        "extra_forbidden": "unknown setting: remove it or check its spelling",
        "url_parsing": "give a full URL such as https://example.com",
        "url_scheme": "use http:// or https://",
        "int_parsing": "give a whole number",
        "bool_parsing": "use true or false",
        "string_pattern_mismatch": "see config/wpprivsync.example.toml for the format",
        "string_type": "give a quoted string",
        "string_too_short": "it must not be empty",
        "float_parsing": "give a number",
        "int_from_float": "give a whole number",
        "list_type": "give a list, e.g. [1, 2]",
        "too_short": "give at least one, e.g. [1]",
        "greater_than": "see config/wpprivsync.example.toml for sensible values",
        "greater_than_equal": "see config/wpprivsync.example.toml for sensible values",
        "less_than_equal": "see config/wpprivsync.example.toml for sensible values",
        "model_type": "give a table ([[sites]] in TOML, an object in JSON)",
    }
    if kind == "string_pattern_mismatch" and str(loc).endswith("name"):
        kind = "site_name"
        hints[kind] = "use letters, digits, '.', '_' or '-'"
    return loc, msg, hints.get(kind)


def load_settings(config: Path | str | None = None, **overrides: Any) -> Settings:
    """Build the settings once. ``config`` is a TOML path; None means ``$WPPRIVSYNC_CONFIG``
    or the user's config directory when that file exists. Raises ConfigError, never
    ValidationError; the message names the field and never shows a secret value."""
    path: Path | None
    if config is not None:
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"file not found: {path}", field="config", hint="pass --config PATH to an existing TOML file")
    elif os.environ.get("WPPRIVSYNC_CONFIG"):
        path = Path(os.environ["WPPRIVSYNC_CONFIG"])
        if not path.is_file():
            raise ConfigError(f"file not found: {path}", field="WPPRIVSYNC_CONFIG", hint="point it at an existing TOML file")
    else:
        path = DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None

    secrets_dir = Path(os.environ.get("WPPRIVSYNC_SECRETS_DIR", DEFAULT_SECRETS_DIR))
    token = _TOML_PATH.set(path)
    secrets_token = _SECRETS_DIR.set(secrets_dir if secrets_dir.is_dir() else None)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False, include_context=True)[0]
        field, message, hint = _describe(first)
        more = len(exc.errors()) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
        where = f" in {path}" if path else ""
        raise ConfigError(f"{message}{where}{suffix}", field=field, hint=hint) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", field="config", hint="fix the syntax at that line") from None
    except SettingsError as exc:
        # e.g. WPPRIVSYNC_SITES is not valid JSON; the message names the field, not the value
        m = re.search(r'field "([^"]+)" from source "(\w+)"', str(exc))
        name, source = (m.group(1), m.group(2)) if m else ("config", "settings")
        where = f"WPPRIVSYNC_{name.upper()}" if source.startswith("Env") else name
        raise ConfigError(f"cannot parse the value of {where}", field=name,
                          hint="nested values in the environment are JSON, e.g. WPPRIVSYNC_SITES='[{\"name\": \"shop\", ...}]'") from None
    finally:
        _TOML_PATH.reset(token)
        _SECRETS_DIR.reset(secrets_token)


def masked(settings: Settings) -> dict[str, Any]:
    """The settings as plain data with every secret replaced by ``********``."""
    data = settings.model_dump(mode="json")

    def mask(d: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            if k.endswith(("_secret", "_password", "_token", "_api_key")) or k in {"site_secret"}:
                out[k] = "********" if v else None
            elif isinstance(v, dict):
                out[k] = mask(v)
            elif isinstance(v, list):
                out[k] = [mask(i) if isinstance(i, dict) else i for i in v]
            else:
                out[k] = v
        return out

    data = mask(data)
    data["store_url"] = _mask_url_password(data["store_url"])
    return data


def _mask_url_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":********@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
