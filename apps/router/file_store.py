"""Translated files kept for download (LibreTranslate's /translate_file answers a URL, fetched
with GET /libretranslate/download_file/<name>): each for `ttl_s`, all of them within `max_bytes`
(the oldest dropped first), each readable only by the tenant that made it (its API key's; anyone
who has the name where keys are off). A name holds 144 random bits: it cannot be guessed.

Kept in the memory of one replica (the router app's TranslatedFiles deployment): a file is gone
when that replica restarts, as it is when it expires; a client translates it again."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from apps.common.errors import InputTooLargeError
from apps.router.config import FileStoreSettings


@dataclass(frozen=True)
class StoredFile:
    content: bytes
    filename: str
    media_type: str
    owner: str | None  # the tenant that made it (None: keys are off)
    expires: float


class FileStore:
    def __init__(self, settings: FileStoreSettings, clock: Callable[[], float] = time.monotonic):
        self.settings, self._clock = settings, clock
        self._files: OrderedDict[str, StoredFile] = OrderedDict()  # oldest first
        self._bytes = 0

    def configure(self, settings: FileStoreSettings) -> None:
        self.settings = settings
        self._drop_old(0)

    def put(self, content: bytes, filename: str, media_type: str, owner: str | None) -> str:
        """Keep a file; its name (a token, then the file's name). InputTooLargeError (413) for
        a file larger than the whole store."""
        if len(content) > self.settings.max_bytes:
            raise InputTooLargeError(
                f"the translated file is {len(content)} bytes, more than this service keeps for "
                f"download ({self.settings.max_bytes}): send a smaller file"
            )
        self._drop_old(len(content))
        token = secrets.token_urlsafe(18)
        expires = self._clock() + self.settings.ttl_s
        self._files[token] = StoredFile(content, filename, media_type, owner, expires)
        self._bytes += len(content)
        return f"{token}.{filename}"

    def get(self, name: str, owner: str | None) -> StoredFile | None:
        """The file `name` if it is kept and `owner` made it, else None."""
        self._drop_old(0)
        token, _, filename = name.partition(".")
        found = self._files.get(token)
        if found is None or found.owner != owner or found.filename != filename:
            return None
        if found.expires <= self._clock():  # kept past its time by a shorter ttl_s since
            return None
        return found

    def _drop_old(self, room: int) -> None:
        """Drop the expired files, then the oldest until `room` more bytes fit."""
        now = self._clock()
        while self._files:
            token, oldest = next(iter(self._files.items()))
            if oldest.expires > now and self._bytes + room <= self.settings.max_bytes:
                break
            del self._files[token]
            self._bytes -= len(oldest.content)
