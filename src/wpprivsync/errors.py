"""Every error wpprivsync raises, in one place.

Third-party exceptions (requests, SQLAlchemy, pydantic) are converted to these at the
boundary that sees them, so callers catch one family and messages never carry secrets or
plain emails.

    WpprivsyncError                    base; ``exit_code`` is what the CLI exits with
    ├── ConfigError                    invalid settings or policy (exit 2)
    │   └── PolicyError                an invalid rule in the policy file
    ├── StoreError                     the store cannot be opened, migrated or written
    ├── RemoteError                    a remote system failed; carries ``system``
    │   ├── Unreachable                connection refused, DNS, timeout
    │   ├── AuthenticationFailed       401: wrong user, password or token
    │   ├── PermissionDenied           403: authenticated, but lacks the capability
    │   ├── NotFound                   404 where the caller needs the thing to exist
    │   ├── RateLimited                429 after retries ran out; ``retry_after`` seconds
    │   ├── ServerError                5xx after retries ran out
    │   ├── BadResponse                an answer that does not follow the contract
    │   ├── RedirectRefused            a redirect to another host (credentials stay home)
    │   └── ApiError                   any other 4xx; carries the API's own message
    │       └── WooCommerceMissing     the plugin answered 501 woocommerce_missing
    ├── StepFailed                     a planned step failed; ``retryable`` says if a retry may help
    └── RequestBlocked                 an earlier request of the person has dead steps
"""

from __future__ import annotations

from typing import Any


class WpprivsyncError(Exception):
    """Base of every wpprivsync error."""

    exit_code = 1


class ConfigError(WpprivsyncError):
    """Settings are invalid. ``field`` names the setting, ``hint`` says how to fix it."""

    exit_code = 2

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None):
        self.field = field
        self.hint = hint
        text = message if field is None else f"{field}: {message}"
        if hint:
            text = f"{text} ({hint})"
        super().__init__(text)


class PolicyError(ConfigError):
    """The policy file is invalid; ``field`` names the rule."""


class StoreError(WpprivsyncError):
    """The store could not be opened, migrated or written."""


class RemoteError(WpprivsyncError):
    """A remote system (``system``: "wordpress" or "activecampaign") failed."""

    retryable = False

    def __init__(self, message: str, *, system: str, status: int | None = None, code: str | None = None):
        self.system = system
        self.status = status
        self.code = code
        super().__init__(f"{system}: {message}")


class Unreachable(RemoteError):
    retryable = True


class AuthenticationFailed(RemoteError):
    pass


class PermissionDenied(RemoteError):
    pass


class NotFound(RemoteError):
    pass


class NotYet(WpprivsyncError):
    """A step that cannot finish yet and is not failing (e.g. core's own erasure flow is still
    running its erasers in the admin's browser): it runs again after ``retry_after`` seconds,
    and the wait does not count as a failed attempt."""

    def __init__(self, message: str, *, retry_after: float):
        self.retry_after = retry_after
        super().__init__(message)


class RateLimited(RemoteError):
    retryable = True

    def __init__(self, message: str, *, system: str, retry_after: float | None = None, **kw: Any):
        self.retry_after = retry_after
        super().__init__(message, system=system, status=429, **kw)


class ServerError(RemoteError):
    retryable = True


class BadResponse(RemoteError):
    retryable = True


class RedirectRefused(RemoteError):
    """The server redirected to another host; nothing (no credential) was sent there."""


class ApiError(RemoteError):
    pass


class WooCommerceMissing(ApiError):
    pass


class StepFailed(WpprivsyncError):
    """A planned step failed. ``retryable`` tells the engine whether to try again."""

    def __init__(self, message: str, *, retryable: bool = True):
        self.retryable = retryable
        super().__init__(message)


class RequestBlocked(WpprivsyncError):
    """An earlier request of the person has dead steps: a new request would queue steps that
    never run (one person's requests run in order) until those are retried."""
