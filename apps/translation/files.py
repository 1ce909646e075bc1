"""Documents sent as files (POST /translate/file, and LibreTranslate's /translate_file through the
router): each accepted type by its file name's suffix, read into a marked-up document (markup/),
and its translation written in the same type. Text files are UTF-8 (a byte-order mark kept).

Refused: a type not listed (UnsupportedFileError, 415, naming the accepted ones), a file over its
type's size limit (413), text that is not UTF-8 (422), a file whose text is longer than
`max_chars` (413; `files` in the app's user_config)."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from apps.common.errors import InputTooLargeError, UserInputError
from apps.translation.config import FileLimits
from apps.translation.markup.html import parse_html
from apps.translation.markup.markdown import parse_markdown
from apps.translation.markup.plain import parse_text
from apps.translation.markup.segments import MarkedUpDocument
from apps.translation.markup.srt import parse_srt
from apps.translation.markup.word import parse_docx


@dataclass(frozen=True)
class FileType:
    name: str  # its size limit's key in `files.max_bytes`
    media_type: str
    parse: Callable[[str], MarkedUpDocument] | None  # a text type's parser, else None
    parse_bytes: Callable[[bytes], MarkedUpDocument] | None = None


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FILE_TYPES = {
    ".txt": FileType("txt", "text/plain; charset=utf-8", parse_text),
    ".html": FileType("html", "text/html; charset=utf-8", parse_html),
    ".htm": FileType("html", "text/html; charset=utf-8", parse_html),
    ".md": FileType("md", "text/markdown; charset=utf-8", parse_markdown),
    ".markdown": FileType("md", "text/markdown; charset=utf-8", parse_markdown),
    ".srt": FileType("srt", "application/x-subrip; charset=utf-8", parse_srt),
    ".docx": FileType("docx", DOCX, None, parse_docx),
}
SUFFIXES = list(FILE_TYPES)  # what LibreTranslate's frontend settings list


class UnsupportedFileError(UserInputError):
    status_code = 415


def file_type(filename: str) -> FileType:
    """The type of a file named `filename`, by its suffix (UnsupportedFileError naming those
    accepted)."""
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in FILE_TYPES:
        accepted = ", ".join(SUFFIXES)
        what = f"a {suffix} file" if suffix else "a file without a suffix"
        raise UnsupportedFileError(f"{what} cannot be translated: send one of {accepted}")
    return FILE_TYPES[suffix]


@dataclass
class ReadFile:
    """A file as a document to translate, and how to write its translation as that file."""

    type: FileType
    document: MarkedUpDocument
    bom: bool = False

    def write(self, rendered: str | bytes) -> bytes:
        if isinstance(rendered, bytes):
            return rendered
        return (codecs.BOM_UTF8 if self.bom else b"") + rendered.encode("utf-8")


def read_file(filename: str, content: bytes, limits: FileLimits) -> ReadFile:
    """`content`, a file named `filename`, as a document (415, 413 or 422 as above)."""
    kind = file_type(filename)
    limit = getattr(limits.max_bytes, kind.name)
    if len(content) > limit:
        raise InputTooLargeError(
            f"the file is {len(content)} bytes; this service accepts {kind.name} files of at most "
            f"{limit} bytes: split it"
        )
    if kind.parse_bytes is not None:
        read = ReadFile(kind, kind.parse_bytes(content))
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UserInputError(
                f"the file is not UTF-8 text (byte {exc.start} cannot be read): save it as UTF-8"
            ) from None
        read = ReadFile(kind, kind.parse(text), content.startswith(codecs.BOM_UTF8))
    size = sum(len(text) for text in read.document.texts())
    if size > limits.max_chars:
        raise InputTooLargeError(
            f"the file holds {size} characters of text; this service accepts at most "
            f"{limits.max_chars} per file: split it"
        )
    return read


_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/]')


def translated_name(filename: str, target_lang: str) -> str:
    """The translation's file name: the source's base name with the target language before its
    suffix (`notes.fr.docx`), without path or control characters."""
    path = PurePath(_UNSAFE.sub("_", PurePath(filename.replace("\\", "/")).name) or "file")
    return f"{path.stem}.{target_lang}{path.suffix}"
