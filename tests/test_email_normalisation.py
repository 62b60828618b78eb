"""One email normalisation on both sides: the daemon (Python) and the plugin (PHP) read the same
vectors from tests/data/email-normalisation.json and must give the same text and keyed hash."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from wpprivsync.identity import email_hash, normalise_email

REPO = Path(__file__).resolve().parents[1]
DATA = json.loads((REPO / "tests" / "data" / "email-normalisation.json").read_text())
PLUGIN = REPO / "wp-plugin" / "wpprivsync" / "includes" / "class-wpprivsync-plugin.php"


@pytest.mark.parametrize("vector", DATA["vectors"], ids=lambda v: v["input"].encode("unicode_escape").decode())
def test_python_follows_the_vectors(vector):
    assert normalise_email(vector["input"]) == vector["normalised"]
    assert email_hash(DATA["hash_key"], vector["input"]) == vector["hash"]


def test_kelvin_sign_does_not_fold_to_k():
    assert email_hash("k", "\u212aate@example.com") != email_hash("k", "kate@example.com")


@pytest.mark.skipif(shutil.which("php") is None, reason="needs php (scripts/install-system-deps)")
def test_php_follows_the_same_vectors(tmp_path):
    # the plugin's own function, loaded outside WordPress (it is pure); hashes keyed as the
    # plugin keys them (hash_hmac over the normalised email)
    script = tmp_path / "vectors.php"
    script.write_text(
        "<?php define('ABSPATH', '/'); require $argv[1];"
        " $d = json_decode(file_get_contents($argv[2]), true); $out = array();"
        " foreach ($d['vectors'] as $v) { $n = Wpprivsync_Plugin::normalise_email($v['input']);"
        " $out[] = array('normalised' => $n, 'hash' => hash_hmac('sha256', $n, $d['hash_key'])); }"
        " echo json_encode($out);")
    done = subprocess.run(["php", str(script), str(PLUGIN), str(REPO / "tests" / "data" / "email-normalisation.json")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got == [{"normalised": v["normalised"], "hash": v["hash"]} for v in DATA["vectors"]]
