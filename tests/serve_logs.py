"""What Serve logged while a failed test ran, added to that test's report.

A test against the session's cluster that fails in CI shows only the client's side (a status, a
broken stream). The replicas' and the proxy's side is in the cluster's log files, which CI does
not keep. So each test notes how far every Serve log file of the session's cluster had been
written when it started; a test that fails gets a report section with the lines written since
that matter: warnings, errors, tracebacks and the proxy's access lines.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

MAX_LINES = 150
MAX_LINE_CHARS = 1500
WORTH_SHOWING = re.compile(
    r"WARNING|ERROR|CRITICAL|Traceback|Exception|"
    r"[\s\"](?:GET|POST|PUT|DELETE|HEAD|PATCH) /\S* \d{3} "  # the proxy's and replicas' access lines
)


class ServeLogs:
    """The Serve log files of one cluster (its session dir's logs/serve/)."""

    def __init__(self, session_dir: str | Path):
        self.directory = Path(session_dir) / "logs" / "serve"

    def offsets(self) -> dict[Path, int]:
        """How far each log file has been written now."""
        try:
            return {path: path.stat().st_size for path in self.directory.glob("*.log")}
        except OSError:
            return {}

    def since(self, offsets: dict[Path, int]) -> str:
        """The lines worth showing that were written after `offsets`, oldest file first, each
        headed by its file's name; "" if there are none."""
        shown: list[str] = []
        for path in sorted(self.directory.glob("*.log"), key=lambda p: p.name):
            try:
                with path.open("rb") as file:
                    file.seek(offsets.get(path, 0))
                    text = file.read().decode("utf-8", errors="replace")
            except OSError:
                continue
            lines = [line[:MAX_LINE_CHARS] for line in text.splitlines() if WORTH_SHOWING.search(line)]
            if lines:
                shown.append(f"== {path.name}")
                shown.extend(lines)
        if len(shown) > MAX_LINES:
            shown = [f"(first {len(shown) - MAX_LINES} lines left out)", *shown[-MAX_LINES:]]
        return "\n".join(shown)

    def records(self, app: str, offsets: dict[Path, int]) -> list[dict]:
        """The JSON log records the app's replicas wrote after `offsets`, each with its file."""
        records = []
        for path in self.directory.glob(f"replica_{app}_*.log"):
            with path.open("rb") as file:
                file.seek(offsets.get(path, 0))
                for line in file.read().decode(errors="replace").splitlines():
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    records.append({**record, "file": path.name})
        return records
