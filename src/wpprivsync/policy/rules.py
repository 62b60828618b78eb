"""The privacy policy as data: one ``Rule`` per kind of personal data, and ``Policy``, the
rules plus the dates the engine computes from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

from ..errors import PolicyError
from . import dates

System = Literal["wordpress", "woocommerce", "activecampaign", "thrive", "webinarjam", "correspondence", "wpprivsync"]
SYSTEMS: tuple[str, ...] = System.__args__  # type: ignore[attr-defined]

# What happens to the data when the person asks for erasure (or the account is deleted).
#   erase      WordPress's privacy erasers run (core, WooCommerce, Thrive register their own)
#   delete     the records are deleted outright
#   retain     kept until the rule's end date, whatever the request; reported with that date
#   anonymise  personal fields replaced, the record kept
#   manual     outside wpprivsync's reach (a mailbox, a webinar service): reported, done by a person
OnErasure = Literal["erase", "delete", "retain", "anonymise", "manual"]
ON_ERASURE: tuple[str, ...] = OnErasure.__args__  # type: ignore[attr-defined]

# How long the data is kept, and which parameters each kind takes.
Keep = Literal["while_account_exists", "until_unsubscribe", "until_removal_request", "tax_year_end_plus_years",
               "days_after_end", "limitation_period", "days"]
KEEP_KINDS: tuple[str, ...] = Keep.__args__  # type: ignore[attr-defined]
KEEP_PARAMS: dict[str, dict[str, bool]] = {  # parameter -> required
    "while_account_exists": {},
    "until_unsubscribe": {},
    "until_removal_request": {},
    "tax_year_end_plus_years": {"years": True, "tax_year_start_month": False},
    "days_after_end": {"days": True},
    "limitation_period": {"years": False},
    "days": {"days": True},
}
THEN = ("delete", "anonymise")

# Rules every policy must have (the engine reads them), and the keep kind the engine's date
# arithmetic needs for some of them.
REQUIRED_RULES: tuple[str, ...] = ("account", "orders", "newsletter", "comments", "references", "leads",
                                   "webinars", "complaints", "correspondence", "exports")
REQUIRED_KEEP: dict[str, str] = {"orders": "tax_year_end_plus_years", "webinars": "days_after_end", "exports": "days"}

_VERB = {"erase": "erased", "delete": "deleted", "retain": "retained", "anonymise": "anonymised",
         "manual": "handled by a person"}


@dataclass(frozen=True)
class Rule:
    id: str
    section: str  # the policy's heading for this data, e.g. "Orders"
    data: str  # what the data is
    system: str
    on_erasure: str
    keep: str
    clause: str  # the sentence of the policy this rule implements, quoted
    summary: str | None = None  # the clause in a few plain words, for explanations
    gdpr: str | None = None  # e.g. "art. 6(1)(c)"
    years: int | None = None
    days: int | None = None
    tax_year_start_month: int = 1
    then: str | None = None  # what happens when the time is up: "delete" | "anonymise"
    activecampaign_tags: tuple[str, ...] = field(default_factory=tuple)
    activecampaign_field_ids: tuple[int, ...] = field(default_factory=tuple)

    def describe_keep(self) -> str:
        """How long the data is kept, in words."""
        return {
            "while_account_exists": "while the account exists",
            "until_unsubscribe": "until the person unsubscribes",
            "until_removal_request": "until the person asks for removal",
            "tax_year_end_plus_years": f"until the end of the tax year + {self.years} years",
            "days_after_end": f"for {self.days} days after it ends",
            "limitation_period": ("until the limitation period for claims ends"
                                  + (f" ({self.years} years)" if self.years else "")),
            "days": f"for {self.days} days",
        }[self.keep]

    def explain(self, until: date | None = None) -> str:
        """One sentence: what happens to this data and why, citing the policy, e.g. for orders
        and ``until=date(2031, 12, 31)``: "retained until 2031-12-31, then anonymised: invoices
        must be kept 5 years from the end of the tax year (policy: Orders; GDPR art. 6(1)(c))"."""
        verb = _VERB[self.on_erasure]
        if self.on_erasure == "retain":
            head = f"retained until {until.isoformat()}" if until else f"retained {self.describe_keep()}"
        elif until is not None:
            head = f"kept until {until.isoformat()}, then {verb}"
        else:
            head = verb
        if self.then and self.on_erasure == "retain":
            head += f", then {_VERB[self.then]}"
        why = self.summary or f'"{self.clause}"'
        cite = f"policy: {self.section}" + (f"; GDPR {self.gdpr}" if self.gdpr else "")
        return f"{head}: {why} ({cite})"


@dataclass(frozen=True)
class Policy:
    rules: dict[str, Rule]
    response_months: int = 1
    response_clause: str = ""
    evidence_days: int = 30  # a completed request's WordPress record keeps the email this long
    source: Path | None = None
    consent_current: str = "1"  # the newsletter consent wording's current version ([consent])
    consent_wording: dict[str, str] = field(default_factory=lambda: {"1": "Send me the newsletter"})

    def rule(self, rule_id: str) -> Rule:
        try:
            return self.rules[rule_id]
        except KeyError:
            known = ", ".join(sorted(self.rules))
            raise PolicyError(f"no such rule (known: {known})", field=f"rule {rule_id!r}") from None

    # -- orders: end of the tax year + N years ---------------------------------------------
    @property
    def order_years(self) -> int:
        return int(self.rule("orders").years or 0)

    @property
    def tax_year_start_month(self) -> int:
        return self.rule("orders").tax_year_start_month

    def order_retained_until(self, created: date) -> date:
        """The last day an order created on ``created`` must be kept: the end of its tax year
        plus ``order_years`` years (always the last day of a month)."""
        if isinstance(created, datetime):
            created = created.date()
        end = dates.tax_year_end(created, self.tax_year_start_month)
        return dates.last_day_of_month(end.year + self.order_years, end.month)

    def is_order_due(self, created: date, today: date) -> bool:
        """True once the retention has ended: from the day after ``order_retained_until``."""
        if isinstance(today, datetime):
            today = today.date()
        return today > self.order_retained_until(created)

    # -- webinars, exports, requests --------------------------------------------------------
    def webinar_delete_on(self, ended: date) -> date:
        if isinstance(ended, datetime):
            ended = ended.date()
        return ended + timedelta(days=int(self.rule("webinars").days or 0))

    @property
    def export_ttl_days(self) -> int:
        return int(self.rule("exports").days or 0)

    def response_due(self, received: datetime) -> datetime:
        """When a request received at ``received`` must be answered: one calendar month later
        (GDPR art. 12(3)), the day clamped to the month's end (Jan 31 -> Feb 28/29)."""
        return dates.add_months(received, self.response_months)

    # -- comment-derived ActiveCampaign data ------------------------------------------------
    @property
    def comment_tags(self) -> tuple[str, ...]:
        return self.rule("comments").activecampaign_tags

    @property
    def comment_field_ids(self) -> tuple[int, ...]:
        return self.rule("comments").activecampaign_field_ids
