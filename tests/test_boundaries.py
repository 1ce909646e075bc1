"""The house rules of apps/, checked on the code: who may import what, Ray's non-public names in
one module only, and deployments and files that stay small."""

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP_FILES = sorted((ROOT / "apps").rglob("*.py"))
RAY_ADAPTER = ROOT / "apps" / "common" / "ray_adapter.py"
MODEL_CODE = (  # what the router must not load
    "apps.common.generation",
    "apps.common.engines",
    "apps.common.batching",
    "apps.common.model_service",
    "apps.translation",
    "apps.summarization",
    "torch",
    "ctranslate2",
)


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names imported from it) for each import in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


@pytest.mark.parametrize("path", APP_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_ray_private_names_only_in_the_adapter(path):
    if path == RAY_ADAPTER:
        return
    for module, names in imports(path):
        if module == "ray" or module.startswith("ray."):
            assert "_private" not in module and not any(n.startswith("_") for n in names), (module, names)


@pytest.mark.parametrize("path", APP_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_shared_code_knows_no_app_and_serving_code_no_tooling(path):
    package = path.relative_to(ROOT / "apps").parts[0]
    for module, _ in imports(path):
        assert not module.startswith("textserve") and not module.startswith("bench"), module
        if package == "common":
            assert not module.startswith(("apps.translation", "apps.summarization", "apps.router")), module
        for leaf in ("translation", "summarization"):
            if package in ("translation", "summarization") and package != leaf:
                assert not module.startswith(f"apps.{leaf}"), module


def test_the_router_loads_no_model_code():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, apps.router.app; print(' '.join(sorted(sys.modules)))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert not [m for m in loaded if m.startswith(MODEL_CODE)]


def test_deployments_are_thin_and_files_short():
    from apps.router.app import Router
    from apps.summarization.app import Summarizer
    from apps.translation.app import Translator

    for deployment in (Translator, Summarizer, Router):
        lines = len(inspect.getsource(deployment.func_or_class).splitlines())
        assert lines < 120, f"{deployment.name}: {lines} lines"
    long_files = {
        str(p.relative_to(ROOT)): n for p in APP_FILES if (n := len(p.read_text().splitlines())) > 300
    }
    assert not long_files, long_files
