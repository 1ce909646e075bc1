"""A virtualenv of a tool's own, under the cache directory (TEXTSERVE_CACHE_DIR, default
~/.cache/textserve/), never the project's .venv: created from a pinned requirements file the
first time, reused while that file is unchanged. The bench's peers (bench/peers/venvs.py) and the
manifest checkers (tests/deploy/manifest_tools.py) each get one."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from apps.common.engines.ctranslate2_conversion import cache_root


class VenvInstallError(RuntimeError):
    """A venv could not be made; the message has pip's last lines."""


def venv_dir(requirements: Path, under: str) -> Path:
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    return cache_root() / under / f"{requirements.stem}-{digest}"


def ensure_venv(requirements: Path, under: str, needs: tuple[str, ...] = (), timeout_s: float = 1800) -> Path:
    """The bin directory of the venv for `requirements` (in <cache>/`under`/), installed if needed
    (also when a program of `needs` is missing from it)."""
    venv = venv_dir(requirements, under)
    bin_dir, marker = venv / "bin", venv / ".installed"
    if marker.is_file() and all((bin_dir / program).is_file() for program in needs):
        return bin_dir
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    done = subprocess.run(
        [*pip, "-r", str(requirements)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise VenvInstallError(f"pip install -r {requirements.name} failed:\n{tail}")
    marker.write_text(requirements.read_text())
    return bin_dir
