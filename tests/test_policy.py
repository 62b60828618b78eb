"""The privacy policy as configuration: the shipped file, the dates it implies, and clear
errors for every kind of mistake in it."""

from __future__ import annotations

import calendar
import re
import tomllib
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from wpprivsync.errors import ConfigError, PolicyError
from wpprivsync.policy import KEEP_KINDS, REQUIRED_RULES, SYSTEMS, Policy, load_policy, parse_policy
from wpprivsync.policy.dates import add_months, tax_year_end
from wpprivsync.settings import default_policy_file

SHIPPED = Path(__file__).resolve().parents[1] / "config" / "policy.toml"
SHIPPED_TEXT = SHIPPED.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(SHIPPED)


def variant(**changes: dict[str, object]) -> str:
    """The shipped policy with some keys of some tables replaced (None removes a key), as TOML."""
    raw = tomllib.loads(SHIPPED_TEXT)
    for table, values in changes.items():
        target = raw["rules"][table] if table in raw["rules"] else raw[table]
        for key, value in values.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
    return dump(raw)


def dump(raw: dict) -> str:
    def value(v):
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ", ".join(value(i) for i in v) + "]"
        if isinstance(v, dict):  # an inline table ([consent] wording)
            return "{" + ", ".join(f"{value(kk)} = {value(vv)}" for kk, vv in v.items()) + "}"
        return str(v)

    lines = [f"{k} = {value(v)}" for k, v in raw.items() if not isinstance(v, dict)]
    for k, v in raw.items():
        if isinstance(v, dict) and k != "rules":
            lines += [f"[{k}]"] + [f"{kk} = {value(vv)}" for kk, vv in v.items()]
    for rid, body in raw.get("rules", {}).items():
        lines.append(f"[rules.{rid}]")
        lines += [f"{kk} = {value(vv)}" for kk, vv in body.items()]
    return "\n".join(lines) + "\n"


# -- the shipped file ------------------------------------------------------------------------------
def test_shipped_policy_loads_with_every_required_rule(policy):
    assert set(REQUIRED_RULES) <= set(policy.rules)
    # the default is package data (the same file as config/policy.toml), so an installed wheel has it
    import wpprivsync

    assert default_policy_file().parent.parent == Path(wpprivsync.__file__).resolve().parent
    assert default_policy_file().read_bytes() == SHIPPED.read_bytes()
    for rule in policy.rules.values():
        assert rule.system in SYSTEMS and rule.keep in KEEP_KINDS
        assert len(rule.clause) > 30 and rule.section
    assert policy.order_years == 5 and policy.tax_year_start_month == 1
    assert policy.export_ttl_days == 7
    assert policy.rule("webinars").days == 30
    assert policy.comment_tags == () and policy.comment_field_ids == ()
    assert policy.response_months == 1
    orders = policy.rule("orders")
    assert (orders.system, orders.on_erasure, orders.then) == ("woocommerce", "retain", "anonymise")
    assert "5 years from the end of the tax year" in orders.clause
    assert policy.rule("newsletter").keep == "until_unsubscribe"
    assert policy.rule("comments").on_erasure == "delete"


def test_the_dump_helper_round_trips_the_shipped_file():
    assert tomllib.loads(dump(tomllib.loads(SHIPPED_TEXT))) == tomllib.loads(SHIPPED_TEXT)


def test_explain_cites_the_rule(policy):
    assert policy.rule("orders").explain(date(2031, 12, 31)) == (
        "retained until 2031-12-31, then anonymised: invoices must be kept 5 years from the end of the tax year "
        "(policy: Orders; GDPR art. 6(1)(c))")
    webinar = policy.rule("webinars").explain(date(2026, 4, 9))
    assert webinar.startswith("kept until 2026-04-09, then deleted: ") and "(policy: Webinars; GDPR art. 6(1)(a))" in webinar
    assert policy.rule("account").explain().startswith("erased: ")
    assert "limitation period" in policy.rule("complaints").explain()
    no_summary = parse_policy(variant(leads={"summary": None})).rule("leads").explain()
    assert '"Whitesquare GmbH' in no_summary  # the clause itself, quoted


def test_unknown_rule_is_a_policy_error(policy):
    with pytest.raises(PolicyError, match="rule 'cookies'.*known: account"):
        policy.rule("cookies")


# -- order retention --------------------------------------------------------------------------------
@pytest.mark.parametrize("created, until", [
    (date(2026, 1, 1), date(2031, 12, 31)),
    (date(2026, 12, 31), date(2031, 12, 31)),
    (date(2027, 1, 1), date(2032, 12, 31)),
    (date(2024, 2, 29), date(2029, 12, 31)),
])
def test_calendar_tax_year(policy, created, until):
    assert policy.order_retained_until(created) == until
    assert not policy.is_order_due(created, until)
    assert policy.is_order_due(created, until + timedelta(days=1))


@pytest.mark.parametrize("start, created, until", [
    (4, date(2026, 3, 31), date(2031, 3, 31)),   # tax year April 2025 - March 2026
    (4, date(2026, 4, 1), date(2032, 3, 31)),    # tax year April 2026 - March 2027
    (4, date(2026, 12, 31), date(2032, 3, 31)),
    (3, date(2024, 2, 29), date(2029, 2, 28)),   # ends Feb 29 2024; five years on, no Feb 29
    (3, date(2022, 3, 1), date(2028, 2, 29)),    # ends Feb 28 2023; 2028 is a leap year
    (7, date(2026, 6, 30), date(2031, 6, 30)),
    (7, date(2026, 7, 1), date(2032, 6, 30)),
])
def test_tax_year_starting_later_in_the_year(start, created, until):
    policy = parse_policy(variant(orders={"tax_year_start_month": start}))
    assert policy.tax_year_start_month == start
    assert policy.order_retained_until(created) == until
    assert policy.is_order_due(created, until + timedelta(days=1)) and not policy.is_order_due(created, until)


def test_retention_years_are_configurable():
    policy = parse_policy(variant(orders={"years": 10}))
    assert policy.order_retained_until(date(2026, 6, 1)) == date(2036, 12, 31)
    assert parse_policy(variant(orders={"years": None})).order_years == 5  # the policy's default


def test_datetimes_are_accepted_for_dates(policy):
    created = datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc)
    assert policy.order_retained_until(created) == date(2031, 12, 31)
    assert policy.is_order_due(created, datetime(2032, 1, 1, 0, 0, tzinfo=timezone.utc))


@given(created=st.dates(min_value=date(1990, 1, 1), max_value=date(2200, 12, 31)),
       start=st.integers(min_value=1, max_value=12), years=st.integers(min_value=0, max_value=30))
def test_retained_until_properties(created, start, years):
    policy = parse_policy(variant(orders={"tax_year_start_month": start, "years": years}))
    until = policy.order_retained_until(created)
    # always the last day of a month, the month before the tax year starts
    assert until.day == calendar.monthrange(until.year, until.month)[1]
    assert until.month == (start - 2) % 12 + 1
    # never earlier than the same date `years` later, never more than a tax year beyond it
    assert add_months(created, 12 * years) <= until < add_months(created, 12 * (years + 1))
    # due flips exactly the day after
    assert not policy.is_order_due(created, until)
    assert policy.is_order_due(created, until + timedelta(days=1))
    assert not policy.is_order_due(created, created)


@given(day=st.dates(min_value=date(1990, 1, 1), max_value=date(2200, 12, 31)), start=st.integers(1, 12))
def test_tax_year_end_contains_the_day(day, start):
    end = tax_year_end(day, start)
    begin = add_months(end + timedelta(days=1), -12)
    assert begin <= day <= end
    assert begin.day == 1 and begin.month == start


# -- webinars and requests -----------------------------------------------------------------------------
def test_webinar_deletion_date(policy):
    assert policy.webinar_delete_on(date(2026, 3, 10)) == date(2026, 4, 9)
    assert policy.webinar_delete_on(date(2026, 12, 15)) == date(2027, 1, 14)
    assert parse_policy(variant(webinars={"days": 7})).webinar_delete_on(date(2026, 3, 10)) == date(2026, 3, 17)


@pytest.mark.parametrize("received, due", [
    (datetime(2026, 1, 15, 9, 30, tzinfo=timezone.utc), datetime(2026, 2, 15, 9, 30, tzinfo=timezone.utc)),
    (datetime(2026, 1, 31, 9, 30, tzinfo=timezone.utc), datetime(2026, 2, 28, 9, 30, tzinfo=timezone.utc)),
    (datetime(2028, 1, 31, 0, 0, tzinfo=timezone.utc), datetime(2028, 2, 29, 0, 0, tzinfo=timezone.utc)),
    (datetime(2026, 3, 31, 23, 59, tzinfo=timezone.utc), datetime(2026, 4, 30, 23, 59, tzinfo=timezone.utc)),
    (datetime(2026, 12, 31, 12, 0, tzinfo=timezone.utc), datetime(2027, 1, 31, 12, 0, tzinfo=timezone.utc)),
])
def test_response_due_is_one_calendar_month_clamped(policy, received, due):
    assert policy.response_due(received) == due


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(timezone.utc)))
def test_response_due_properties(received):
    policy = load_policy(SHIPPED)
    due = policy.response_due(received)
    assert due.tzinfo is timezone.utc and due.time() == received.time()
    assert (due.year * 12 + due.month) - (received.year * 12 + received.month) == 1
    assert due.day == min(received.day, calendar.monthrange(due.year, due.month)[1])
    assert timedelta(days=28) <= due - received <= timedelta(days=31)


# -- invalid policies ------------------------------------------------------------------------------------
INVALID = [
    # (what is wrong, the policy text, a pattern the message must match)
    ("unknown key in a rule", variant(orders={"yeers": 5}), r"rule 'orders': yeers: unknown key"),
    ("unknown top-level key", SHIPPED_TEXT.replace("version = 1", "version = 1\nretention = 3"),
     r"policy: retention: unknown key"),
    ("missing rule", SHIPPED_TEXT.replace("[rules.webinars]", "[rules.webinars_old]"),
     r"rule 'webinars': missing.*\[rules\.webinars\]"),
    ("negative years", variant(orders={"years": -1}), r"rule 'orders': years: .*greater than or equal to 0"),
    ("years as text", variant(orders={"years": "five"}), r"rule 'orders': years: must be a whole number"),
    ("fractional days", variant(exports={"days": 7.5}), r"rule 'exports': days: must be a whole number"),
    ("zero days", variant(webinars={"days": 0}), r"rule 'webinars': days: .*greater than or equal to 1"),
    ("bad month", variant(orders={"tax_year_start_month": 13}),
     r"rule 'orders': tax_year_start_month: .*less than or equal to 12"),
    ("month zero", variant(orders={"tax_year_start_month": 0}), r"rule 'orders': tax_year_start_month: .*greater"),
    ("unknown keep kind", variant(newsletter={"keep": "forever"}), r"rule 'newsletter': keep: .*'while_account_exists'"),
    ("unknown system", variant(leads={"system": "mailchimp"}), r"rule 'leads': system: .*'wordpress'"),
    ("unknown on_erasure", variant(comments={"on_erasure": "shred"}), r"rule 'comments': on_erasure: "),
    ("missing clause", variant(account={"clause": None}), r"rule 'account': clause: required key is missing"),
    ("empty clause", variant(account={"clause": "tbd"}), r"rule 'account': clause: .*at least 10"),
    ("days where no parameter applies", variant(account={"days": 3}),
     r"rule 'account': days does not apply to keep = 'while_account_exists'"),
    ("missing required parameter", variant(references={"keep": "days"}), r"rule 'references': keep = 'days' needs days"),
    ("keep the engine cannot compute", variant(orders={"keep": "days", "days": 30}),
     r"rule 'orders': keep must be 'tax_year_end_plus_years'"),
    ("tags on the wrong rule", variant(newsletter={"activecampaign_tags": ["x"]}),
     r"rule 'newsletter': activecampaign_tags .* belong to the comments rule"),
    ("bad field id", variant(comments={"activecampaign_field_ids": [0]}),
     r"rule 'comments': activecampaign_field_ids: .*positive"),
    ("tags not a list", variant(comments={"activecampaign_tags": "commenter"}),
     r"rule 'comments': activecampaign_tags: must be a list"),
    ("bad response months", variant(requests={"response_months": 0}), r"policy: requests.response_months: "),
    ("bad rule id", SHIPPED_TEXT + '\n[rules.Bad-Id]\nsection = "x"\n', r"rule 'Bad-Id': bad rule id"),
    ("rule not a table", SHIPPED_TEXT.replace("version = 1", 'version = 1\nrules.extra = "x"', 1),
     r"rule 'extra': must be a table"),
    ("TOML syntax error", SHIPPED_TEXT.replace('days = 30', 'days = = 30'), r"policy: not valid TOML.*line \d+"),
    ("wrong version", SHIPPED_TEXT.replace("version = 1", "version = 2"), r"policy: version: "),
]


@pytest.mark.parametrize("text, pattern", [pytest.param(t, p, id=name) for name, t, p in INVALID])
def test_invalid_policy_names_the_rule_and_the_problem(tmp_path, text, pattern):
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    message = str(err.value)
    assert re.search(pattern, message), message
    assert str(path) in message or "not valid TOML" in message
    assert isinstance(err.value, ConfigError) and err.value.exit_code == 2
    assert path.read_text(encoding="utf-8") == text  # nothing rewritten


def test_missing_file_and_unreadable_text(tmp_path):
    with pytest.raises(PolicyError, match=r"policy: file not found: .*nope\.toml \(set policy_file"):
        load_policy(tmp_path / "nope.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(PolicyError, match="not UTF-8"):
        load_policy(binary)
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path)


def test_a_site_may_add_its_own_rules():
    extra = SHIPPED_TEXT + (
        '\n[rules.affiliates]\nsection = "Affiliates"\ndata = "affiliate payouts"\nsystem = "woocommerce"\n'
        'on_erasure = "retain"\nkeep = "limitation_period"\nyears = 6\n'
        'clause = "Affiliate payout records are kept until claims expire."\n')
    rule = parse_policy(extra).rule("affiliates")
    assert rule.years == 6
    assert rule.explain() == ('retained until the limitation period for claims ends (6 years): '
                              '"Affiliate payout records are kept until claims expire." (policy: Affiliates)')


# -- consent wording versions (issue 12.5) ----------------------------------------------------------
def test_the_shipped_policy_names_the_consent_wording_it_shows(policy):
    assert policy.consent_current == "1"
    assert policy.consent_wording["1"] == "Send me the newsletter"


@pytest.mark.parametrize("consent, problem", [
    ({"current": "2", "wording": {"1": "Send me the newsletter"}}, "current wording version '2' has no text"),
    ({"current": "1", "wording": {"1": "   "}}, "with a text"),
    ({"current": "1", "wording": {"1": "x"}, "colour": "red"}, "unknown key"),
])
def test_a_bad_consent_section_is_refused_with_its_reason(consent, problem):
    raw = tomllib.loads(SHIPPED_TEXT)
    raw["consent"] = consent
    with pytest.raises(PolicyError) as err:
        parse_policy(dump(raw))
    assert problem in str(err.value)
