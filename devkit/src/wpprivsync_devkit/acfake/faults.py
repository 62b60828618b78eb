"""Fault injection for the fake server: answers ActiveCampaign gives on a bad day.

    error_rate    share of requests answered 500/502/503 (0..1)
    latency_s     extra delay before every answer
    timeout_rate  share of requests that hang for ``hang_s`` and then drop the connection
                  without an answer (set ``hang_s`` above the client's timeout)
    burst_429     the next N requests are answered 429 with ``Retry-After: retry_after``

Faults apply to API routes only, after authentication and the rate window.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class FaultSettings:
    error_rate: float = 0.0
    latency_s: float = 0.0
    timeout_rate: float = 0.0
    hang_s: float = 2.0
    burst_429: int = 0
    retry_after: int = 1


_FIELDS = {"error_rate": float, "latency_s": float, "timeout_rate": float, "hang_s": float,
           "burst_429": int, "retry_after": int}


class Faults:
    """Thread-safe fault switches with a seeded random source."""

    def __init__(self, seed: int | None = None):
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.settings = FaultSettings()

    def set(self, **values: Any) -> FaultSettings:
        """Change some switches; unknown names or out-of-range values raise ValueError and
        change nothing. ``seed`` re-seeds the random source."""
        seed = values.pop("seed", None)
        parsed: dict[str, Any] = {}
        for key, value in values.items():
            if key not in _FIELDS:
                raise ValueError(f"unknown fault {key!r}; known: {', '.join(sorted(_FIELDS))}")
            try:
                parsed[key] = _FIELDS[key](value)
            except (TypeError, ValueError):
                raise ValueError(f"fault {key!r} needs a number") from None
            if parsed[key] < 0 or (key.endswith("_rate") and parsed[key] > 1):
                raise ValueError(f"fault {key!r} out of range")
        with self._lock:
            for key, value in parsed.items():
                setattr(self.settings, key, value)
            if seed is not None:
                self._rng.seed(seed)
            return FaultSettings(**asdict(self.settings))

    def clear(self) -> None:
        with self._lock:
            self.settings = FaultSettings()

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return asdict(self.settings)

    def decide(self) -> tuple[str | None, float, int]:
        """For one request: (fault or None, latency seconds, value). Fault is "429" (value =
        Retry-After), "hang" (value unused), "5xx" (value = status)."""
        with self._lock:
            s = self.settings
            if s.burst_429 > 0:
                s.burst_429 -= 1
                return "429", s.latency_s, s.retry_after
            if s.timeout_rate and self._rng.random() < s.timeout_rate:
                return "hang", s.latency_s, 0
            if s.error_rate and self._rng.random() < s.error_rate:
                return "5xx", s.latency_s, self._rng.choice((500, 502, 503))
            return None, s.latency_s, 0
