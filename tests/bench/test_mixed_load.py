"""The mixed-load benchmark's pure parts (no Ray, no model): its texts, the designs' configs, the
readings it takes from the metrics, the ratios and targets, the table and the result line."""

import copy
import itertools
import random
from collections import Counter
from pathlib import Path

import pytest
import yaml

from apps.common.documents import split_sentences
from bench import metrics
from bench import mixed_load as ml
from bench import mixed_report as mr
from bench.documents import repeated_document, spread_repeats
from bench.models import WORDS
from textserve.inprocess import app_config
from textserve.run_config import with_model

CONFIG = yaml.safe_load((Path(__file__).resolve().parents[2] / "serve_config.yaml").read_text())
LIMITS = app_config(CONFIG, "translation")["deployments"][0]["user_config"]


def _sentences(text: str) -> list[str]:
    return split_sentences(text).sentences


def test_a_repeated_document_has_each_sentence_four_times_never_next_to_itself():
    [(text, unique)] = ml.cache_documents(1)
    sentences = _sentences(text)
    assert len(unique) == 40 and len(set(unique)) == 40
    assert Counter(sentences) == dict.fromkeys(unique, 4)  # as the app splits it: 160 sentences
    assert all(a != b for a, b in itertools.pairwise(sentences))
    assert len(text) <= LIMITS["max_input_chars"]
    assert {w.strip(".").lower() for w in text.split()} <= set(WORDS)  # what the bench tokenizer knows
    assert ml.cache_documents(1) == [(text, unique)]  # a fixed seed: every run sends the same texts


def test_every_timed_document_brings_a_new_sentence_set():
    documents = ml.cache_documents(5)
    sets = [set(unique) for _, unique in documents]
    assert all(len(s) == 40 for s in sets)
    assert len(set().union(*sets)) == 5 * 40  # no sentence in two documents: each starts on an empty cache


def test_repeats_cannot_be_kept_apart_when_there_is_only_one_sentence():
    assert spread_repeats(random.Random(1), ["a", "b", "a", "b"]) in (
        ["a", "b", "a", "b"],
        ["b", "a", "b", "a"],
    )
    with pytest.raises(ValueError, match="keeps equal ones apart"):
        spread_repeats(random.Random(1), ["a", "a"], tries=5)


def test_the_document_builder_respects_its_character_bound():
    rng, seen = random.Random(3), set()
    text, unique = repeated_document(rng, seen, distinct=10, repeats=2, words=(6, 10), max_chars=1400)
    assert len(text) <= 1400 and len(_sentences(text)) == 20
    assert set(unique) <= seen
    with pytest.raises(ValueError, match="never fit 100 characters"):
        repeated_document(rng, seen, distinct=10, repeats=2, words=(6, 10), max_chars=100)


def test_bulk_bodies_alternate_documents_and_lists_of_64_sentences_within_the_apps_limits():
    bodies = ml.bulk_bodies()
    assert [("text" in b, "texts" in b) for b in bodies[:2]] == [(True, False), (False, True)]
    assert len(bodies) == ml.BULK_BODIES and bodies == ml.bulk_bodies()
    everything = []
    for body in bodies:
        texts = body.get("texts") or [body["text"]]
        assert ml.sentences_in(body) == ml.BULK_SENTENCES
        assert len(texts) <= LIMITS["max_texts_per_request"]
        assert all(len(t) <= LIMITS["max_input_chars"] for t in texts)
        assert sum(map(len, texts)) <= LIMITS["max_request_chars"]
        everything += [s for t in texts for s in _sentences(t)]
    assert len(everything) == len(set(everything))  # no sentence twice
    documents = [b["text"] for b in bodies if "text" in b]
    assert all(8_500 <= len(d) <= 9_900 for d in documents)  # ~9,000 characters
    # a document fans out in parts (more sentences than part_sentences)
    assert ml.BULK_SENTENCES > LIMITS["part_sentences"] > 0


def test_the_designs_differ_from_the_configured_app_only_in_the_model_lengths_and_their_knobs():
    original = copy.deepcopy(CONFIG)
    configured = app_config(CONFIG, "translation")
    for design, overrides in ml.OVERRIDES.items():
        app_cfg, user_config = ml.design_config(CONFIG, design, "/models/x")
        assert (app_cfg["name"], app_cfg["route_prefix"]) == (
            f"bench-mixed-{design}",
            f"/bench-mixed-{design}",
        )
        [deployment], [want] = app_cfg["deployments"], configured["deployments"]
        assert deployment["num_replicas"] == 2
        assert deployment["ray_actor_options"] == {"num_cpus": 0.2, "num_gpus": 0.0}
        assert {k: v for k, v in deployment.items() if k != "user_config"} == {
            k: v for k, v in want.items() if k != "user_config"
        }
        forced = {"max_new_tokens": 30, "min_new_tokens": 30}
        assert user_config == {**with_model(want["user_config"], "/models/x"), **overrides, **forced}
        assert [entry["model"] for entry in user_config["models"]] == ["/models/x"]
    assert original == CONFIG  # not modified in place
    assert ml.OVERRIDES["fifo"] == {"bulk_max_wait_s": 0, "cache_entries": 0}
    assert "bulk_max_wait_s" not in ml.OVERRIDES["classes"]  # the default aging
    assert ml.OVERRIDES["cache"] == {}  # the default cache
    assert ml.OVERRIDES["bulk_fill"] == {"cache_entries": 0, "interactive_batch_size": ml.BULK_FILL}
    assert ml.serving_knobs()["interactive_batch_size"] < ml.BULK_FILL  # the other end of the trade


def test_the_designs_user_configs_are_valid_settings():
    from apps.common.settings import parse_user_config
    from apps.translation.config import TranslationSettings

    if not set(ml.KNOBS) <= set(TranslationSettings.model_fields):
        pytest.skip("the serving side's class and cache settings are not declared yet")
    for design in ml.OVERRIDES:
        settings = parse_user_config(TranslationSettings, ml.design_config(CONFIG, design, "m")[1], "x")
        assert settings.min_new_tokens == settings.max_new_tokens == 30
    assert (
        parse_user_config(TranslationSettings, ml.design_config(CONFIG, "fifo", "m")[1], "x").bulk_max_wait_s
        == 0
    )


def test_the_rounds_alternate_which_design_goes_first():
    assert mr.round_order(("fifo", "classes"), 1) == [(1, "fifo"), (1, "classes")]
    assert mr.round_order(("fifo", "classes"), 2) == [
        (1, "fifo"),
        (1, "classes"),
        (2, "classes"),
        (2, "fifo"),
    ]


METRICS = """\
# TYPE ray_textserve_queue_wait_seconds histogram
ray_textserve_queue_wait_seconds_bucket{application="bench-mixed-fifo",le="0.1",priority="bulk"} 3.0
ray_textserve_queue_wait_seconds_count{application="bench-mixed-fifo",priority="bulk",replica="a"} 100.0
ray_textserve_queue_wait_seconds_count{application="bench-mixed-fifo",priority="bulk",replica="b"} 28.0
ray_textserve_queue_wait_seconds_sum{application="bench-mixed-fifo",priority="bulk",replica="a"} 40.0
ray_textserve_queue_wait_seconds_count{application="bench-mixed-fifo",priority="interactive",replica="a"} 10.0
ray_textserve_queue_wait_seconds_sum{application="bench-mixed-fifo",priority="interactive",replica="a"} 5.0
ray_textserve_queue_wait_seconds_count{application="bench-mixed-classes",priority="bulk",replica="c"} 7.0
ray_textserve_cache_lookups_total{application="bench-mixed-fifo",replica="a",result="hit"} 120.0
ray_textserve_cache_lookups_total{application="bench-mixed-fifo",replica="b",result="miss"} 40.0
ray_textserve_model_calls_total{application="bench-mixed-fifo",deployment="Translator",replica="a"} 8.0
ray_textserve_batched_texts_total{application="bench-mixed-fifo",deployment="Translator",replica="a"} 138.0
"""


def test_queue_wait_per_class_and_cache_lookups_are_read_per_application():
    now = metrics.class_counters(METRICS, "bench-mixed-fifo")
    assert now == {
        "queue_wait": {"bulk": {"count": 128.0, "sum_s": 40.0}, "interactive": {"count": 10.0, "sum_s": 5.0}},
        "cache": {"hit": 120.0, "miss": 40.0},
        "calls": 8.0,
        "texts": 138.0,
    }
    empty = metrics.class_counters("", "bench-mixed-fifo")
    assert empty == {"queue_wait": {}, "cache": {}, "calls": 0, "texts": 0}
    delta = metrics.class_delta(now, {**empty, "queue_wait": {"bulk": {"count": 28.0, "sum_s": 10.0}}})
    assert delta["queue_wait"] == {
        "bulk": {"count": 100.0, "sum_s": 30.0},
        "interactive": {"count": 10.0, "sum_s": 5.0},
    }
    assert delta["cache"] == {"hit": 120.0, "miss": 40.0}
    assert (delta["model_calls"], delta["avg_batch"]) == (8.0, 138.0 / 8)
    assert metrics.class_delta(empty, empty)["avg_batch"] is None


def _cell(p50, p95, throughput=10.0, completed=100, window=20.0, errors=0):
    return {
        "clients": 4,
        "window_s": window,
        "completed": completed,
        "errors": errors,
        "censored": 0,
        "throughput": throughput,
        "p50": p50,
        "p95": p95,
        "p99": p95,
        "latency_is_lower_bound": False,
        "statuses": {"200": completed},
    }


def _round(design, number, alone_p95, mixed_p95, bulk_completed):
    cpu = {"replica_cores": 0.4, "machine_busy_cores": 1.9}
    return {
        "design": design,
        "round": number,
        "alone": {"interactive": _cell(0.25, alone_p95), "cpu": cpu, "queue_wait": {}},
        "mixed": {
            "interactive": _cell(mixed_p95 / 2, mixed_p95, throughput=3.0, completed=120, window=40.0),
            "bulk": _cell(3.0, 5.0, completed=bulk_completed, window=42.0),
            "cpu": cpu,
            "queue_wait": {
                "interactive": {"count": 120.0, "sum_s": 6.0},
                "bulk": {"count": 64.0, "sum_s": 64.0},
            },
        },
    }


def _results(cache=True) -> dict:
    results = {
        "machine": {"cpu": "AMD EPYC", "cpu_vendor": "AuthenticAMD", "cpu_flags": ["avx2"], "cores": 2},
        "replicas": 2,
        "replica_cpus": 0.2,
        "sentence_tokens": 30,
        "plan": {"interactive_clients": 4, "bulk_clients": 2},
        "texts": {
            "interactive": {"input_tokens": 30, "mean_chars": 140.0},
            "bulk": {"sentences_per_request": 64, "document_chars": 9100.0},
        },
        "rounds": [
            _round("fifo", 1, 0.30, 3.0, 30),
            _round("classes", 1, 0.34, 0.60, 28),
            _round("bulk_fill", 1, 0.30, 1.0, 30),
            _round("bulk_fill", 2, 0.30, 1.2, 30),
            _round("classes", 2, 0.30, 0.52, 29),
            _round("fifo", 2, 0.26, 2.6, 30),
        ],
    }
    if cache:
        results["cache"] = {
            "document": {"chars": 8300, "sentences": 160, "distinct": 40, "repeats": 4},
            "off": {"cache_entries": 0, "runs_s": [4.0, 4.4], "mean_s": 4.2},
            "on": {"cache_entries": 4096, "runs_s": [1.1, 1.3], "mean_s": 1.2},
            "lookups": {"hit": 240.0, "miss": 80.0},
        }
    mr.derive(results)
    return results


def test_the_ratios_pool_the_rounds():
    results = _results()
    assert results["alone"]["p95_s"] == pytest.approx(0.30)  # the mean over every alone run
    assert results["beside_bulk"]["fifo"]["interactive"]["p95_s"] == pytest.approx(2.8)
    assert results["beside_bulk"]["classes"]["interactive"]["p95_s"] == pytest.approx(0.56)
    # bulk sentences answered per second: answered requests x 64 over the pooled windows
    assert results["beside_bulk"]["fifo"]["bulk_sentences_per_s"] == pytest.approx(60 * 64 / 84)
    assert results["beside_bulk"]["classes"]["bulk_sentences_per_s"] == pytest.approx(57 * 64 / 84)
    f = results["figures"]
    assert f["interactive_p95_x"] == pytest.approx(0.56 / 0.30)
    assert f["fifo_p95_x"] == pytest.approx(2.8 / 0.30)
    assert f["bulk_kept"] == pytest.approx(57 / 60)
    assert f["cache_x"] == pytest.approx(3.5)
    assert f["bulk_fill_p95_x"] == pytest.approx(1.1 / 0.30)
    assert f["bulk_fill_kept"] == pytest.approx(1.0)


def test_the_targets_say_met_or_not_and_none_without_a_figure():
    [p95, bulk, cache] = mr.targets({"interactive_p95_x": 2.5, "bulk_kept": 0.95, "cache_x": None})
    assert (p95["figure"], p95["target"], p95["met"]) == ("interactive_p95_x", "<= 2", False)
    assert (bulk["target"], bulk["met"]) == (">= 0.9", True)
    assert (cache["value"], cache["met"]) == (None, None)
    assert [t["met"] for t in _results()["targets"]] == [True, True, True]


@pytest.mark.parametrize(
    ("numerator", "denominator", "want"),
    [(3.0, 1.5, 2.0), (None, 1.0, None), (1.0, None, None), (1.0, 0.0, None), (float("nan"), 1.0, None)],
)
def test_ratio(numerator, denominator, want):
    assert mr.ratio(numerator, denominator) == want


def test_mean_leaves_out_missing_figures():
    assert mr.mean([1.0, None, 3.0, float("nan")]) == 2.0
    assert mr.mean([]) is None


def test_the_summary_line():
    assert mr.summary_line(_results()) == (
        "mixed_load: interactive_p95_x=1.87 fifo_p95_x=9.33 bulk_kept=0.95 cache_x=3.50 "
        "bulk_fill_p95_x=3.67 bulk_fill_kept=1.00 cpu=AMD EPYC"
    )
    assert "bulk_kept=0.95 cache_x=- bulk_fill" in mr.summary_line(_results(cache=False))


def test_the_table_has_a_row_per_run_and_the_targets():
    text = mr.table(_results())
    rows = [line.split() for line in text.splitlines() if line.startswith(("fifo ", "classes "))]
    assert [(r[0], r[1], r[2]) for r in rows[:4]] == [
        ("fifo", "1", "alone"),
        ("fifo", "1", "beside"),
        ("classes", "1", "alone"),
        ("classes", "1", "beside"),
    ]
    assert f"{30 * 64 / 42:.1f}" in rows[1]  # bulk sentences/s of that run
    assert "queue wait, fifo round 1 beside bulk: bulk 1.000 s x 64, interactive 0.050 s x 120" in text
    assert "speed-up 3.50x; cache lookups of the timed runs (cache on): hit 240, miss 80" in text
    assert text.count(" met") == 3 and "NOT met" not in text
    assert "no figure" in mr.table(_results(cache=False))
