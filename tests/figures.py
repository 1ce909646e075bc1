"""Figures a test measured, printed always and written for the docs when asked:
`TEXTSERVE_FIGURES_DIR=bench/results/reliability` (what `make figures` sets) makes each call write
`<dir>/<name>.json`, which `bench/doc_figures.py` renders into docs/*.md."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
from pathlib import Path

from textserve.machine import describe_cpu


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def record_figures(name: str, figures: dict) -> None:
    print(f"\n{name}: {figures}")
    out_dir = os.environ.get("TEXTSERVE_FIGURES_DIR")
    if not out_dir:
        return
    cpu = describe_cpu()
    record = {
        "test": name,
        "recorded": datetime.date.today().isoformat(),
        "commit": _commit(),
        "machine": {
            "cpu": cpu["model"],
            "cpu_vendor": cpu["vendor"],
            "cpu_family": cpu["family"],
            "cpu_model_number": cpu["model_number"],
            "cpu_flags": cpu["flags"],
            "cores": os.cpu_count(),
        },
        "figures": figures,
    }
    path = Path(out_dir) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
