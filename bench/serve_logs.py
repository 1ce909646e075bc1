"""What the replicas of a `make bench-long` cluster logged, read from the structured fields of
Serve's JSON log lines (serve_config.yaml's logging_config): each model call's batch
(apps/common/batching.py) and each map-reduce (apps/summarization/map_reduce.py)."""

from __future__ import annotations

import json
from pathlib import Path


def parse_records(lines: list[str]) -> list[dict]:
    """The JSON objects among `lines` (Serve's JSON log lines); anything else is skipped."""
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def serve_log_dir(ray_tmp: Path) -> Path | None:
    """Serve's logs of the one session in `ray_tmp` (RAY_TMPDIR: Ray uses <it>/ray/session_*)."""
    found = sorted(p for p in ray_tmp.glob("ray/session_*/logs/serve") if "session_latest" not in str(p))
    return found[-1] if found else None


def replica_logs(ray_tmp: Path, app: str) -> dict[str, list[dict]]:
    """Each replica of `app`'s log records (Serve names the files replica_<app>_<deployment>_<id>.log)."""
    log_dir = serve_log_dir(ray_tmp)
    if log_dir is None:
        return {}
    return {
        path.stem.rsplit("_", 1)[-1]: parse_records(path.read_text(errors="replace").splitlines())
        for path in sorted(log_dir.glob(f"replica_{app}_*.log"))
    }


def map_reduces(records: list[dict]) -> list[dict]:
    """Each map-reduce a replica logged: the text's characters, its chunks and levels, seconds, when."""
    return [
        {
            "chars": r["map_reduce_chars"],
            "chunks": r["map_reduce_chunks"],
            "levels": r["map_reduce_levels"],
            "map_s": r["map_reduce_s"],
            "at": r.get("timestamp_ns", 0) / 1e9,  # when it was logged, as it ended (epoch seconds)
        }
        for r in records
        if "map_reduce_chunks" in r
    ]


def decode_totals(records: list[dict], since: float | None = None) -> dict:
    """Model calls, texts and seconds on the model thread from a replica's batch records, those
    logged at or after `since` (epoch seconds) only."""
    calls, texts, seconds = 0, 0, 0.0
    for r in records:
        if "batch_texts" not in r:
            continue
        if since is not None and r.get("timestamp_ns", 0) / 1e9 < since:
            continue
        calls, texts, seconds = calls + 1, texts + int(r["batch_texts"]), seconds + float(r["decode_s"])
    return {"calls": calls, "texts": texts, "seconds": round(seconds, 3)}
