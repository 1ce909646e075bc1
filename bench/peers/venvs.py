"""A peer's own virtualenv, under the cache directory (never the repo's .venv): created from the
peer's pinned requirements file the first time, reused while that file is unchanged."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from apps.common.engines.ctranslate2_conversion import cache_root

PEERS_DIR = Path(__file__).resolve().parent


class PeerInstallError(RuntimeError):
    """A peer's venv could not be made; the message has pip's last lines."""


def venv_dir(requirements: Path) -> Path:
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    return cache_root() / "peers" / f"{requirements.stem}-{digest}"


def ensure_venv(requirements: Path, timeout_s: float = 1800) -> Path:
    """The venv's python for `requirements` (a file in bench/peers/), installed if needed."""
    venv = venv_dir(requirements)
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if marker.is_file():
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(requirements)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise PeerInstallError(f"pip install -r {requirements.name} failed:\n{tail}")
    marker.write_text(requirements.read_text())
    return python


def main() -> int:
    """Install every peer's venv (`make peers`): each bench/peers/*-requirements.txt."""
    for requirements in sorted(PEERS_DIR.glob("*-requirements.txt")):
        print(f"{requirements.name}: {ensure_venv(requirements)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
