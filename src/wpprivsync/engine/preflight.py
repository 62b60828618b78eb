"""Before anything acts: can every system a request reaches take this email?

WordPress's rule (``identity.is_email``, the same as the plugin's) is the first gate, at the CLI
and the admin page. Some systems are stricter: ActiveCampaign refuses an address with an
apostrophe (``invalid'character@example.com`` is its own example of a failed import, in
../shared/contracts/activecampaign). A request whose steps would reach a system that refuses the
address must not start, or it would stop half-way (WordPress erased, the newsletter step dead);
so the CLI and the admin page refuse it with one message and nothing acts, and a consent change
from WordPress that ActiveCampaign could not take is recorded instead of lifting a suppression
it could not carry through.
"""

from __future__ import annotations

from typing import Iterable

from ..identity import is_email, normalise_email

SYSTEM_NAMES = {"wordpress": "WordPress", "activecampaign": "ActiveCampaign", "webinarjam": "WebinarJam"}


def refusal(system: str, email: str) -> str | None:
    """Why ``system`` would refuse ``email`` (normalised), or None when it takes it."""
    address = normalise_email(email)
    return _refusal(system, address, is_email(address))


def _refusal(system: str, address: str, valid: bool) -> str | None:
    if not valid:
        return "not a valid email address"
    if system == "activecampaign" and "'" in address:
        return "ActiveCampaign does not accept an apostrophe in an address"
    if system in ("activecampaign", "webinarjam") and address.split() != [address]:  # whitespace in it
        return f"{SYSTEM_NAMES[system]} does not accept whitespace in an address"
    return None


def refusals(email: str, systems: Iterable[str], *, valid: bool | None = None) -> list[tuple[str, str]]:
    """(system, reason) for each system of ``systems`` that would refuse ``email``. ``valid``:
    whether the normalised email passes ``is_email``, when the caller knows already."""
    address = normalise_email(email)
    if valid is None:
        valid = is_email(address)
    out = []
    for system in dict.fromkeys(systems):
        reason = _refusal(system, address, valid)
        if reason is not None:
            out.append((system, reason))
    return out
