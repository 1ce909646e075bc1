"""deploy/grafana/textserve-dashboard.json: a Grafana dashboard whose every query names metrics
the apps really export (apps/common/metrics.py), or one of Serve's own that it names below, so a
renamed metric cannot leave a blank panel."""

import json
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = json.loads((REPO_ROOT / "deploy/grafana/textserve-dashboard.json").read_text())
METRICS_SOURCE = (REPO_ROOT / "apps/common/metrics.py").read_text()
# Ray exports a metric named "textserve_x" as ray_textserve_x, counters with _total, histograms
# with _bucket/_count/_sum
EXPORTED = re.compile(r"ray_(textserve_[a-z_]+?)(_total|_bucket|_count|_sum)?\b")
SERVE_METRIC = re.compile(r"ray_serve_[a-z_]+")
# Serve's own metrics the dashboard uses (the proxy's answers: its 503/429 rejections never reach
# our code); names as Ray 2.60 exports them (ray/serve/_private/request_ingress_metrics.py)
SERVE_METRICS = {
    "ray_serve_num_http_error_requests_total",
    # the models @serve.multiplexed holds and unloads (ray/serve/multiplex.py)
    "ray_serve_num_multiplexed_models",
    "ray_serve_multiplexed_models_unload_counter_total",
}


def test_every_panel_queries_prometheus_for_exported_metrics():
    declared = set(re.findall(r'"(textserve_[a-z_]+)"', METRICS_SOURCE))
    panels = DASHBOARD["panels"]
    assert len(panels) >= 6 and len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used = {m.group(1) for m in EXPORTED.finditer(target["expr"])}
            serve_used = set(SERVE_METRIC.findall(target["expr"]))
            assert used or serve_used, (panel["title"], target["expr"])
            assert used <= declared, (panel["title"], used - declared)
            assert serve_used <= SERVE_METRICS, (panel["title"], serve_used - SERVE_METRICS)


def test_the_dashboard_covers_requests_latency_tokens_batches_rejections_and_retries():
    exprs = " ".join(t["expr"] for p in DASHBOARD["panels"] for t in p["targets"])
    for metric in (
        "requests_total",
        "request_seconds_bucket",
        "input_tokens_total",
        "output_tokens_total",
        "batched_texts_total",
        "model_calls_total",
        "rejected_requests_total",
        "leaf_retries_total",
        "model_loads_total",
        "model_load_seconds_bucket",
        "model_load_waits_total",
    ):
        assert f"ray_textserve_{metric}" in exprs
    assert "ray_serve_num_multiplexed_models" in exprs  # models held per replica
