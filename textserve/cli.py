"""`textserve`: translate and summarize from the command line (docs/api.md, "Client and CLI").

    textserve translate "Hello world!" --to de       # Hallo Welt!
    textserve translate --file letter.txt --to ro    # or TEXT `-` for stdin
    textserve translate --file page.html --to de     # the markup kept (--format html, markdown)
    textserve translate --file talk.srt --to fr      # writes talk.fr.srt (also .docx; --out PATH)
    textserve summarize report.txt --max-length 60   # or FILE `-` for stdin
    textserve languages

Translate (of plain text) and summarize use the streaming endpoints: on a terminal, a long
document shows a progress bar on stderr (sentences for translate, chunks per map-reduce level
for summarize). The result goes to stdout. Exit status: 0 done, 1 the server refused or failed
(or could not be reached), 2 a usage error; errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from textserve.client import API_KEY_ENV, DEFAULT_URL, URL_ENV, TextServeClient, TextServeError

PROG = "textserve"
MARKUP_SUFFIXES = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown"}
# documents sent whole to POST /translate/file, their translation written to a file
FILE_SUFFIXES = (".srt", ".docx")
# translate: documents of more sentences than this get a progress bar (on a terminal)
LONG_DOCUMENT_SENTENCES = 20
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    pass


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The options every command takes, before or after the command's name. On the subcommands
    their defaults are suppressed, so they do not overwrite what was given before the command."""

    def default(value):
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--url",
        default=default(None),
        help=f"the service's base URL (default: ${URL_ENV}, else {DEFAULT_URL})",
    )
    parser.add_argument(
        "--api-key",
        default=default(None),
        help=f"sent as 'Authorization: Bearer KEY' (default: ${API_KEY_ENV})",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print the server's JSON answer instead of plain text",
    )
    bar = parser.add_mutually_exclusive_group()
    bar.add_argument(
        "--progress",
        dest="progress",
        action="store_const",
        const=True,
        default=default(None),
        help="always show the progress bar on stderr, even when it is not a terminal",
    )
    bar.add_argument(
        "--no-progress",
        dest="progress",
        action="store_const",
        const=False,
        default=default(None),
        help="never show a progress bar",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Translate and summarize English text with a textserve deployment.",
        epilog="Exit status: 0 done, 1 the server refused or failed (or was not reached), 2 usage error.",
    )
    _global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    translate = commands.add_parser(
        "translate",
        help="translate text",
        description="Translate text (`textserve languages` lists the pairs).",
    )
    translate.add_argument("text", nargs="?", metavar="TEXT", help="the text, or - to read it from stdin")
    translate.add_argument(
        "--file",
        "-f",
        metavar="PATH",
        help="read the text from this file (UTF-8); a .srt or .docx file is translated as a document "
        "(its timings, its formatting kept) and written to --out",
    )
    translate.add_argument(
        "--out",
        "-o",
        metavar="PATH",
        help="where a translated .srt or .docx goes (default: beside it, named NAME.LANG.SUFFIX)",
    )
    translate.add_argument(
        "--to", dest="target_lang", metavar="LANG", help="target language (`textserve languages`; default fr)"
    )
    translate.add_argument(
        "--from",
        dest="source_lang",
        metavar="LANG",
        help="the text's language (`textserve languages`), or auto to detect it; default en",
    )
    translate.add_argument(
        "--format",
        choices=("text", "html", "markdown"),
        help="html or markdown: the text is such a document, its markup kept; default from the "
        "file's extension (.html, .htm, .md, .markdown), else text",
    )

    summarize = commands.add_parser(
        "summarize", help="summarize a document", description="Summarize an English document."
    )
    summarize.add_argument("file", metavar="FILE", help="the document (UTF-8), or - to read it from stdin")
    summarize.add_argument("--max-length", type=int, metavar="N", help="longest summary, in tokens")
    summarize.add_argument("--min-length", type=int, metavar="N", help="shortest summary, in tokens")

    commands.add_parser(
        "languages",
        help="list the language pairs",
        description="List each source language with its targets.",
    )
    for command in (translate, summarize, commands.choices["languages"]):
        _global_options(command, suppress=True)
    return parser


def _read(path: str) -> str:
    try:
        data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{'stdin' if path == '-' else path} is not UTF-8 text ({exc.reason})") from None


def _translate_input(args: argparse.Namespace) -> str:
    if args.file is not None and args.text is not None:
        raise UsageError("give the text or --file, not both")
    if args.file is not None:
        return _read(args.file)
    if args.text is None:
        raise UsageError("nothing to translate: give TEXT, - (stdin) or --file PATH")
    return _read("-") if args.text == "-" else args.text


def _bar(total: int | None, desc: str, unit: str):
    from tqdm import tqdm

    # the size from shutil, which falls back to $COLUMNS/$LINES or 80x24 where a terminal reports
    # 0x0 (a pty nobody sized): tqdm would read 0 and draw nothing
    size = shutil.get_terminal_size()
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=False,
        ncols=size.columns,
        nrows=size.lines,
    )


def _answer(done: dict, *bookkeeping: str) -> dict:
    """The answer in a stream's `done` event: the same JSON as the request without "stream"."""
    return {key: value for key, value in done.items() if key not in ("event", *bookkeeping)}


def _done(events: Iterator[dict]) -> dict:
    """The `done` event, the stream read to its end (the client raises if it has none)."""
    done = None
    for event in events:
        if event.get("event") == "done":
            done = event
    if done is None:
        raise TextServeError(None, "the stream ended without a 'done' event")
    return done


def _text_format(args: argparse.Namespace) -> str:
    """--format, else what the file's extension says, else text."""
    if args.format is not None:
        return args.format
    suffix = Path(args.file).suffix.lower() if args.file not in (None, "-") else ""
    return MARKUP_SUFFIXES.get(suffix, "text")


def run_translate_file(client: TextServeClient, args: argparse.Namespace) -> str:
    """A .srt or .docx file translated by POST /translate/file, written to --out (or beside it);
    says where."""
    if args.text is not None:
        raise UsageError("give the text or --file, not both")
    try:
        content = Path(args.file).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    translated = client.translate_file(args.file, args.target_lang, args.source_lang, content=content)
    out = Path(args.out) if args.out else Path(args.file).with_name(translated.filename)
    try:
        out.write_bytes(translated.content)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    if args.json:
        fields = {
            "file": str(out),
            "source_lang": translated.source_lang,
            "target_lang": translated.target_lang,
        }
        return json.dumps({**fields, "model": translated.model}, ensure_ascii=False)
    return str(out)


def run_translate(client: TextServeClient, args: argparse.Namespace, show_bar: bool | None) -> str:
    if args.file not in (None, "-") and Path(args.file).suffix.lower() in FILE_SUFFIXES:
        return run_translate_file(client, args)
    if args.out is not None:
        raise UsageError("--out is for a .srt or .docx --file; a text's translation goes to stdout")
    text, text_format = _translate_input(args), _text_format(args)
    if text_format != "text":  # a marked-up document is answered whole (no stream, no bar)
        answer = client.translate(text, args.target_lang, args.source_lang, text_format=text_format)
        return json.dumps(answer, ensure_ascii=False) if args.json else answer["translation"]
    bar = None

    def with_bar(events: Iterator[dict]) -> Iterator[dict]:
        nonlocal bar
        for event in events:
            if event.get("event") == "sentence":
                total = event.get("total")  # the number of sentences in the whole request
                if bar is None and (show_bar or (show_bar is None and _long(total, event))):
                    bar = _bar(total, "translating", "sentence")
                    bar.update(event.get("index", 0))
                if bar is not None:
                    bar.update(1)
            yield event

    try:
        done = _done(with_bar(client.translate_stream(text, args.target_lang, args.source_lang)))
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        return json.dumps(_answer(done, "sentences"), ensure_ascii=False)
    return done["translation"]


def _long(total: int | None, event: dict) -> bool:
    if total is not None:
        return total > LONG_DOCUMENT_SENTENCES
    return event.get("index", 0) >= LONG_DOCUMENT_SENTENCES  # a server without "total": count


def run_summarize(client: TextServeClient, args: argparse.Namespace, show_bar: bool | None) -> str:
    text = _read(args.file)
    bar, key = None, None

    def with_bars(events: Iterator[dict]) -> Iterator[dict]:
        """A bar per map-reduce level (levels run one after another), when bars may show."""
        nonlocal bar, key
        for event in events:
            if event.get("event") == "progress" and show_bar is not False:
                level = event.get("level", 1)
                if (event.get("text_index"), level) != key:
                    if bar is not None:
                        bar.close()
                    key = (event.get("text_index"), level)
                    bar = _bar(event.get("total"), f"summarizing, level {level}", "chunk")
                bar.update(event.get("done", 0) - bar.n)
            yield event

    try:
        done = _done(with_bars(client.summarize_stream(text, args.max_length, args.min_length)))
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        return json.dumps(_answer(done), ensure_ascii=False)
    return done["summary"]


def run_languages(client: TextServeClient, args: argparse.Namespace) -> str:
    answer = client.languages()
    if args.json:
        return json.dumps(answer, ensure_ascii=False)
    source, target = answer.get("default_source_lang"), answer.get("default_target_lang")

    def marked(code: str, default: str | None) -> str:
        return f"{code}*" if code == default else code

    lines = [
        f"{marked(language['code'], source)}\t{language['name']}\t-> "
        + " ".join(marked(code, target) for code in language["targets"])
        for language in answer["languages"]
    ]
    return "\n".join([*lines, f"(* the defaults: {source} -> {target})"])


def _one_line(message: str) -> str:
    return " ".join(message.split())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2, already printed)
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    if args.url is not None and not args.url.startswith(("http://", "https://")):
        print(f"{PROG}: error: --url must start with http:// or https:// (got {args.url!r})", file=sys.stderr)
        return EXIT_USAGE
    # the bar: forced on or off, else on when stderr is a terminal (and, for translate, the document long)
    show_bar = args.progress if args.progress is not None else (None if sys.stderr.isatty() else False)
    try:
        with TextServeClient(args.url, args.api_key) as client:
            if args.command == "translate":
                output = run_translate(client, args, show_bar)
            elif args.command == "summarize":
                output = run_summarize(client, args, show_bar)
            else:
                output = run_languages(client, args)
    except UsageError as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except TextServeError as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    try:
        sys.stdout.write(output if output.endswith("\n") else output + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `textserve ... | head`: no traceback when Python flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
