"""A peer's own virtualenv (textserve/venvs.py), from its pinned requirements file in this
directory; `make peers` installs them all."""

from __future__ import annotations

from pathlib import Path

from textserve.venvs import ensure_venv as ensure_tool_venv

PEERS_DIR = Path(__file__).resolve().parent


def ensure_venv(requirements: Path) -> Path:
    """The venv's python for `requirements` (a file in bench/peers/), installed if needed."""
    return ensure_tool_venv(requirements, "peers") / "python"


def main() -> int:
    """Install every peer's venv (`make peers`): each bench/peers/*-requirements.txt."""
    for requirements in sorted(PEERS_DIR.glob("*-requirements.txt")):
        print(f"{requirements.name}: {ensure_venv(requirements)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
