"""What a `make bench-mixed` run shows: its figures (ratios), the targets met or not, the tables and
the one-line result. Pure: it reads the results dict bench/mixed_load.py builds."""

from __future__ import annotations

import math

from bench.report import format_figure, machine_line

# fifo: bulk_max_wait_s 0, one queue in arrival order; classes: the defaults; bulk_fill: classes with
# larger interactive calls (interactive_batch_size, bench/mixed_load.py's BULK_FILL), the other end
# of the trade that knob makes
DESIGNS = ("fifo", "classes", "bulk_fill")
# (figure, comparison, bound, what it means); the issue's targets
TARGETS = (
    ("interactive_p95_x", "<=", 2.0, "interactive p95 beside bulk, classes: <= 2x its p95 alone"),
    ("bulk_kept", ">=", 0.9, "bulk throughput with classes: >= 0.9x FIFO's"),
    ("cache_x", ">=", 3.0, "a document whose sentences repeat 4x: >= 3x faster with the cache on"),
)


def _number(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def mean(values) -> float | None:
    """The mean of the figures there are (None and NaN left out); None if there are none."""
    numbers = [v for v in map(_number, values) if v is not None]
    return sum(numbers) / len(numbers) if numbers else None


def ratio(numerator, denominator) -> float | None:
    numerator, denominator = _number(numerator), _number(denominator)
    return numerator / denominator if numerator is not None and denominator else None


def round_order(designs: tuple[str, ...], rounds: int) -> list[tuple[int, str]]:
    """(round, design) in the order they run: every other round reversed (A B, B A, A B, ...), so
    neither design always runs first after a redeploy or last when the machine has warmed up."""
    order = []
    for number in range(rounds):
        names = designs if number % 2 == 0 else tuple(reversed(designs))
        order += [(number + 1, name) for name in names]
    return order


def bulk_rate(cells: list[dict], sentences_per_request: int) -> float | None:
    """Bulk sentences answered per second over closed-loop windows (every bulk request has
    `sentences_per_request` sentences): pooled, not a mean of rates."""
    window = sum(c["window_s"] for c in cells)
    return sum(c["completed"] for c in cells) * sentences_per_request / window if window else None


def interactive_figures(cells: list[dict]) -> dict:
    """Mean p50, p95 and req/s of the interactive clients over runs."""
    return {
        "p50_s": mean(c["p50"] for c in cells),
        "p95_s": mean(c["p95"] for c in cells),
        "req_per_s": mean(c["throughput"] for c in cells),
        "completed": sum(c["completed"] for c in cells),
        "errors": sum(c["errors"] for c in cells),
        "lower_bound": any(c["latency_is_lower_bound"] for c in cells),
    }


def derive(results: dict) -> None:
    """Pooled figures per design, the ratios, and the targets, into `results` (in place)."""
    rounds, sentences = results["rounds"], results["texts"]["bulk"]["sentences_per_request"]
    alone = [r["alone"]["interactive"] for r in rounds if r.get("alone")]
    results["alone"] = interactive_figures(alone)
    pooled = {}
    for design in DESIGNS:
        mixed = [r["mixed"] for r in rounds if r["design"] == design and r.get("mixed")]
        if not mixed:
            continue
        pooled[design] = {
            "interactive": interactive_figures([m["interactive"] for m in mixed]),
            "bulk_sentences_per_s": bulk_rate([m["bulk"] for m in mixed], sentences),
            "bulk_errors": sum(m["bulk"]["errors"] for m in mixed),
        }
    results["beside_bulk"] = pooled
    alone_p95 = results["alone"]["p95_s"]

    def p95(design: str) -> float | None:
        return pooled.get(design, {}).get("interactive", {}).get("p95_s")

    def bulk(design: str) -> float | None:
        return pooled.get(design, {}).get("bulk_sentences_per_s")

    cache = results.get("cache") or {}
    results["figures"] = {
        "interactive_p95_x": ratio(p95("classes"), alone_p95),
        "fifo_p95_x": ratio(p95("fifo"), alone_p95),
        "bulk_kept": ratio(bulk("classes"), bulk("fifo")),
        "cache_x": ratio(cache.get("off", {}).get("mean_s"), cache.get("on", {}).get("mean_s")),
        "bulk_fill_p95_x": ratio(p95("bulk_fill"), alone_p95),
        "bulk_fill_kept": ratio(bulk("bulk_fill"), bulk("fifo")),
    }
    results["targets"] = targets(results["figures"])


def targets(figures: dict) -> list[dict]:
    out = []
    for name, comparison, bound, meaning in TARGETS:
        value = _number(figures.get(name))
        met = None if value is None else (value <= bound if comparison == "<=" else value >= bound)
        out.append(
            {"figure": name, "target": f"{comparison} {bound:g}", "value": value, "met": met, "what": meaning}
        )
    return out


def summary_line(results: dict) -> str:
    f = results["figures"]
    return (
        f"mixed_load: interactive_p95_x={format_figure(f.get('interactive_p95_x'))} "
        f"fifo_p95_x={format_figure(f.get('fifo_p95_x'))} "
        f"bulk_kept={format_figure(f.get('bulk_kept'))} "
        f"cache_x={format_figure(f.get('cache_x'))} "
        f"bulk_fill_p95_x={format_figure(f.get('bulk_fill_p95_x'))} "
        f"bulk_fill_kept={format_figure(f.get('bulk_fill_kept'))} "
        f"cpu={results['machine'].get('cpu')}"
    )


def _cell_row(
    design: str, number, load: str, cell: dict, bulk: dict | None, sentences: int, cpu: dict
) -> str:
    bound = ">" if cell["latency_is_lower_bound"] else " "
    rate = bulk_rate([bulk], sentences) if bulk else None
    errors = cell["errors"] + (bulk["errors"] if bulk else 0)
    return (
        f"{design:<10}{number:>6}  {load:<12}{cell['window_s']:>8.1f}{cell['throughput']:>9.2f}"
        f"{format_figure(cell['p50']):>8}{bound}{format_figure(cell['p95']):>7}{bound}"
        f"{format_figure(rate, '.1f'):>10}{errors:>5}"
        f"{format_figure(cpu.get('replica_cores')):>9}{format_figure(cpu.get('machine_busy_cores')):>9}"
    )


def _queue_wait(wait: dict) -> str:
    parts = []
    for priority, w in sorted(wait.items()):
        parts.append(f"{priority} {format_figure(ratio(w['sum_s'], w['count']), '.3f')} s x {w['count']:.0f}")
    return ", ".join(parts) or "not reported"


def table(results: dict) -> str:
    texts, plan = results["texts"], results["plan"]
    bulk, sentences = texts["bulk"], texts["bulk"]["sentences_per_request"]
    lines = [
        machine_line(results),
        f"\nmixed load on the translation app as serve_config.yaml configures it ({results['replicas']} "
        f"replicas x {results['replica_cpus']} CPU), every sentence forced to {results['sentence_tokens']} "
        "tokens, cache_entries 0 (the cache is measured below)",
        f"interactive: {plan['interactive_clients']} closed-loop clients, each pausing "
        f"{plan.get('think_s', 0):g} s after an answer (a person reading it), one ~"
        f"{texts['interactive']['input_tokens']}-token sentence per request "
        f"(~{texts['interactive']['mean_chars']:.0f} characters)",
        f"bulk: {plan['bulk_clients']} closed-loop clients alternating a ~{bulk['document_chars']:.0f}-"
        f"character document and a list of {sentences} texts, {sentences} sentences each",
        f"{'design':<10}{'round':>6}  {'load':<12}{'window':>8}{'req/s':>9}{'p50 s':>8}{'p95 s':>8}"
        f"{'bulk s/s':>10}{'err':>5}{'replica':>9}{'machine':>9}",
    ]
    for r in results["rounds"]:
        if r.get("alone"):
            a = r["alone"]
            lines.append(
                _cell_row(r["design"], r["round"], "alone", a["interactive"], None, sentences, a["cpu"])
            )
        if r.get("mixed"):
            m = r["mixed"]
            lines.append(
                _cell_row(
                    r["design"], r["round"], "beside bulk", m["interactive"], m["bulk"], sentences, m["cpu"]
                )
            )
    lines.append(
        "(req/s, p50, p95: the interactive clients; bulk s/s: bulk sentences answered per second; err: "
        "non-200\n answers; replica, machine: cores the design's replicas / the whole machine used; "
        "'>': a request cut\n off at the window's end reaches that percentile, a lower bound)"
    )
    alone = results["alone"]
    lines.append(
        f"\ninteractive alone: p50 {format_figure(alone['p50_s'])} s, p95 {format_figure(alone['p95_s'])} s, "
        f"{format_figure(alone['req_per_s'])} req/s (mean over {len(results['rounds'])} runs)"
    )
    lines.append(f"{'design':<10} {'p50 s':>7} {'p95 s':>7} {'p95 x alone':>12} {'bulk sentences/s':>17}")
    for design, p in results["beside_bulk"].items():
        i = p["interactive"]
        lines.append(
            f"{design:<10} {format_figure(i['p50_s']):>7} {format_figure(i['p95_s']):>7} "
            f"{format_figure(ratio(i['p95_s'], alone['p95_s'])):>12} "
            f"{format_figure(p['bulk_sentences_per_s'], '.1f'):>17}"
        )
    for r in results["rounds"]:
        if r.get("mixed"):
            lines.append(
                f"  queue wait, {r['design']} round {r['round']} beside bulk: "
                f"{_queue_wait(r['mixed'].get('queue_wait', {}))}"
            )
    lines += cache_table(results.get("cache"))
    lines.append("\ntargets")
    for t in results["targets"]:
        met = {True: "met", False: "NOT met", None: "no figure"}[t["met"]]
        lines.append(f"  {t['what']:<72} {format_figure(t['value']):>6}  {met}")
    figures = results["figures"]
    fill = results.get("bulk_fill_batch_size", "-")
    for name, what in (
        ("fifo_p95_x", "(FIFO, for comparison: interactive p95 beside bulk over alone)"),
        ("bulk_fill_p95_x", f"(classes, interactive_batch_size {fill}: interactive p95 over alone)"),
        ("bulk_fill_kept", f"(classes, interactive_batch_size {fill}: bulk throughput over FIFO's)"),
    ):
        lines.append(f"  {what:<72} {format_figure(figures.get(name)):>6}")
    return "\n".join(lines)


def cache_table(cache: dict | None) -> list[str]:
    if not cache:
        return []
    doc = cache["document"]
    lines = [
        f"\nsentence cache: {doc['chars']}-character documents, {doc['distinct']} distinct sentences x "
        f"{doc['repeats']} = {doc['sentences']}, shuffled (none next to itself); a new sentence set per "
        "run, so every\n timed document starts on an empty cache; warm-up document excluded",
        f"{'cache':<6}{'cache_entries':>14}{'runs':>6}{'s/doc':>8}   runs (s)",
    ]
    for name in ("off", "on"):
        c = cache[name]
        runs = ", ".join(f"{s:.2f}" for s in c["runs_s"])
        entries, mean_s = str(c["cache_entries"]), format_figure(c["mean_s"])
        lines.append(f"{name:<6}{entries:>14}{len(c['runs_s']):>6}{mean_s:>8}   {runs}")
    lookups = cache.get("lookups") or {}
    seen = ", ".join(f"{k} {v:.0f}" for k, v in sorted(lookups.items())) or "not reported"
    lines.append(
        f"speed-up {format_figure(ratio(cache['off']['mean_s'], cache['on']['mean_s']))}x; "
        f"cache lookups of the timed runs (cache on): {seen}"
    )
    return lines
