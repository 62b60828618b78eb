"""One email rule on both sides: the CLI (Python) accepts exactly the emails WordPress accepts,
after the shared normalisation. Real WordPress's is_email() is the oracle, on each profile."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from wpprivsync.identity import is_email

VECTORS = json.loads((Path(__file__).parent / "data" / "is-email.json").read_text())["inputs"]


def test_python_accepts_exactly_what_wordpress_accepts(wp):
    packed = base64.b64encode(json.dumps(VECTORS).encode()).decode()
    answers = wp.php_json(f"""$in = json_decode(base64_decode('{packed}'), true);
        echo json_encode(array_map(fn($e) => (bool) is_email(Wpprivsync_Plugin::normalise_email($e)), $in));""")
    assert len(answers) == len(VECTORS)
    differ = [(v, a) for v, a in zip(VECTORS, answers) if is_email(v) != a]
    assert differ == []
    # the vectors cover both answers, and the corners that tell rules apart
    assert sum(answers) >= 15 and len(answers) - sum(answers) >= 25


def test_the_cli_refuses_what_wordpress_refuses():
    from wpprivsync import errors, services

    for bad in ("ann@example..com", "ann@-example.com", "\u212aate@example.com", "ann@localhost"):
        try:
            services._check_email(bad)
        except errors.ConfigError as exc:
            assert "not a valid email address" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")
