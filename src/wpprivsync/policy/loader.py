"""Reading and validating the policy file (TOML). Every problem becomes a ``PolicyError`` that
names the rule and the key; pydantic's and tomllib's exceptions stop here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import PolicyError
from .rules import KEEP_KINDS, KEEP_PARAMS, REQUIRED_KEEP, REQUIRED_RULES, Keep, OnErasure, Policy, Rule, System

# Defaults the policy states (or the design chose) when a rule leaves the number out.
_DEFAULTS: dict[str, dict[str, int]] = {
    "orders": {"years": 5, "tax_year_start_month": 1},
    "webinars": {"days": 30},
    "exports": {"days": 7},
}
_RULE_ID = r"^[a-z][a-z0-9_]{0,62}$"


class _RuleModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    section: str = Field(min_length=1)
    data: str = Field(min_length=1)
    system: System
    on_erasure: OnErasure
    keep: Keep
    clause: str = Field(min_length=10)
    summary: str | None = Field(default=None, min_length=1)
    gdpr: str | None = Field(default=None, min_length=1)
    years: int | None = Field(default=None, ge=0, le=100)
    days: int | None = Field(default=None, ge=1, le=36500)
    tax_year_start_month: int | None = Field(default=None, ge=1, le=12)
    then: Literal["delete", "anonymise"] | None = None
    activecampaign_tags: list[str] = Field(default_factory=list)
    activecampaign_field_ids: list[int] = Field(default_factory=list)

    @model_validator(mode="after")
    def _params_fit_the_keep_kind(self) -> "_RuleModel":
        allowed = KEEP_PARAMS[self.keep]
        for name in ("years", "days", "tax_year_start_month"):
            if getattr(self, name) is not None and name not in allowed:
                raise ValueError(f"{name} does not apply to keep = {self.keep!r}"
                                 + (f" (it takes {', '.join(allowed)})" if allowed else " (it takes no parameter)"))
        for name, required in allowed.items():
            if required and getattr(self, name) is None:
                raise ValueError(f"keep = {self.keep!r} needs {name}")
        if any(not t.strip() for t in self.activecampaign_tags):
            raise ValueError("activecampaign_tags: a tag name is empty")
        if any(i <= 0 for i in self.activecampaign_field_ids):
            raise ValueError("activecampaign_field_ids: field ids are positive whole numbers")
        return self


class _RequestsModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    response_months: int = Field(default=1, ge=1, le=3)
    clause: str = Field(default=(
        "The controller shall provide information on action taken on a request under Articles 15 to 22 to the "
        "data subject without undue delay and in any event within one month of receipt of the request."),
        min_length=10)
    gdpr: str = "art. 12(3)"
    # days a completed request's WordPress record keeps the plain email (proof it was done)
    evidence_days: int = Field(default=30, ge=0, le=3650)


class _ConsentModel(BaseModel):
    """[consent]: the versions of the newsletter consent wording (GDPR art. 7(1)). The plugin
    sends the version it showed with each consent; the export and ``explain`` quote the text."""

    model_config = ConfigDict(extra="forbid", strict=True)

    current: str = Field(default="1", min_length=1, max_length=64)
    wording: dict[str, str] = Field(default_factory=lambda: {"1": "Send me the newsletter"})

    @model_validator(mode="after")
    def _current_has_a_wording(self) -> "_ConsentModel":
        if self.current not in self.wording:
            raise ValueError(f"current wording version {self.current!r} has no text in [consent.wording]")
        for version, text in self.wording.items():
            if not version or len(version) > 64 or "@" in version or not text.strip():
                raise ValueError(f"wording {version!r}: a version of 1-64 characters (no @) with a text")
        return self


class _PolicyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    version: Literal[1] = 1
    name: str | None = None
    requests: _RequestsModel = Field(default_factory=_RequestsModel)
    consent: _ConsentModel = Field(default_factory=_ConsentModel)
    rules: dict[str, dict[str, Any]]


def load_policy(path: Path | str) -> Policy:
    """Read and check the policy file. Raises PolicyError (naming the rule and the problem)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"file not found: {path}", field="policy",
                          hint="set policy_file to a copy of the shipped config/policy.toml, or remove it to use the default") from None
    except OSError as exc:
        raise PolicyError(f"cannot read {path}: {exc.strerror}", field="policy") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{path} is not UTF-8 text", field="policy") from None
    return parse_policy(text, source=path)


def parse_policy(text: str, *, source: Path | str | None = None) -> Policy:
    where = f" in {source}" if source else ""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"not valid TOML{where}: {exc}", field="policy", hint="fix the syntax at that line") from None
    try:
        top = _PolicyModel.model_validate(raw)
    except ValidationError as exc:
        field, problem = _first_problem(exc, prefix=())
        raise PolicyError(f"{problem}{where}", field=field) from None

    for rule_id in REQUIRED_RULES:
        if rule_id not in top.rules:
            raise PolicyError(f"missing{where}: the policy needs a [rules.{rule_id}] table "
                              f"(required rules: {', '.join(REQUIRED_RULES)})", field=f"rule {rule_id!r}")
    rules: dict[str, Rule] = {}
    for rule_id, body in top.rules.items():
        if not re.match(_RULE_ID, rule_id):
            raise PolicyError(f"bad rule id{where}: use lower-case letters, digits and _", field=f"rule {rule_id!r}")
        if not isinstance(body, dict):
            raise PolicyError(f"must be a table{where}", field=f"rule {rule_id!r}")
        keep = body.get("keep")
        if rule_id in REQUIRED_KEEP and keep in KEEP_KINDS and keep != REQUIRED_KEEP[rule_id]:
            raise PolicyError(f"keep must be {REQUIRED_KEEP[rule_id]!r}{where} (wpprivsync computes this rule's "
                              f"dates from it), not {keep!r}", field=f"rule {rule_id!r}")
        if keep == REQUIRED_KEEP.get(rule_id):
            body = {**_DEFAULTS.get(rule_id, {}), **body}
        try:
            model = _RuleModel.model_validate(body)
        except ValidationError as exc:
            _, problem = _first_problem(exc, prefix=("rules", rule_id))
            raise PolicyError(f"{problem}{where}", field=f"rule {rule_id!r}") from None
        if (model.activecampaign_tags or model.activecampaign_field_ids) and rule_id != "comments":
            raise PolicyError(f"activecampaign_tags and activecampaign_field_ids belong to the comments rule{where}",
                              field=f"rule {rule_id!r}")
        rules[rule_id] = Rule(
            id=rule_id, section=model.section, data=model.data, system=model.system, on_erasure=model.on_erasure,
            keep=model.keep, clause=model.clause, summary=model.summary, gdpr=model.gdpr, years=model.years,
            days=model.days, tax_year_start_month=model.tax_year_start_month or 1, then=model.then,
            activecampaign_tags=tuple(model.activecampaign_tags),
            activecampaign_field_ids=tuple(model.activecampaign_field_ids))
    return Policy(rules=rules, response_months=top.requests.response_months,
                  response_clause=top.requests.clause, evidence_days=top.requests.evidence_days, source=Path(source) if source else None,
                  consent_current=top.consent.current, consent_wording=dict(top.consent.wording))


_TYPE_HINTS = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
    "int_type": "must be a whole number",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be a table",
    "model_type": "must be a table",
}


def _first_problem(exc: ValidationError, prefix: tuple[str, ...]) -> tuple[str, str]:
    err = exc.errors(include_url=False, include_input=False)[0]
    loc = tuple(str(p) for p in err.get("loc", ()))
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if kind in _TYPE_HINTS and kind not in ("extra_forbidden", "missing"):
        msg = f"{_TYPE_HINTS[kind]} ({msg})"
    elif kind in _TYPE_HINTS:
        msg = _TYPE_HINTS[kind]
    full = prefix + loc
    if len(full) >= 2 and full[0] == "rules":
        field = f"rule {full[1]!r}"
        key = ".".join(full[2:])
    else:
        field = "policy"
        key = ".".join(full)
    return field, f"{key}: {msg}" if key else msg
