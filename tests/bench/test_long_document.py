"""The long-document benchmark's pure parts (no Ray, no model): the document, the configs of the
two systems, the readings it takes from metrics and logs, and its result line."""

import copy
from pathlib import Path

import pytest
import yaml

from bench import long_document as ld
from bench import long_report, metrics
from bench.documents import build_document
from bench.models import WORDS, unwritable_ids
from textserve.inprocess import app_config

CONFIG = yaml.safe_load((Path(__file__).resolve().parents[2] / "serve_config.yaml").read_text())


def test_the_document_is_twenty_thousand_words_of_sentences_in_paragraphs():
    document = build_document()
    words = document.split()
    assert 20_000 <= len(words) < 20_000 + 28
    assert document == build_document()  # every run sends the same text
    assert {w.strip(".").lower() for w in words} <= set(WORDS)  # what the bench tokenizer knows
    paragraphs = document.split("\n\n")
    assert len(paragraphs) > 100
    assert all(p[0].isupper() and p.endswith(".") for p in paragraphs)
    sentences = document.replace("\n\n", " ").split(". ")
    assert all(10 <= len(s.split()) <= 28 for s in sentences[:-1])
    # accepted by the app: under its max_input_chars
    user_config = app_config(CONFIG, "summarization")["deployments"][0]["user_config"]
    assert len(document) < user_config["max_input_chars"]


def test_the_document_length_is_a_parameter():
    assert 1000 <= len(build_document(1000).split()) < 1028
    assert build_document(1000, seed=1) != build_document(1000, seed=2)


def test_fanout_is_the_configured_deployment_and_single_differs_only_in_replicas():
    original = copy.deepcopy(CONFIG)
    fan_app, fan_user = ld.system_config(CONFIG, "fanout", "/models/x")
    one_app, one_user = ld.system_config(CONFIG, "single", "/models/x")
    assert original == CONFIG  # not modified in place
    configured = app_config(CONFIG, "summarization")
    [fan], [one], [want] = fan_app["deployments"], one_app["deployments"], configured["deployments"]
    assert fan["num_replicas"] == want["num_replicas"] == 2
    assert one["num_replicas"] == 1
    assert fan["ray_actor_options"] == one["ray_actor_options"] == {"num_cpus": 0.2, "num_gpus": 0.0}
    for key in want:
        if key not in ("num_replicas",):
            assert fan[key] == one[key] == want[key], key
    # only the model changes in the user_config (backend, batching, map-reduce limits as configured),
    # and the cache is off: the random-weight model's reduce-level texts repeat across documents
    assert fan_user == one_user == {**want["user_config"], "model": "/models/x", "cache_entries": 0}
    assert fan_user["backend"] == "ctranslate2" and fan_user["max_fan_out_requests"] == 4
    # their own names and routes, which match no other app's
    assert (fan_app["name"], fan_app["route_prefix"]) == ("bench-long-fanout", "/bench-long-fanout")
    assert (one_app["name"], one_app["route_prefix"]) == ("bench-long-single", "/bench-long-single")
    assert fan_app["import_path"] == one_app["import_path"] == configured["import_path"]


def test_every_request_forces_its_summary_length():
    body = ld.request_body("text")
    assert body == {"text": "text", "max_length": 60, "min_length": 60}


def test_unwritable_ids_are_the_special_ones_and_those_past_the_tokenizer():
    assert unwritable_ids(10, 6, [0, 1, 2, 5]) == [0, 1, 2, 5, 6, 7, 8, 9]
    assert unwritable_ids(4, 4, []) == []


METRICS = """\
# HELP ray_textserve_model_calls_total Batched model calls.
# TYPE ray_textserve_model_calls_total counter
ray_textserve_model_calls_total{application="bench-long-fanout",deployment="Summarizer",replica="a1"} 30.0
ray_textserve_model_calls_total{application="bench-long-fanout",deployment="Summarizer",replica="b2"} 28.0
ray_textserve_model_calls_total{application="bench-long-single",deployment="Summarizer",replica="c3"} 50.0
ray_textserve_model_calls_total_created{application="bench-long-fanout",replica="a1"} 1.7e9
ray_textserve_batched_texts_total{application="bench-long-fanout",deployment="Summarizer",replica="a1"} 160.0
"""


def test_counters_are_read_per_replica_of_one_application():
    calls = metrics.per_replica(METRICS, "ray_textserve_model_calls_total", "bench-long-fanout")
    assert calls == {"a1": 30.0, "b2": 28.0}
    per_replica = metrics.per_replica
    assert per_replica(METRICS, "ray_textserve_model_calls_total", "bench-long-single") == {"c3": 50.0}
    assert per_replica(METRICS, "ray_textserve_batched_texts_total", "bench-long-fanout") == {"a1": 160.0}
    assert per_replica(METRICS, "ray_textserve_model_calls_total", "summarization") == {}
    assert metrics.delta({"a1": 30.0, "b2": 28.0}, {"a1": 10.0}) == {"a1": 20.0, "b2": 28.0}


def _results(concurrent: bool = True) -> dict:
    def system(replicas, times, calls, per_doc):
        s = {
            "replicas": replicas,
            "sequential_s": times,
            "sequential_mean_s": long_report.mean(times),
            "sequential_cpu": {"replica_cores": 1.9, "machine_busy_cores": 2.0},
            "chunks": 52,
            "levels": 2,
            "calls_per_replica": calls,
            "avg_batch": 6.5,
            "replicas_used": len(calls),
            "summary_tokens": 61,
            "reduce_log": [{"chars": 1, "chunks": 52, "levels": 2, "map_s": 7.0}],
            "decode_s_per_text": 0.4,
        }
        if concurrent:
            s["concurrent"] = {
                "documents": 2,
                "wall_s": 2 * per_doc,
                "s_per_doc": per_doc,
                "cpu": {"replica_cores": 1.95, "machine_busy_cores": 2.0},
            }
        return s

    results = {
        "document": {"words": 20011, "chars": 130000, "tokens": 22012, "window": 512, "level1_chunks": 46},
        "summary_tokens": 60,
        "systems": {
            "fanout": system(2, [8.0, 8.2, 7.8], {"a": 30.0, "b": 28.0}, 7.5),
            "single": system(1, [15.0, 15.5, 14.5], {"c": 52.0}, 15.0),
        },
    }
    fan, single = results["systems"]["fanout"], results["systems"]["single"]
    results["speedup"] = long_report.speedup(fan["sequential_mean_s"], single["sequential_mean_s"])
    results["concurrent_speedup"] = long_report.speedup(
        fan.get("concurrent", {}).get("s_per_doc"), single.get("concurrent", {}).get("s_per_doc")
    )
    return results


def test_the_result_line():
    assert long_report.result_line(_results()) == (
        "long_document: words=20011 tokens=22012 chunks=52 levels=2 fanout_s=8.00 single_s=15.00 "
        "speedup=1.88x concurrent_speedup=2.00x fanout_replicas_used=2/2"
    )
    line = long_report.result_line(_results(concurrent=False))
    assert line.endswith("speedup=1.88x fanout_replicas_used=2/2")


def test_the_table_has_a_row_per_system_and_run():
    text = long_report.table(_results())
    rows = [line.split() for line in text.splitlines() if line.startswith(("fanout ", "single "))]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("fanout", "2", "one"),
        ("fanout", "2", "2"),
        ("single", "1", "one"),
        ("single", "1", "2"),
    ]
    assert rows[0][-4:] == ["8.00", "7.50", "1.90", "2.00"]  # s/doc, docs/min, cores
    assert "speed-up of fanout over single: 1.88x one by one, 2.00x" in text
    assert "timed runs: model calls per replica 30 + 28, 6.5 chunks per call, 0.40 s" in text
    assert long_report.table(_results(concurrent=False))  # no "at once" rows: still a table


@pytest.mark.parametrize(("fan", "single", "want"), [(5.0, 10.0, 2.0), (None, 10.0, None), (5.0, None, None)])
def test_speedup(fan, single, want):
    assert long_report.speedup(fan, single) == want


def _with_translation(results: dict) -> dict:
    case = {
        "document": {"chars": 9870, "words": 1400, "sentences": 75},
        "sentence_tokens": 30,
        "systems": {
            "fanout": {**_results()["systems"]["fanout"], "sequential_s": [1.0], "sequential_mean_s": 1.0},
            "single": {**_results()["systems"]["single"], "sequential_s": [1.8], "sequential_mean_s": 1.8},
        },
        "speedup": 1.8,
        "concurrent_speedup": 1.75,
    }
    return {**results, "translation": case}


def test_the_long_translation_case_joins_the_result_line_and_the_table():
    line = long_report.result_line(_with_translation(_results()))
    assert line.endswith(
        "fanout_replicas_used=2/2 translate_speedup=1.80x translate_concurrent_speedup=1.75x "
        "translate_replicas_used=2/2"
    )
    text = long_report.table(_with_translation(_results()))
    assert "long translation: 9870 characters, 1400 words, 75 sentences" in text
    assert text.count("speed-up of fanout over single") == 2
    only = {"translation": _with_translation({})["translation"]}  # --workloads translate
    assert long_report.result_line(only).startswith("long_document: translate_speedup=1.80x")
    assert long_report.table(only).strip().startswith("long translation:")


def test_the_long_translation_fits_the_translation_apps_limit():
    text = ld.long_text()
    assert 9_000 < len(text) <= 10_000 and text.endswith(".")
    _, user_config = ld.system_config(CONFIG, "single", "m", "translate")
    assert user_config["max_input_chars"] >= len(text)
    assert user_config["min_new_tokens"] == user_config["max_new_tokens"] == ld.SENTENCE_TOKENS


@pytest.mark.parametrize("workload", ["summarize", "translate"])
def test_every_document_sent_is_new_down_to_its_sentences(workload):
    """The replicas cache outputs per sentence (and per chunk): a document sent twice, or two that
    share sentences, would be timed as cache lookups."""
    import json

    from apps.common.documents import split_sentences

    bodies = ld.request_bodies(workload, 2_000)
    texts = [json.loads(next(bodies))["text"] for _ in range(4)]
    sentences = [s for text in texts for s in split_sentences(text).sentences]
    assert len(set(sentences)) == len(sentences) > 4 * 20
    if workload == "translate":
        assert all(9_000 < len(text) <= 10_000 for text in texts)
    else:
        assert all(abs(len(text.split()) - 2_000) < 30 for text in texts)


def test_a_system_answered_from_its_cache_is_refused():
    from bench.guard import decoding_reasons

    assert decoding_reasons({"decoded_texts": 40, "cache_hits": 0}, 40) == []
    assert decoding_reasons({"decoded_texts": 1, "cache_hits": 39}, 40) == [
        "39 cache hits for 40 texts answered (> 1%)",
        "1 texts decoded for 40 answered (< 99%)",
    ]
