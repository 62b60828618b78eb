"""One client per external system, each behind a small Protocol (``protocols.py``)."""
