"""The README's examples, run against the session cluster: each `$ curl` command becomes the same
HTTP request (to the test cluster's port instead of 8000) and its answer must equal the JSON shown
under it; the CLI line prints what it shows; the Python block runs and its asserts hold."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import requests

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"```(console|python)\n(.*?)```", re.S)


def console_examples() -> list[tuple[str, list[str]]]:
    """(command, output lines) for every `$ ` line of the README's console blocks."""
    examples = []
    for kind, body in BLOCK.findall(README):
        if kind != "console":
            continue
        lines = body.replace("\\\n", " ").splitlines()
        for i, line in enumerate(lines):
            if line.startswith("$ "):
                output = []
                for following in lines[i + 1 :]:
                    if following.startswith("$ ") or not following.strip():
                        break
                    output.append(following)
                examples.append((line[2:], output))
    return examples


def curl_request(command: str, base_url: str) -> requests.Response:
    words = shlex.split(command)
    assert words[0] == "curl", command
    method, headers, data, url = "GET", {}, None, None
    words = iter(words[1:])
    for word in words:
        if word == "-X":
            method = next(words)
        elif word == "-H":
            name, _, value = next(words).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = next(words).encode()
            method = "POST" if method == "GET" else method
        elif word.startswith("http"):
            url = word.replace("http://127.0.0.1:8000", base_url)
        else:
            assert word == "-s", f"an option the test does not know: {word}"
    if data is not None:  # curl's -d sends a form unless told otherwise
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    return requests.request(method, url, headers=headers, data=data, timeout=60)


EXAMPLES = console_examples()


def test_the_readme_has_one_example_per_route():
    routes = {
        re.search(r"8000(/\S*)", command).group(1).rstrip("'") for command, _ in EXAMPLES if "curl" in command
    }
    assert {"/", "/translate", "/translate/languages", "/summarize", "/healthz"} <= routes, routes


@pytest.mark.parametrize(("command", "output"), EXAMPLES, ids=[c[:60] for c, _ in EXAMPLES])
def test_each_console_example_answers_as_shown(serve_url, apps, command, output):
    if command.startswith("curl"):
        answer = curl_request(command, serve_url)
        assert answer.status_code == 200, answer.text
        assert answer.json() == json.loads("\n".join(output))
    else:
        words = shlex.split(command)
        assert words[0] == ".venv/bin/textserve", command
        env = {**os.environ, "TEXTSERVE_URL": serve_url}
        done = subprocess.run(
            [sys.executable, "-m", "textserve.cli", *words[1:]],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == output


@pytest.mark.parametrize("block", [b for kind, b in BLOCK.findall(README) if kind == "python"])
def test_each_python_example_runs(serve_url, apps, monkeypatch, block):
    monkeypatch.setenv("TEXTSERVE_URL", serve_url)
    exec(compile(block, "README.md", "exec"), {})
