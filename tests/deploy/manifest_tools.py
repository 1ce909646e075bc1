"""The manifest checkers (checkov, kubernetes-validate) in a virtualenv of their own, under the
cache directory (TEXTSERVE_CACHE_DIR, default ~/.cache/textserve/manifest-tools/), never in the
project's .venv: checkov pins packaging, networkx and python-dateutil older than Ray and torch
need them. Created from manifest-tools-requirements.txt the first time (`make test` does it before
pytest: `python -m tests.deploy.manifest_tools`), reused while that file is unchanged."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from apps.common.engines.ctranslate2_conversion import cache_root

REQUIREMENTS = Path(__file__).resolve().parent / "manifest-tools-requirements.txt"
TOOLS = ("checkov", "kubernetes-validate")


class ToolsInstallError(RuntimeError):
    """The venv could not be made; the message has pip's last lines."""


def venv_dir() -> Path:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    return cache_root() / "manifest-tools" / f"venv-{digest}"


def ensure_tools(timeout_s: float = 1800) -> Path:
    """The venv's bin directory, with every tool of TOOLS in it, installed first if needed."""
    venv = venv_dir()
    bin_dir, marker = venv / "bin", venv / ".installed"
    if marker.is_file() and all((bin_dir / tool).is_file() for tool in TOOLS):
        return bin_dir
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    done = subprocess.run(
        [*pip, "-r", str(REQUIREMENTS)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise ToolsInstallError(f"pip install -r {REQUIREMENTS.name} failed:\n{tail}")
    marker.write_text(REQUIREMENTS.read_text())
    return bin_dir


if __name__ == "__main__":
    print(f"manifest tools ({', '.join(TOOLS)}): {ensure_tools()}")
