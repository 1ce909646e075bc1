"""Property-based fuzzing of the front door's OpenAPI document (every app's operations at their
real paths: the router's merged /openapi.json) with schemathesis, over real HTTP on the session
cluster: for every operation of /translate, /summarize and the router, schema-valid and
schema-breaking requests (schemathesis' examples, coverage and fuzzing phases) never get a 5xx,
every answer's status is one the schema documents, and its body matches the documented schema.
The merged document is built here from the apps' code as the router builds it from the running
apps; test_the_served_schemas_are_the_ones_fuzzed ties the two, and each app's own document to
its code.

Every check is on, positive-data acceptance among them: a body valid by the schema is answered 2xx,
413 (a size limit of this deployment: characters, tokens) or 422 only for a value this deployment's
configuration refuses (`refused_only_for_a_configured_value`), never for its shape; 504 (and
Serve's 408) only when the request set a deadline that passed (`answered_late_only_for_its_deadline`).

Bounded and repeatable: a fixed seed and derandomized generation (same cases on every run), no
example database, FUZZ_EXAMPLES generated cases per operation (plus the examples and coverage
phases' fixed cases), a 30 s timeout per request and a wall-clock budget per operation after which
remaining cases are not sent (reported, not failed)."""

import importlib
import re
import time
from pathlib import Path

import pytest
import schemathesis
import yaml
from schemathesis.config import SchemathesisConfig

from apps.router.api_document import AppDocument, merge_documents

SEED = 20261125
FUZZ_EXAMPLES = 100
BUDGET_S = 20  # per operation; in practice each takes a few seconds
SERVE_CONFIG = yaml.safe_load((Path(__file__).resolve().parents[2] / "serve_config.yaml").read_text())
ROUTE_PREFIXES = {app["name"]: app["route_prefix"] for app in SERVE_CONFIG["applications"]}
APPS = ("router", "translation", "summarization")  # in the router's order

CONFIG = {
    "seed": SEED,
    "generation": {"mode": "all", "max-examples": FUZZ_EXAMPLES, "deterministic": True, "database": "none"},
    "request-timeout": 30,
    "checks": {
        "enabled": True,
        # 422 only as refused_only_for_a_configured_value allows it; 504 and Serve's 408 only for
        # a request that set a deadline (answered_late_only_for_its_deadline)
        "positive_data_acceptance": {
            "enabled": True,
            "expected-statuses": ["2xx", "400", "404", "408", "413", "415", "422", "504"],
        },
        "not_a_server_error": {"enabled": True, "expected-statuses": ["2xx", "3xx", "4xx", "504"]},
    },
}

# Values a schema-valid body may carry that this deployment refuses (422), each by a rule that
# is configuration or beyond JSON Schema: the languages served, max_length_limit, min_length
# above the (default) max_length, a lone surrogate (JSON allows "\ud800"; no text holds it), and
# a stream of a marked-up document (`format` other than "text").
CONFIGURED_VALUE_REFUSALS = re.compile(
    r"no model translates .*|source_lang and target_lang are both"
    r"|max_length \d+ is above this service's limit"
    r"|min_length \(?\d+\)? is above max_length|lone surrogate|stream is for plain text"
    # LibreTranslate's routes answer our size limits (413 elsewhere) 400, as it does
    r"|this service accepts at most|longer than the model reads"
    # a file's type is its name's suffix; its contents must be that type
    r"|cannot be translated: send one of|the file is not"
)
FILE_ROUTES = ("/translate/file", "/libretranslate/translate_file")


@schemathesis.check
def refused_only_for_a_configured_value(ctx, response, case):
    """A schema-valid body answered 422 (400 on LibreTranslate's routes, which answer with its
    status codes; never elsewhere), or a file answered 415, must be refused for a configured value
    or its file's type, not its shape; 404 only for a translated file no longer kept."""
    libretranslate = case.path.startswith("/libretranslate/")
    if response.status_code == 400 and not libretranslate:
        raise AssertionError(f"400 outside LibreTranslate's routes: {response.text[:200]}")
    if response.status_code == 404 and not case.path.startswith("/libretranslate/download_file/"):
        raise AssertionError(f"404 for a route that exists: {response.text[:200]}")
    refused = (400 if libretranslate else 422, 415)
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code not in refused:
        return None
    if response.status_code == 415 and case.path not in FILE_ROUTES:
        raise AssertionError(f"415 for a schema-valid body: {response.text[:200]}")
    answer = response.json()
    said = " ".join([str(answer.get("error", "")), *map(str, answer.get("details", []))])
    if not CONFIGURED_VALUE_REFUSALS.search(said):
        raise AssertionError(f"a body valid by the schema was refused for its shape: {said}")
    return None


@schemathesis.check
def answered_late_only_for_its_deadline(ctx, response, case):
    """A 504 (the queue dropped the work) or Serve's 408 only for a request that set a deadline of
    its own (`timeout_s`, X-Request-Timeout-Seconds); a 504 says so."""
    if response.status_code not in (408, 504):
        return None
    body = case.body if isinstance(case.body, dict) else {}
    headers = {name.lower() for name in (case.headers or {})}
    if "timeout_s" not in body and "x-request-timeout-seconds" not in headers:
        raise AssertionError(f"{response.status_code} for a request that set no deadline")
    if response.status_code == 504 and "deadline" not in response.json().get("error", ""):
        raise AssertionError(f"a 504 that does not say a deadline passed: {response.text[:200]}")
    return None


def app_document(app: str) -> dict:
    return importlib.import_module(f"apps.{app}.app").http_app.openapi()


def merged_document() -> dict:
    """The front door's document as the router merges it from the running apps."""
    from apps.router.app import http_app
    from apps.router.service import API_DESCRIPTION

    parts = [AppDocument(app, ROUTE_PREFIXES[app], app_document(app)) for app in APPS]
    return merge_documents(
        parts, title="textserve", description=API_DESCRIPTION, version=http_app.version, missing={}
    )


class Budget:
    """Cases sent per operation, and a wall-clock bound on them."""

    def __init__(self):
        self.started: dict[str, float] = {}
        self.sent: dict[str, int] = {}
        self.skipped: dict[str, int] = {}

    def allows(self, label: str) -> bool:
        started = self.started.setdefault(label, time.monotonic())
        if time.monotonic() - started > BUDGET_S:
            self.skipped[label] = self.skipped.get(label, 0) + 1
            return False
        self.sent[label] = self.sent.get(label, 0) + 1
        return True


BUDGET = Budget()


# Loaded at collection (pytest 9.2 breaks schemathesis' fixture-based loader,
# `schemathesis.pytest.from_fixture`: it sets `Node._nodeid`, which pytest no longer has).
front_door = schemathesis.openapi.from_dict(merged_document(), config=SchemathesisConfig.from_dict(CONFIG))


@pytest.mark.parametrize("app", ["translation", "summarization"])
def test_each_app_serves_its_own_document(http, app):
    served = http.get(f"{ROUTE_PREFIXES[app]}/openapi.json").json()
    assert served.pop("servers") == [{"url": ROUTE_PREFIXES[app]}]
    assert served == app_document(app)


def test_the_served_document_is_the_one_fuzzed(http):
    assert http.get("/openapi.json").json() == merged_document()


@front_door.parametrize()
def test_api(case, serve_url, apps):
    if BUDGET.allows(case.operation.label):
        case.call_and_validate(base_url=serve_url)


def test_report_what_was_sent():
    print(f"\nschemathesis cases sent per operation: {BUDGET.sent}; over budget, not sent: {BUDGET.skipped}")
    assert BUDGET.sent, "no case was sent"
