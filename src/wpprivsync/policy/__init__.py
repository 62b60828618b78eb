"""The site's privacy policy as configuration (``config/policy.toml``): one rule per kind of
personal data, each quoting the clause it implements, and the dates that follow from them
(order retention to the end of the tax year + N years, webinar deletion, request deadlines).

    policy = load_policy(settings.policy_file)
    policy.order_retained_until(date(2026, 5, 4))   # date(2031, 12, 31)
    policy.rule("orders").explain(date(2031, 12, 31))
"""

from .loader import load_policy, parse_policy
from .rules import KEEP_KINDS, ON_ERASURE, REQUIRED_RULES, SYSTEMS, Policy, Rule

__all__ = ["KEEP_KINDS", "ON_ERASURE", "REQUIRED_RULES", "SYSTEMS", "Policy", "Rule", "load_policy", "parse_policy"]
