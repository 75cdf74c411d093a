"""What JSON Schema cannot say about the API, each with its reason: the only refusals of a
schema-valid request that Schemathesis's positive-data check may let pass.

Loaded by the `st` command line (SCHEMATHESIS_HOOKS) in tests/e2e/test_clients.py. A refusal is
let pass only when every error it names is one of these; anything else the server refuses in a
request the document calls valid fails the run, as do all the other checks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import schemathesis

from shared.validation import E164

Item = dict[str, Any]


@dataclass(frozen=True)
class Exclusion:
    """A rule the server keeps that the document cannot state, and how its refusal reads."""

    field: str
    says: str  # how the error's message starts
    reason: str  # why JSON Schema cannot state it
    applies: Callable[[Item], bool] = lambda item: True  # to the request (or batch item) refused


EXCLUSIONS = [
    Exclusion("recipient", "must be an E.164 phone number",
              ("phonenumbers' plausibility: the document's E.164 pattern holds, but no pattern knows which "
               "country codes exist and how long their numbers are"),
              lambda item: isinstance(item.get("recipient"), str) and re.fullmatch(E164, item["recipient"]) is not None),
    Exclusion("recipient", "must be a valid email address",
              ("email-validator's rules: `format: email` is RFC 5321's syntax; email-validator also refuses "
               "special-use and dotless domains, over-long parts and the like"),
              lambda item: item.get("type") == "email"),
    Exclusion("message", "must be at most",
              "a limit counted in UTF-8 bytes (email, push): `maxLength` counts characters, of 1 to 4 bytes each",
              lambda item: item.get("type") in ("email", "push")),
    Exclusion("metadata", "must be at most",
              "metadata's limit in bytes of compact JSON: no keyword measures a value's serialised size"),
    Exclusion("metadata", "must not nest deeper than", "metadata's nesting depth: JSON Schema has no keyword for depth"),
    Exclusion("sendAt", "must be at most 30 days ahead",
              ("a bound relative to the server's clock when the request arrives: a schema states fixed "
               "bounds only, and `format: date-time` has none")),
    Exclusion("expiresAt", "must be in the future",
              "a bound relative to the server's clock when the request arrives, as for sendAt"),
    Exclusion("expiresAt", "must be after sendAt",
              "an order between two fields of one body: JSON Schema compares no value with another"),
    *(Exclusion(name, "must fall within the years 1 to 9999 in UTC",
                ("a date-time whose offset takes its instant out of the years 1 to 9999 in UTC "
                 "(0001-01-01T00:00:00+01:00): `format: date-time` allows it, no time type holds it"))
      for name in ("sendAt", "expiresAt")),
    Exclusion("bucketSeconds", "must divide windowSeconds",
              ("the stats bucket-count rule: windowSeconds % bucketSeconds == 0 and at most 720 buckets relates "
               "two query parameters, which parameter schemas cannot")),
    *(Exclusion("url", says, ("what a webhook's host resolves to, and whether those addresses are public, is "
                              "DNS's answer when the endpoint is registered, not the request's shape"))
      for says in ("names a host that does not resolve", "resolves to a")),
    *(Exclusion(name, "is required", ("SubscribeURL and Token are required of an SNS subscription or "
                                      "unsubscribe confirmation only: a requirement that depends on Type's value"))
      for name in ("SubscribeURL", "Token")),
    Exclusion("retentionDays", "must be at most",
              "the deployment's own retention (WAVECOM_RETENTION_DAYS) bounds a tenant's: a setting, not a schema"),
    Exclusion("url", "has an invalid port", "a port above 65535: a URL pattern can bound digits, not their value"),
    Exclusion("url", "a tenant has at most", "a count of the endpoints registered before, not this request's shape"),
    Exclusion("Idempotency-Key", "was used with a different request body",
              ("an Idempotency-Key names one request: sent again with another body it is refused, which depends "
               "on earlier requests, not on this one's shape")),
]


def _excluded(field: str, message: str, item: Item) -> bool:
    return any(field == x.field and message.startswith(x.says) and x.applies(item) for x in EXCLUSIONS)


def refusal_is_excluded(body: Any, problem: Any) -> bool:
    """Whether every error of a refusal `problem` of request `body` is one of EXCLUSIONS."""
    if not isinstance(problem, dict):
        return False
    if isinstance(problem.get("items"), list) and isinstance(body, list):  # a batch: each item answers
        refused = [(body[a["index"]], a["errors"]) for a in problem["items"] if "errors" in a]
    else:
        refused = [(body if isinstance(body, dict) else {}, problem.get("errors") or [])]
    return bool(refused) and all(
        errors and all(_excluded(e["field"], e["message"], item) for e in errors) for item, errors in refused)


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but a positive-data refusal whose every reason is excluded above."""
    if failure.code != "ST202" or response.status_code not in (400, 422):
        return True
    try:
        problem = json.loads(response.content)
    except ValueError:
        return True
    return not refusal_is_excluded(case.body, problem)
