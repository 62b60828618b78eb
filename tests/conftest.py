"""Loads every fixture module in tests/support as a pytest plugin."""

import pathlib
import sys

_here = pathlib.Path(__file__).parent
sys.path.insert(0, str(_here))

pytest_plugins = sorted(
    f"support.{p.stem}" for p in (_here / "support").glob("*.py") if not p.stem.startswith("_")
)
