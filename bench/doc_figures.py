"""Figures in the docs, rendered from committed result files.

A document marks each generated region::

    <!-- figures: KIND PATH -->
    ...rendered text...
    <!-- /figures -->

KIND names a renderer below and PATH a result file (relative to the repository), or for
`settings` a pydantic model as `module:Class` (its keys, defaults and descriptions). `python -m
bench.doc_figures` rewrites every region from its file; `--check` exits 1 if any is stale
(`tests/test_docs.py` runs the check). `make figures` re-records the tests' figures first."""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from bench import long_report, mixed_report, report, request_path

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ("README.md", "docs/*.md", "bench/README.md", "deploy/README.md")
REGION = re.compile(r"(<!-- figures: (\S+) (\S+) -->\n)(.*?)(<!-- /figures -->)", re.S)


def _source(record: dict) -> str:
    machine = record.get("machine", {})
    commit = f" at commit {record['commit']}" if record.get("commit") else ""
    return (
        f"recorded {record['recorded']}{commit}; {report.machine_cpu(machine)}, {machine.get('cores')} cores"
    )


def render_bench_table(results: dict) -> str:
    return f"```\n{report.table(results)}\n\n{report.summary_line(results)}\n```"


def render_bench_targets(results: dict) -> str:
    s = results["summary"]
    memory = {(m["system"], m["workload"]): m["vs_reference"] for m in results["memory"]}

    def per_backend(workload: str, key: str, spec: str = ".2f") -> str:
        values = [s.get(b, {}).get(workload, {}).get(key) for b in ("ctranslate2", "transformers")]
        return " / ".join("-" if v is None else format(v, spec) for v in values)

    def per_memory(workload: str) -> str:
        values = [memory.get((f"ours-{b}", workload)) for b in ("ctranslate2", "transformers")]
        return " / ".join("-" if v is None else f"{v:.2f}" for v in values)

    rows = [
        (
            "translate, 32 clients: ≥ 20x (ctranslate2), ≥ 6x (transformers)",
            per_backend("translate", "x_reference_32", ".1f"),
        ),
        (
            "summarize, 32 clients: ≥ 8x (ctranslate2), ≥ 4x (transformers)",
            per_backend("summarize", "x_reference_32", ".1f"),
        ),
        (
            "one client p50 vs the reference: ≤ 0.5x (ctranslate2), ≤ 1x (transformers); translate",
            per_backend("translate", "p50_1_vs_reference"),
        ),
        ("the same, summarize", per_backend("summarize", "p50_1_vs_reference")),
        ("efficiency at 32 clients ≥ 0.70; translate", per_backend("translate", "efficiency_32")),
        ("the same, summarize", per_backend("summarize", "efficiency_32")),
        (
            "replica memory vs the reference: ≤ 0.5x (ctranslate2), ≤ 1x (transformers); translate",
            per_memory("translate"),
        ),
        ("the same, summarize", per_memory("summarize")),
    ]
    lines = ["| target | this run: ctranslate2 / transformers |", "| --- | --- |"]
    lines += [f"| {target} | {value} |" for target, value in rows]
    return "\n".join(lines)


def render_peer_targets(results: dict) -> str:
    """Issue 16's targets against the best peer, for the configured backend, from one run."""
    backend = results["configured_backend"]
    per = results["summary"][backend]
    vs = per["peers"]

    def ratio(value, spec: str = ".2f") -> str:
        return "-" if value is None else format(value, spec) + "x"

    rows = []
    for c in vs["closed"]:
        rows.append(
            (
                f"{c['workload']}, {c['clients']} clients: throughput ≥ 1.0x the best peer's, p95 ≤ 1.0x",
                f"{ratio(c['throughput_x'])}, p95 {ratio(c['p95_x'])} ({c['best_peer']})",
            )
        )
    for workload, o in vs["open_loop"].items():
        rows.append(
            (
                f"{workload}, open loop: sustained rate ≥ 1.25x the best peer's",
                f"{ratio(o['x'])} ({o['best_peer']})",
            )
        )
    for workload, o in vs.get("one_client", {}).items():
        rows.append(
            (
                f"{workload}, one client: p50 ≤ 1.0x the quickest peer's",
                f"{ratio(o['p50_x'])} ({o['best_peer']})",
            )
        )
    for workload in results["plan"]["workloads"]:
        for clients in (32, 64):
            value = per.get(workload, {}).get(f"efficiency_{clients}")
            rows.append(
                (
                    f"{workload}, {clients} clients: efficiency (served / raw) ≥ 0.85",
                    report.format_figure(value),
                )
            )
    lines = [f"| target | this run ({backend}) |", "| --- | --- |"]
    lines += [f"| {target} | {value} |" for target, value in rows]
    return "\n".join(lines)


def render_request_path_table(results: dict) -> str:
    return f"```\n{request_path.table(results)}\n```"


def render_long_document_table(results: dict) -> str:
    return f"```\n{long_report.table(results)}\n\n{long_report.result_line(results)}\n```"


def render_mixed_load_table(results: dict) -> str:
    return f"```\n{mixed_report.table(results)}\n\n{results['summary']}\n```"


def render_translator_killed(record: dict) -> str:
    f = record["figures"]
    return (
        f"*A Translator replica killed* ({f['steady_clients']} closed-loop clients, half on "
        f"`/translate`, half on `/`, plus {f['burst_requests']} requests of {f['burst_texts']} texts "
        f"just before the kill): "
        f"{f['requests']} requests, {f['requests_in_failure_window']} in the failure window; failed through "
        f"`/`: **{f['failed_router']}** (calls sent once more: {f['router_retries']} by the router, "
        f"{f.get('part_retries', 0)} parts by the serving Translator); failed directly on "
        f"`/translate`: {f['failed_direct']}; 2 RUNNING replicas again after {f['recovered_s']} s; longest "
        f"time without a 200 {f['longest_silence_s']} s; slowest request {f['slowest_s']} s. "
        f"({_source(record)})"
    )


def render_summarizer_killed(record: dict) -> str:
    f = record["figures"]
    return (
        f"*A Summarizer replica killed during map-reduce* (a {f['document_chars']:,}-character document; "
        f"{f['kills']} kill(s) until one caught chunk calls in flight): killed {f['killed_after_s']} s in, "
        f"answered {f['status']} after {f['answered_s']} s, {f['chunk_calls_retried']} chunk calls sent "
        f"once more. ({_source(record)})"
    )


def render_gcs_killed(record: dict) -> str:
    f = record["figures"]
    return (
        f"*The GCS killed* ({f['steady_clients']} closed-loop clients; restarted after {f['outage_s']} s): "
        f"{f['requests']} requests, {f['requests_during_outage']} answered during the outage, failed: "
        f"**{f['failed']}**; Serve's state as before {f['restored_s']} s after the restart; longest time "
        f"without a 200 {f['longest_silence_s']} s. ({_source(record)})"
    )


def render_backpressure(record: dict) -> str:
    f = record["figures"]
    return (
        f"*A burst far above capacity* ({f['requests']} requests from {f['clients']} clients at once, "
        f"1 replica holding {f['max_ongoing_requests']}, queue {f['max_queued_requests']}): "
        f"{f['answered']} answered ({f['answered_per_s']}/s), {f['rejected']} rejected with 503, in "
        f"{f['elapsed_s']} s; accepted p99 {f['accepted_p99_s']} s (bound {f['accepted_p99_bound_s']} s); "
        f"slowest rejection {f['slowest_rejection_s']} s. ({_source(record)})"
    )


def _statuses(counts: dict[str, int]) -> str:
    if set(counts) == {"200"}:
        return "every one answered 200"
    return "answered " + ", ".join(f"{n} x {status}" for status, n in sorted(counts.items()))


def render_autoscaling(record: dict) -> str:
    f = record["figures"]
    knobs = f["knobs"]
    return (
        f"Measured (`tests/translation/test_autoscaling.py`: the translation app of this file with the demo "
        f"model, min_replicas {knobs['min_replicas']}, max_replicas {knobs['max_replicas']}, delays "
        f"shortened to {knobs['upscale_delay_s']} s up / {knobs['downscale_delay_s']} s down / "
        f"{knobs['look_back_period_s']} s window): under {f['clients']} closed-loop clients Serve wanted "
        f"{f['wanted_replicas']} replicas {f['decided_s']} s after the load began; the first extra replica "
        f"was RUNNING at {f['first_extra_running_s']} s and all of them by {f['all_running_s']} s; idle, "
        f"the count was back to {knobs['min_replicas']} within {f['back_to_min_s']} s. {f['requests']} "
        f"requests, {_statuses(f['statuses'])}. ({_source(record)})"
    )


def render_settings(model) -> str:
    lines = ["| key | default | meaning |", "| --- | --- | --- |"]
    for name, field in model.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if hasattr(default, "model_dump"):
            default = default.model_dump()
        if isinstance(default, list):  # a list of settings (the translation catalog)
            default = [
                item.model_dump(exclude_none=True) if hasattr(item, "model_dump") else item
                for item in default
            ]
        shown = json.dumps(default, ensure_ascii=False) if isinstance(default, (dict, list)) else f"{default}"
        lines.append(f"| `{name}` | `{shown}` | {field.description or ''} |")
    return "\n".join(lines)


def _load(kind: str, arg: str, root: Path):
    if kind == "settings":
        module, _, name = arg.partition(":")
        return getattr(importlib.import_module(module), name)
    return json.loads((root / arg).read_text(encoding="utf-8"))


RENDERERS: dict[str, Callable] = {
    "settings": render_settings,
    "bench-table": render_bench_table,
    "bench-targets": render_bench_targets,
    "peer-targets": render_peer_targets,
    "request-path-table": render_request_path_table,
    "long-document-table": render_long_document_table,
    "mixed-load-table": render_mixed_load_table,
    "translator-killed": render_translator_killed,
    "summarizer-killed": render_summarizer_killed,
    "gcs-killed": render_gcs_killed,
    "backpressure": render_backpressure,
    "autoscaling": render_autoscaling,
}


def render_document(text: str, root: Path = REPO_ROOT) -> str:
    """`text` with every figures region rendered again from its result file."""

    def region(match: re.Match) -> str:
        opening, kind, arg, _, closing = match.groups()
        if kind not in RENDERERS:
            raise KeyError(f"unknown figures kind {kind!r}; known: {', '.join(RENDERERS)}")
        return f"{opening}{RENDERERS[kind](_load(kind, arg, root))}\n{closing}"

    return REGION.sub(region, text)


def documents(root: Path = REPO_ROOT) -> list[Path]:
    return sorted({path for pattern in DOCUMENTS for path in root.glob(pattern)})


def regions(text: str) -> list[tuple[str, str]]:
    """(kind, argument) of each figures region in `text`."""
    return [(kind, path) for _, kind, path, _, _ in REGION.findall(text)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a region is stale; write nothing")
    args = parser.parse_args(argv)
    stale = []
    for path in documents():
        text = path.read_text(encoding="utf-8")
        rendered = render_document(text)
        if rendered != text:
            stale.append(path.relative_to(REPO_ROOT))
            if not args.check:
                path.write_text(rendered, encoding="utf-8")
    if stale:
        print(("stale: " if args.check else "rewritten: ") + ", ".join(map(str, stale)))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
