"""The examples in docs/*.md, run against the session cluster: each ```python block runs as it is
written (handles need this process's Ray connection; the client finds the cluster's HTTP port
through $TEXTSERVE_URL) and its asserts must hold; each `$ textserve` line of a ```console block
runs in a shell and prints what is shown under it."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.translation.test_markup_docx import report
from tests.translation.test_markup_srt import SUBTITLES
from textserve.demo_phrases import MARKED_UP, SUMMARIES

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
    from huggingface_hub import constants

    monkeypatch.setenv("TEXTSERVE_URL", serve_url)
    # as in a user's shell: this process sets HF_HUB_OFFLINE=1 for the cluster, and with it
    # huggingface_hub's InferenceClient refuses every request, to 127.0.0.1 too
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    exec(compile(block, f"docs/{doc} example {number}", "exec"), {})


def console_lines() -> list[tuple[str, int, str, list[str]]]:
    """(document, number, command, output shown) for each `$ textserve` line of docs/*.md."""
    found = []
    for path in sorted(DOCS.glob("*.md")):
        for body in re.findall(r"```console\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
            lines = body.splitlines()
            for i, line in enumerate(lines):
                if line.startswith("$ "):
                    shown = []
                    for following in lines[i + 1 :]:
                        if following.startswith("$ "):
                            break
                        shown.append(following)
                    found.append((path.name, len(found), line[2:].split("  #")[0].strip(), shown))
    return found


CONSOLE = console_lines()


def test_the_docs_have_cli_examples():
    assert any(command.startswith("textserve ") for _, _, command, _ in CONSOLE)


@pytest.mark.parametrize(
    ("doc", "number", "command", "shown"), CONSOLE, ids=[f"{d}#{n}" for d, n, _, _ in CONSOLE]
)
def test_each_cli_example_runs_as_shown(serve_url, apps, tmp_path, doc, number, command, shown):
    """Run by a shell in a directory holding the files the examples name (a letter of demo
    sentences, a page of them, a demo report, subtitles, a Word document), with the venv's
    `textserve` first on PATH."""
    assert command.startswith("textserve "), command
    (tmp_path / "letter.txt").write_text("Hello world!\nGood morning.\n", encoding="utf-8")
    (tmp_path / "page.html").write_text(next(iter(MARKED_UP)), encoding="utf-8")
    (tmp_path / "report.txt").write_text(next(iter(SUMMARIES)), encoding="utf-8")
    (tmp_path / "talk.srt").write_text(SUBTITLES, encoding="utf-8")
    (tmp_path / "report.docx").write_bytes(report())
    env = {
        **os.environ,
        "TEXTSERVE_URL": serve_url,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    done = subprocess.run(
        command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    if shown:
        assert done.stdout.splitlines() == shown
    elif "--json" in command:
        assert json.loads(done.stdout)
    elif ">" in command:
        written = command.rsplit(">", 1)[1].strip()
        assert (tmp_path / written).read_text(encoding="utf-8").strip()
    else:
        assert done.stdout.strip()
        if "--file" in command and command.split("--file")[1].split()[0].endswith((".srt", ".docx")):
            assert (tmp_path / done.stdout.strip()).stat().st_size > 0  # written where it says
