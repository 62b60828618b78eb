"""A PostgreSQL store URL without the postgres extra gives one line naming the extra (issue 13, point 6)."""

from __future__ import annotations

import builtins

import pytest

from wpprivsync.errors import StoreError
from wpprivsync.store import open_store


def test_missing_psycopg_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_psycopg(name, *args, **kwargs):
        if name == "psycopg" or name.startswith("psycopg."):
            raise ModuleNotFoundError("No module named 'psycopg'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_psycopg)
    with pytest.raises(StoreError) as exc:
        open_store("postgresql://u:secretpw@db.internal:5432/privsync")
    text = str(exc.value)
    assert "wpprivsync[postgres]" in text and "\n" not in text and "secretpw" not in text
