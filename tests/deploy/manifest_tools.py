"""The manifest checkers (checkov, kubernetes-validate) in a virtualenv of their own
(textserve/venvs.py, under <cache>/manifest-tools/), never in the project's .venv: checkov pins
packaging, networkx and python-dateutil older than Ray and torch need them. Created from
manifest-tools-requirements.txt the first time (`make test` does it before pytest: `python -m
tests.deploy.manifest_tools`), reused while that file is unchanged."""

from __future__ import annotations

from pathlib import Path

from textserve.venvs import ensure_venv

REQUIREMENTS = Path(__file__).resolve().parent / "manifest-tools-requirements.txt"
TOOLS = ("checkov", "kubernetes-validate")


def ensure_tools(timeout_s: float = 1800) -> Path:
    """The venv's bin directory, with every tool of TOOLS in it, installed first if needed."""
    return ensure_venv(REQUIREMENTS, "manifest-tools", TOOLS, timeout_s)


if __name__ == "__main__":
    print(f"manifest tools ({', '.join(TOOLS)}): {ensure_tools()}")
