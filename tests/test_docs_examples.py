"""The Python examples in docs/*.md, run against the session cluster: each ```python block runs
as it is written (handles need this process's Ray connection; the client finds the cluster's
HTTP port through $TEXTSERVE_URL) and its asserts must hold."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCKS = [
    (path.name, number, body)
    for path in sorted(DOCS.glob("*.md"))
    for number, body in enumerate(re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S))
]


def test_the_docs_have_python_examples():
    assert {name for name, _, _ in BLOCKS} >= {"api.md"}


@pytest.mark.parametrize(("doc", "number", "block"), BLOCKS, ids=[f"{n}#{i}" for n, i, _ in BLOCKS])
def test_each_python_example_runs(serve_url, apps, monkeypatch, doc, number, block):
    monkeypatch.setenv("TEXTSERVE_URL", serve_url)
    exec(compile(block, f"docs/{doc} example {number}", "exec"), {})
