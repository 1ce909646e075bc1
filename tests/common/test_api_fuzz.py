"""Property-based fuzzing of each app's OpenAPI schema with schemathesis, over real HTTP on the
session cluster: for every operation of /translate, /summarize and the router, schema-valid and
schema-breaking requests (schemathesis' examples, coverage and fuzzing phases) never get a 5xx,
every answer's status is one the schema documents, and its body matches the documented schema.

Every check is on, positive-data acceptance among them: a body valid by the schema is answered 2xx,
413 (a size limit of this deployment: characters, tokens) or 422 only for a value this deployment's
configuration refuses (`refused_only_for_a_configured_value`), never for its shape.

Bounded and repeatable: a fixed seed and derandomized generation (same cases on every run), no
example database, FUZZ_EXAMPLES generated cases per operation (plus the examples and coverage
phases' fixed cases), a 30 s timeout per request and a wall-clock budget per operation after which
remaining cases are not sent (reported, not failed)."""

import importlib
import re
import time

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

SEED = 20261125
FUZZ_EXAMPLES = 100
BUDGET_S = 20  # per operation; in practice each takes a few seconds
APPS = {"translation": "/translate", "summarization": "/summarize", "router": ""}

CONFIG = {
    "seed": SEED,
    "generation": {"mode": "all", "max-examples": FUZZ_EXAMPLES, "deterministic": True, "database": "none"},
    "request-timeout": 30,
    "checks": {
        "enabled": True,
        # 422 only as refused_only_for_a_configured_value allows it
        "positive_data_acceptance": {"enabled": True, "expected-statuses": ["2xx", "413", "422"]},
    },
}

# Values a schema-valid body may carry that this deployment refuses (422), each by a rule that
# is configuration or beyond JSON Schema: the languages served, max_length_limit, min_length
# above the (default) max_length, and a lone surrogate (JSON allows "\ud800"; no text holds it).
CONFIGURED_VALUE_REFUSALS = re.compile(
    r"target_lang '.*' is not supported|max_length \d+ is above this service's limit"
    r"|min_length \(?\d+\)? is above max_length|lone surrogate"
)


@schemathesis.check
def refused_only_for_a_configured_value(ctx, response, case):
    """A schema-valid body answered 422 must be refused for a configured value, not its shape."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return None
    answer = response.json()
    said = " ".join([str(answer.get("error", "")), *map(str, answer.get("details", []))])
    if not CONFIGURED_VALUE_REFUSALS.search(said):
        raise AssertionError(f"a body valid by the schema was refused for its shape: {said}")
    return None


def load_schema(app: str):
    """The app's OpenAPI schema as its FastAPI app builds it (what it serves, but for `servers`:
    test_the_served_schemas_are_the_ones_fuzzed checks that)."""
    module = importlib.import_module(f"apps.{app}.app")
    config = SchemathesisConfig.from_dict(CONFIG)
    return schemathesis.openapi.from_dict(module.http_app.openapi(), config=config)


class Budget:
    """Cases sent per operation, and a wall-clock bound on them."""

    def __init__(self):
        self.started: dict[str, float] = {}
        self.sent: dict[str, int] = {}
        self.skipped: dict[str, int] = {}

    def allows(self, app: str, operation: str) -> bool:
        label = f"{app}: {operation}"
        started = self.started.setdefault(label, time.monotonic())
        if time.monotonic() - started > BUDGET_S:
            self.skipped[label] = self.skipped.get(label, 0) + 1
            return False
        self.sent[label] = self.sent.get(label, 0) + 1
        return True


BUDGET = Budget()


def fuzz(case, serve_url: str, app: str) -> None:
    if not BUDGET.allows(app, case.operation.label):
        return
    case.call_and_validate(base_url=f"{serve_url}{APPS[app]}")


# Loaded at collection, from the apps' code (pytest 9.2 breaks schemathesis' fixture-based loader,
# `schemathesis.pytest.from_fixture`: it sets `Node._nodeid`, which pytest no longer has).
translation = load_schema("translation")
summarization = load_schema("summarization")
router = load_schema("router")


@pytest.mark.parametrize("app", list(APPS))
def test_the_served_schemas_are_the_ones_fuzzed(http, app):
    module = importlib.import_module(f"apps.{app}.app")
    served = http.get(f"{APPS[app]}/openapi.json").json()
    assert served.pop("servers", [{"url": APPS[app]}]) == [{"url": APPS[app]}]
    assert served == module.http_app.openapi()


@translation.parametrize()
def test_translation_api(case, serve_url, apps):
    fuzz(case, serve_url, "translation")


@summarization.parametrize()
def test_summarization_api(case, serve_url, apps):
    fuzz(case, serve_url, "summarization")


@router.parametrize()
def test_router_api(case, serve_url, apps):
    fuzz(case, serve_url, "router")


def test_report_what_was_sent():
    print(f"\nschemathesis cases sent per operation: {BUDGET.sent}; over budget, not sent: {BUDGET.skipped}")
    assert BUDGET.sent, "no case was sent"
