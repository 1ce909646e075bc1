"""What a `make bench-long` run shows: its table and its one-line result."""

from __future__ import annotations

from bench.documents import PREFIX
from bench.report import format_figure


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def speedup(fanout_s: float | None, single_s: float | None) -> float | None:
    return single_s / fanout_s if fanout_s and single_s else None


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return format_figure(value, spec)


def result_line(results: dict) -> str:
    fields = []
    if "systems" in results:
        doc, systems = results["document"], results["systems"]
        fan, single = systems.get("fanout", {}), systems.get("single", {})
        fields += [
            f"words={doc['words']}",
            f"tokens={doc['tokens']}",
            f"chunks={fan.get('chunks', '-')}",
            f"levels={fan.get('levels', '-')}",
            f"fanout_s={_fmt(fan.get('sequential_mean_s'), '.2f')}",
            f"single_s={_fmt(single.get('sequential_mean_s'), '.2f')}",
            f"speedup={_fmt(results.get('speedup'), '.2f')}x",
        ]
        if results.get("concurrent_speedup") is not None:
            fields.append(f"concurrent_speedup={results['concurrent_speedup']:.2f}x")
        fields.append(f"fanout_replicas_used={fan.get('replicas_used', '-')}/{fan.get('replicas', '-')}")
    translation = results.get("translation")
    if translation:
        fan = translation["systems"].get("fanout", {})
        fields.append(f"translate_speedup={_fmt(translation.get('speedup'), '.2f')}x")
        if translation.get("concurrent_speedup") is not None:
            fields.append(f"translate_concurrent_speedup={translation['concurrent_speedup']:.2f}x")
        fields.append(f"translate_replicas_used={fan.get('replicas_used', '-')}/{fan.get('replicas', '-')}")
    return "long_document: " + " ".join(fields)


def _runs(systems: dict, width_name: int = 8) -> list[str]:
    lines = []
    for name, s in systems.items():
        runs = [("one by one", len(s["sequential_s"]), s.get("sequential_mean_s"), s["sequential_cpu"])]
        if s.get("concurrent"):
            c = s["concurrent"]
            runs.append((f"{c['documents']} at once", c["documents"], c["s_per_doc"], c["cpu"]))
        for run, docs, per_doc, cpu in runs:
            lines.append(
                f"{name:<{width_name}} {s['replicas']:>8}  {run:<12} {docs:>4} {_fmt(per_doc, '.2f'):>7} "
                f"{_fmt(60 / per_doc if per_doc else None, '.2f'):>8} "
                f"{_fmt(cpu.get('replica_cores'), '.2f'):>13} "
                f"{_fmt(cpu.get('machine_busy_cores'), '.2f'):>12}"
            )
    return lines


HEADER = (
    f"{'system':<8} {'replicas':>8}  {'run':<12} {'docs':>4} {'s/doc':>7} {'docs/min':>8} "
    f"{'replica cores':>13} {'machine busy':>12}"
)


def table(results: dict) -> str:
    lines = summary_table(results) if "systems" in results else []
    if results.get("translation"):
        lines += translation_table(results["translation"])
    return "\n".join(lines)


def translation_table(case: dict) -> list[str]:
    doc = case["document"]
    lines = [
        f"\nlong translation: {doc['chars']} characters, {doc['words']} words, {doc['sentences']} sentences; "
        f"each sentence forced to {case['sentence_tokens']} tokens",
        HEADER,
        *_runs(case["systems"]),
        f"speed-up of fanout over single: {_fmt(case.get('speedup'), '.2f')}x one by one, "
        f"{_fmt(case.get('concurrent_speedup'), '.2f')}x with texts sent at once",
    ]
    for name, s in case["systems"].items():
        calls = " + ".join(f"{int(c)}" for c in sorted(s.get("calls_per_replica", {}).values(), reverse=True))
        lines.append(
            f"{name}: model calls per replica {calls or '-'}, {_fmt(s.get('avg_batch'))} sentences per call, "
            f"{_fmt(s.get('decode_s_per_text'), '.3f')} s on a model thread per sentence"
        )
    return lines


def summary_table(results: dict) -> list[str]:
    doc = results["document"]
    lines = [
        f"long document: {doc['words']} words, {doc['chars']} characters, {doc['tokens']} tokens as the "
        f"model reads it (with {PREFIX.strip()!r});",
        f"  {doc['level1_chunks']} chunks of <= {doc['window']} tokens at the first level; every summary "
        f"forced to {results['summary_tokens']} tokens",
        HEADER,
        *_runs(results["systems"]),
    ]
    lines.append(
        f"speed-up of fanout over single: {_fmt(results.get('speedup'), '.2f')}x one by one, "
        f"{_fmt(results.get('concurrent_speedup'), '.2f')}x with documents sent at once"
    )
    for name, s in results["systems"].items():
        logged = s.get("reduce_log") or []
        maps = [r["map_s"] for r in logged]
        fastest, slowest = _fmt(min(maps, default=None)), _fmt(max(maps, default=None))
        calls = " + ".join(f"{int(c)}" for c in sorted(s.get("calls_per_replica", {}).values(), reverse=True))
        lines.append(
            f"{name}: {s.get('chunks', '-')} chunks over {s.get('levels', '-')} levels per document, "
            f"map phase {fastest}-{slowest} s ({len(logged)} documents); "
            f"answer: {s.get('summary_tokens', '-')} tokens"
        )
        lines.append(
            f"  timed runs: model calls per replica {calls or '-'}, {_fmt(s.get('avg_batch'))} chunks per "
            f"call, {_fmt(s.get('decode_s_per_text'), '.2f')} s on a model thread per chunk"
        )
    lines.append(
        "(replica cores: the system's replica processes' CPU time / wall time; machine busy: all of\n"
        " the machine's busy cores over the same time, other users included; 2 cores in all; chunks,\n"
        " levels, map phase: the replicas' map-reduce log line; answer: the summary re-tokenized, </s> in)"
    )
    return lines


# ------------------------------------------------------------------------- model and measurement
