"""The `textserve` command against the session's real apps: the installed script (or
`python -m textserve.cli`) in a subprocess, and `main()` in-process where only its output matters."""

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import srt

from tests.textserve.test_client import long_document
from tests.translation.test_markup_docx import report, runs
from tests.translation.test_markup_srt import SUBTITLES
from textserve.cli import main
from textserve.demo_phrases import MARKED_UP, SUMMARIES, TRANSLATIONS

ENGLISH = list(TRANSLATIONS)
SCRIPT = Path(sys.executable).parent / "textserve"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "textserve.cli"]


def textserve(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*COMMAND, *args], input=stdin, capture_output=True, text=True, timeout=60, encoding="utf-8"
    )


@pytest.fixture(scope="module")
def url(serve_url, apps) -> str:
    return serve_url


def test_translate_prints_the_translation(url):
    done = textserve("--url", url, "translate", "Hello world!", "--to", "de")
    assert (done.returncode, done.stdout, done.stderr) == (0, "Hallo Welt!\n", "")


def test_module_entry_point_reads_stdin_and_takes_options_after_the_command(url):
    done = subprocess.run(
        [sys.executable, "-m", "textserve.cli", "translate", "-", "--url", url],
        input="Thank you very much.",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "Merci beaucoup.\n", "")


def test_translate_keeps_the_markup_of_an_html_or_markdown_file(url, tmp_path):
    html, by_lang = next(iter(MARKED_UP.items()))
    page = tmp_path / "page.html"
    page.write_text(html, encoding="utf-8")
    done = textserve("--url", url, "translate", "--file", str(page), "--to", "de")
    assert (done.returncode, done.stdout, done.stderr) == (0, by_lang["de"] + "\n", "")
    readme = "# Hello world! *Good morning.*\n"
    done = textserve("--url", url, "translate", "-", "--format", "markdown", stdin=readme)
    assert (done.returncode, done.stdout) == (0, "# Bonjour le monde ! *Bonjour.*\n"), done.stderr


def test_subtitles_and_word_documents_are_written_beside_them_or_to_out(url, tmp_path, capsys):
    subtitles = tmp_path / "talk.srt"
    subtitles.write_text(SUBTITLES, encoding="utf-8")
    assert main(["--url", url, "translate", "--file", str(subtitles), "--to", "fr"]) == 0
    written = tmp_path / "talk.fr.srt"
    assert capsys.readouterr().out == f"{written}\n"
    assert [cue.start for cue in srt.parse(written.read_text())] == [
        cue.start for cue in srt.parse(SUBTITLES)
    ]
    document, out = tmp_path / "report.docx", tmp_path / "out" / "rapport.docx"
    document.write_bytes(report())
    out.parent.mkdir()
    assert main(["--url", url, "--json", "translate", "-f", str(document), "--out", str(out)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["file"] == str(out) and answer["target_lang"] == "fr" and answer["model"]
    assert [text for _, text in runs(out.read_bytes())[1]] == ["Bonjour le monde ! ", "Bonjour."]


def test_summarize_reads_a_file(url, tmp_path):
    document, summary = next(iter(SUMMARIES.items()))
    path = tmp_path / "document.txt"
    path.write_text(document, encoding="utf-8")
    done = textserve("--url", url, "summarize", str(path))
    assert (done.returncode, done.stdout, done.stderr) == (0, summary + "\n", "")


def test_a_bad_language_exits_1_with_the_servers_message_on_one_line(url):
    done = textserve("--url", url, "translate", "Hello world!", "--to", "xx")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("textserve: error: 422: no model translates en->xx")
    assert "Traceback" not in done.stderr


def test_translate_progress_bar_reaches_n_of_n(url, tmp_path):
    sentences = [ENGLISH[i % len(ENGLISH)] for i in range(60)]
    paragraphs = [" ".join(sentences[i : i + 6]) for i in range(0, 60, 6)]
    path = tmp_path / "long.txt"
    path.write_text("\n\n".join(paragraphs), encoding="utf-8")
    done = textserve("--url", url, "--progress", "translate", "--file", str(path), "--to", "ro")
    assert done.returncode == 0, done.stderr
    expected = "\n\n".join(
        " ".join(TRANSLATIONS[en]["ro"] for en in sentences[i : i + 6]) for i in range(0, 60, 6)
    )
    assert done.stdout == expected + "\n"
    assert re.search(r"translating: 100%.*\b60/60\b", done.stderr), done.stderr
    # without --progress and with stderr not a terminal: no bar
    done = textserve("--url", url, "translate", "--file", str(path), "--to", "ro")
    assert (done.returncode, done.stdout, done.stderr) == (0, expected + "\n", "")


def test_summarize_progress_bar_per_level(url, tmp_path):
    path = tmp_path / "long.txt"
    path.write_text(long_document(8000), encoding="utf-8")
    done = textserve("--url", url, "--progress", "summarize", str(path), "--max-length", "20")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() and done.stdout.count("\n") == 1
    level_1 = re.findall(r"summarizing, level 1: 100%.*?\b(\d+)/(\d+)", done.stderr)
    assert level_1 and level_1[-1][0] == level_1[-1][1], done.stderr


def test_languages_and_json(url, capsys):
    assert main(["--url", url, "languages"]) == 0
    assert capsys.readouterr().out == (
        "de\tGerman\t-> en es fr* ro\n"
        "en*\tEnglish\t-> de es fr* ro\n"
        "es\tSpanish\t-> de en fr* ro\n"
        "fr\tFrench\t-> de en es ro\n"
        "(* the defaults: en -> fr)\n"
    )
    assert main(["--url", url, "--json", "translate", "Good morning.", "--to", "de"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "translation": "Guten Morgen.",
        "source_lang": "en",
        "target_lang": "de",
        "model": "demo:demo-translation",
    }
    assert main(["--url", url, "translate", "Guten Morgen.", "--from", "de", "--to", "en"]) == 0
    assert capsys.readouterr().out == "Good morning.\n"


def test_summarize_json_from_stdin(url, capsys, monkeypatch):
    document, summary = next(iter(SUMMARIES.items()))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(document.encode())))
    assert main(["--url", url, "summarize", "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "summary": summary,
        "model": "demo:demo-bart-summarization",
    }


@pytest.mark.parametrize(
    "argv, message",
    [
        (["translate"], "nothing to translate"),
        (["translate", "Hello world!", "--file", "x.txt"], "not both"),
        (["translate", "Hello world!", "--out", "x.txt"], "--out is for a .srt or .docx --file"),
        (["translate", "--file", "/nonexistent/talk.srt"], "cannot read /nonexistent/talk.srt"),
        (["summarize", "/nonexistent/file.txt"], "cannot read /nonexistent/file.txt"),
        (["--url", "127.0.0.1:8000", "languages"], "--url must start with http://"),
        (["translate", "Hello", "--to"], "expected one argument"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_server_exits_1():
    done = textserve("--url", "http://127.0.0.1:9", "languages")
    assert done.returncode == 1
    assert done.stderr.startswith("textserve: error: cannot reach http://127.0.0.1:9/translate/languages")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
