"""The one retry-delay formula, used by the step worker and by the HTTP clients."""

from __future__ import annotations

import random


def exponential_backoff_with_jitter(retry: int, rng: random.Random, *, base_s: float, cap_s: float,
                                    floor_s: float = 0.0) -> float:
    """Seconds to wait before retry number ``retry`` (0: the first retry): ``base_s * 2**retry``
    capped at ``cap_s``, then "equal jitter", uniform between half and all of that, so many
    callers failing together spread out while none retries at once; never below ``floor_s``."""
    step = min(cap_s, base_s * 2.0 ** max(0, retry))
    return max(floor_s, step * (0.5 + rng.random() / 2))
