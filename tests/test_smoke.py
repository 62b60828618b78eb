from wpprivsync import __version__
from wpprivsync.identity import email_hash, normalise_email, redact_email


def test_normalise_and_hash_agree_across_spellings():
    assert normalise_email("  Ann@Example.COM ") == "ann@example.com"
    assert email_hash("s" * 16, " Ann@Example.COM") == email_hash("s" * 16, "ann@example.com")
    assert email_hash("s" * 16, "ann@example.com") != email_hash("t" * 16, "ann@example.com")
    assert "ann" not in redact_email("ann@example.com")
    assert __version__.count(".") == 2
