"""Email normalisation and keyed hashes.

The tool must not become a second copy of the data it erases: the audit log, the
suppression list and acknowledged events keep ``email_hash(secret, email)`` instead of the
email. The hash is HMAC-SHA256 of the normalised email under the site secret, as lower-case
hex, so the same person hashes the same way in every system that knows the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re

# WordPress's is_email(), rule by rule (wp-includes/formatting.php). ``$`` matches before a final
# newline in PCRE and in Python alike, so the two agree on that corner too; letters are ASCII
# only on both sides (no re.IGNORECASE: Python would fold the Kelvin sign into "k").
_LOCAL = re.compile(r"^[a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_SUB = re.compile(r"^[a-zA-Z0-9-]+$")
_PHP_TRIM = " \t\n\r\0\x0b"


_TRIM = " \t\n\r\0\x0b"  # PHP trim()'s default set
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def normalise_email(email: str) -> str:
    """The one rule the plugin's ``Wpprivsync_Plugin::normalise_email`` follows too (see
    docs/IDENTITY.md): trim ASCII whitespace, lower-case ASCII letters only. No Unicode case
    folding (``"\u212aate@…"`` stays apart from ``kate@…``), no IDN conversion. Shared test
    vectors: tests/data/email-normalisation.json."""
    return email.strip(_TRIM).translate(_ASCII_LOWER)


def is_email(text: str) -> bool:
    """Whether WordPress would accept ``text`` as an email, after the shared normalisation:
    the same answer as the plugin's ``is_email( normalise_email() )`` for every input (shared
    vectors: tests/data/is-email.json, run against real WordPress)."""
    email = normalise_email(text)
    if len(email.encode("utf-8", "surrogatepass")) < 6:
        return False
    if email.find("@", 1) == -1:
        return False
    local, domain = email.split("@", 1)
    if not _LOCAL.match(local):
        return False
    if ".." in domain or domain.strip(_PHP_TRIM + ".") != domain:
        return False
    subs = domain.split(".")
    if len(subs) < 2:
        return False
    return all(sub.strip(_PHP_TRIM + "-") == sub and _SUB.match(sub) for sub in subs)


def email_hash(secret: str | bytes, email: str) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.digest(key, normalise_email(email).encode(), hashlib.sha256).hex()  # one-shot: hmac.new's result


def redact_email(email: str) -> str:
    """A form safe for logs and messages: first letter and domain's TLD only (``j***@***.com``)."""
    email = normalise_email(email)
    local, _, domain = email.partition("@")
    tld = domain.rsplit(".", 1)[-1] if "." in domain else ""
    return f"{local[:1]}***@***.{tld}" if local else "***"
