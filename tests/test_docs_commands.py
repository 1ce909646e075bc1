"""The shell commands in the docs' ```bash blocks, checked against what they name: every `make`
target exists in the Makefile; every `python -m` module and `serve`/`ray`/`textserve` subcommand
accepts the options written (its real `--help`); files and import paths they name exist. These
blocks start and stop clusters (`ray stop` ends every one on the machine), so they are not run
here as written: the same sequences run for real in tests/e2e (`ray start`, `serve deploy`,
`serve status`, `serve shutdown`) and tests/test_serve_build.py (`serve build`)."""

import functools
import itertools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ["README.md", "CONTRIBUTING.md", "SECURITY.md", "bench/README.md", "deploy/README.md"] + [
    str(p.relative_to(REPO_ROOT)) for p in sorted((REPO_ROOT / "docs").glob("*.md"))
]
GENERATED = (".run/", "built.yaml")  # written by the commands before them
ELSEWHERE = {"docker", "kubectl", "helm", "git", "curl", "while", "sleep", "done", "CLUSTER", "HEAD"}
SHELL = {"source", "export", "cd", "set", ".", "mkdir"}
# a Python interpreter as the docs write it (the venv's or an activated one)
PYTHON = {"python", "python3", ".venv/bin/python"}
CLIS = {"serve", "ray", "textserve", ".venv/bin/serve", ".venv/bin/ray", ".venv/bin/textserve"}


def commands() -> list[tuple[str, str]]:
    """(document, command) for every command of every ```bash block, `&&` and `;` split."""
    found = []
    for doc in DOCUMENTS:
        text = (REPO_ROOT / doc).read_text(encoding="utf-8")
        for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = re.sub(r"(^|\s)#.*$", "", line).strip()
                for part in re.split(r"\s*(?:&&|;)\s*", line):
                    if part:
                        found.append((doc, part))
    return found


COMMANDS = commands()


@functools.cache
def make_targets() -> set[str]:
    text = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][a-z0-9-]*):", text, re.M))


@functools.cache
def help_text(*argv: str) -> str:
    done = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert done.returncode == 0, f"{' '.join(argv)} --help failed: {done.stderr[-500:]}"
    return done.stdout


def cli_argv(program: str) -> list[str]:
    name = program.rsplit("/", 1)[-1]
    return [str(Path(sys.executable).with_name(name))]


def subcommand(words: list[str]) -> tuple[list[str], list[str]]:
    """(the words naming the subcommand, the rest) for serve/ray/textserve: options may come first."""
    head, rest = [], list(words)
    while rest and rest[0].startswith("--") and rest[0] in ("--json",):
        head.append(rest.pop(0))
    return head + rest[:1], rest[1:]


def check_options(argv: list[str], args: list[str]) -> None:
    text = help_text(*argv)
    for arg in args:
        if arg.startswith("-"):
            option = arg.split("=", 1)[0]
            assert re.search(rf"(^|[\s,\[]){re.escape(option)}\b", text), f"{' '.join(argv)} has no {option}"


def check_paths(args: list[str]) -> None:
    for arg in args:
        if arg.startswith("-") or "://" in arg or arg.startswith(GENERATED):
            continue
        if re.fullmatch(r"[\w.]+:\w+", arg):  # an import path, as serve build takes
            module, _, _attr = arg.partition(":")
            assert (REPO_ROOT / (module.replace(".", "/") + ".py")).exists(), arg
        elif "/" in arg or arg.endswith((".yaml", ".py", ".json", ".md")):
            assert (REPO_ROOT / arg).exists(), f"{arg} does not exist"


def test_the_docs_have_shell_commands():
    assert {doc for doc, _ in COMMANDS} >= {"README.md", "docs/operations.md", "docs/configuration.md"}


@pytest.mark.parametrize(("doc", "command"), COMMANDS, ids=[f"{d}: {c[:50]}" for d, c in COMMANDS])
def test_each_shell_command_names_what_exists(doc, command):
    words = shlex.split(command)
    if words[0] == "do":  # a loop's body: the command after it
        words = words[1:]
    program, args = words[0], words[1:]
    if program in SHELL:
        if program == "source":
            assert args == [".venv/bin/activate"], command
        return
    if program == "make":
        targets = [a for a in args if "=" not in a]
        assert set(targets) <= make_targets(), f"{doc}: no such make target in {command}"
        return
    if program in PYTHON:
        assert args[0] == "-m", command
        module = args[1]
        check_options([sys.executable, "-m", module], args[2:])
        check_paths(args[2:])
        return
    if program in CLIS:
        sub, rest = subcommand(args)
        check_options([*cli_argv(program), *sub], rest)
        check_paths(rest)
        return
    if program in ("docker", "kubectl"):
        for flag, value in itertools.pairwise(args):
            if flag == "-f":
                assert (REPO_ROOT / value).exists(), f"{doc}: {value} does not exist"
        if program == "docker" and args[:1] == ["build"]:
            assert (REPO_ROOT / "Dockerfile").exists()
        return
    assert program.split("=")[0] in ELSEWHERE, f"{doc}: a command this test does not know: {command}"
