"""The benchmark's guard: a figure of ours counts only if it measured decoding.

Our replicas cache outputs; a repeated text is a lookup, not a model call, and a cell fed repeats
would compare a cache with the peers' models. So every closed-loop cell and open-loop ladder is
checked against what the replicas report (bench/metrics.decoding_counters) and against the raw
engine: one that fails is marked `invalid` with its reasons, left out of the summary line, and
makes the run exit non-zero (bench/__main__.py, long_document.py).
"""

from __future__ import annotations

import sys

MAX_CACHE_HITS = 0.01  # of the requests answered
MIN_DECODED = 0.99  # texts decoded by model calls, of the requests answered
MAX_OVER_RAW = 1.05  # served throughput over the raw engine's highest (at any batch measured)


def decoding_reasons(decoded: dict | None, expected: int) -> list[str]:
    """Why `decoded` (the replicas' counters over a measurement; None where the server exposes none)
    does not show `expected` texts answered by decoding (one per request in `make bench`): cache hits
    above MAX_CACHE_HITS of them, or fewer decoded texts than MIN_DECODED of them."""
    if decoded is None or expected <= 0:
        return []
    reasons = []
    hits = decoded.get("cache_hits", 0.0)
    if hits > MAX_CACHE_HITS * expected:
        reasons.append(f"{hits:.0f} cache hits for {expected} texts answered (> {MAX_CACHE_HITS:.0%})")
    texts = decoded.get("decoded_texts", 0.0)
    if texts < MIN_DECODED * expected:
        reasons.append(f"{texts:.0f} texts decoded for {expected} answered (< {MIN_DECODED:.0%})")
    return reasons


def ceiling_reasons(throughput: float | None, raw: float | None) -> list[str]:
    """Why `throughput` cannot be a server's: above MAX_OVER_RAW x the raw engine's `raw`."""
    if throughput is None or not raw or throughput <= MAX_OVER_RAW * raw:
        return []
    return [f"{throughput:.1f}/s is {throughput / raw:.2f}x the raw engine's {raw:.1f} texts/s"]


def highest_raw(results: dict, backend: str, workload: str) -> float | None:
    """The raw engine's best texts/s for `backend` and `workload`, over every batch measured."""
    raws = [r for r in results.get("raw", []) if (r["backend"], r["workload"]) == (backend, workload)]
    return max((r["texts_per_s"] for r in raws), default=None)


def validate(results: dict) -> list[str]:
    """Mark each cell and open-loop ladder of `results` that did not measure decoding (`invalid`:
    its reasons); one line per such figure (invalid_lines), empty if every figure holds."""
    backends = {c["system"]: c["backend"] for c in results.get("cells", [])}
    for c in results.get("cells", []):
        reasons = ["ran out of distinct texts"] if c.get("out_of_bodies") else []
        if "answered" in c:
            reasons += decoding_reasons(c.get("decoded"), c["answered"])
        reasons += ceiling_reasons(c["throughput"], highest_raw(results, c["backend"], c["workload"]))
        if reasons:
            c["invalid"] = reasons
    for o in results.get("open_loop", []):
        backend = backends.get(o["system"])
        reasons = ["ran out of distinct texts"] if any(s.get("out_of_bodies") for s in o["steps"]) else []
        if "answered" in o:
            reasons += decoding_reasons(o.get("decoded"), o["answered"])
        if backend:
            reasons += ceiling_reasons(o["sustained_rate"], highest_raw(results, backend, o["workload"]))
        if reasons:
            o["invalid"] = reasons
    return invalid_lines(results)


def invalid_lines(results: dict) -> list[str]:
    """One line per cell or ladder marked invalid, with its reasons."""
    lines = [
        f"{c['system']} {c['workload']} {c['clients']} clients: {'; '.join(c['invalid'])}"
        for c in results.get("cells", [])
        if c.get("invalid")
    ]
    return lines + [
        f"{o['system']} {o['workload']} open loop: {'; '.join(o['invalid'])}"
        for o in results.get("open_loop", [])
        if o.get("invalid")
    ]


def exit_code(problems: list[str], what: str) -> int:
    """1 after naming `problems` (the figures refused, `what` they failed) on stderr; 0 if none."""
    if not problems:
        return 0
    print(f"\n{len(problems)} figure(s) {what}:", *problems, sep="\n  ", file=sys.stderr)
    return 1
