"""The benchmark's guard: a figure of ours that did not measure decoding (cache hits, texts not
decoded, throughput above the raw engine, distinct texts run out) is marked invalid, left out of the
summary line, and makes the run exit non-zero; on a real cluster, a cell fed repeated texts is
refused and one fed distinct texts is not."""

import copy
import re
from functools import partial

import pytest

from bench import guard, report
from bench.__main__ import conclude
from bench.bodies import Bodies
from bench.endpoints import Endpoint
from bench.measure import measure_closed
from bench.metrics import decoding_counters
from bench.replicas import replica_pids
from tests.bench.test_report import results_with_peers


def decoded_results() -> dict:
    """results_with_peers, each cell of ours answered 400 requests, each decoded."""
    results = results_with_peers()
    for c in results["cells"]:
        c["answered"] = 400
        if c["system"] == "ours-ctranslate2":
            c["decoded"] = {"model_calls": 40, "decoded_texts": 400, "cache_hits": 0, "cache_misses": 400}
    return results


def test_figures_that_decoded_every_request_below_the_raw_engine_all_hold():
    results = decoded_results()
    assert guard.validate(results) == []
    assert not any(c.get("invalid") for c in results["cells"] + results["open_loop"])


def test_a_cell_fed_cache_hits_is_refused_and_left_out_of_the_summary(tmp_path, capsys):
    results = decoded_results()
    ours32 = report.cell(results, "ours-ctranslate2", "translate", 32)
    ours32["throughput"] = 10.0  # the worst ratio to the best peer, were it counted
    ours32["decoded"] = {"model_calls": 3, "decoded_texts": 12, "cache_hits": 388, "cache_misses": 12}
    code = conclude(results, tmp_path, "run")
    assert code == 1
    assert ours32["invalid"] == [
        "388 cache hits for 400 texts answered (> 1%)",
        "12 texts decoded for 400 answered (< 99%)",
    ]
    versus = results["summary"]["ctranslate2"]["peers"]
    assert 32 not in {e["clients"] for e in versus["closed"]}
    assert versus["vs_best_peer"] == 45 / 50  # the 64-client cell, not the refused 10/35
    assert results["summary"]["ctranslate2"]["translate"]["efficiency_32"] is None
    out, err = capsys.readouterr()
    assert re.search(r"^ours-ctranslate2 +32 .* INVALID$", out, re.M)
    assert "ours-ctranslate2 translate 32 clients: 388 cache hits" in out
    assert "1 figure(s) did not measure decoding" in err and "translate 32 clients" in err


def test_every_figure_that_fails_is_named_and_one_that_holds_exits_zero(tmp_path, capsys):
    results = decoded_results()
    assert conclude(copy.deepcopy(results), tmp_path, "ok") == 0
    report.cell(results, "ours-ctranslate2", "translate", 8)["decoded"]["decoded_texts"] = 390
    report.cell(results, "pytriton", "translate", 64)["throughput"] = 60.0  # raw: 50 texts/s
    report.cell(results, "bentoml", "translate", 1)["out_of_bodies"] = True
    results["open_loop"][0]["answered"] = 300
    results["open_loop"][0]["decoded"] = {"decoded_texts": 300, "cache_hits": 4}
    problems = guard.validate(results)
    assert problems == [
        "bentoml translate 1 clients: ran out of distinct texts",
        "ours-ctranslate2 translate 8 clients: 390 texts decoded for 400 answered (< 99%)",
        "pytriton translate 64 clients: 60.0/s is 1.20x the raw engine's 50.0 texts/s",
        "ours-ctranslate2 translate open loop: 4 cache hits for 300 texts answered (> 1%)",
    ]
    report.derive(results)
    results["summary"] = report.summary(results)
    assert results["summary"]["ctranslate2"]["peers"]["open_loop_vs_best_peer"] is None


class _Progress:
    def set_postfix_str(self, text):
        pass

    def update(self):
        pass


@pytest.fixture
def endpoint(apps, serve_url, metrics_url):
    def make(bodies: Bodies) -> Endpoint:
        return Endpoint(
            system="ours-ctranslate2",
            backend="ctranslate2",
            workload="translate",
            port=int(serve_url.rsplit(":", 1)[1]),
            path="/translate",
            bodies=bodies,
            pids=replica_pids("translation", "Translator"),
            counters=partial(decoding_counters, metrics_url, "translation"),
        )

    return make


PLAN = {"window": {"translate": 1.5}, "warmup": {"translate": 0.5}}


def test_on_a_running_app_a_cell_of_repeated_texts_is_refused_and_one_of_distinct_texts_holds(endpoint):
    repeated = endpoint(Bodies([{"text": "Hello world!"}, {"text": "Good morning."}], distinct=False))
    [cell], _ = measure_closed(repeated, PLAN, [4], _Progress())
    # the two texts miss while the first few requests are in flight, then every lookup hits
    assert cell["answered"] > 10 and cell["decoded"]["cache_hits"] > 0.5 * cell["answered"]
    results = {"cells": [cell], "raw": [], "open_loop": []}
    [problem] = guard.validate(results)
    assert "cache hits" in problem and cell["invalid"]

    distinct = endpoint(Bodies([{"text": f"Bench sentence number {i}."} for i in range(5000)]))
    [cell], _ = measure_closed(distinct, PLAN, [4], _Progress())
    assert cell["answered"] > 10 and cell["decoded"]["cache_hits"] == 0
    assert cell["decoded"]["decoded_texts"] >= cell["answered"]
    assert guard.validate({"cells": [cell], "raw": [], "open_loop": []}) == []
