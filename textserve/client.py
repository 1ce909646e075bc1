"""A small Python client for the textserve HTTP API (docs/api.md).

    from textserve.client import TextServeClient

    with TextServeClient("http://127.0.0.1:8000") as client:
        client.translate("Hello world!", target_lang="de")["translation"]  # "Hallo Welt!"
        for event in client.translate_stream(long_text, "de"):  # NDJSON events as they arrive
            ...
        client.summarize(document, max_length=60)["summary"]

Every failure -- an error answer (JSON or Serve's plain-text ones), an `error` event inside a
stream, a stream that ends without `done`, or no answer at all -- raises `TextServeError`.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
URL_ENV = "TEXTSERVE_URL"
API_KEY_ENV = "TEXTSERVE_API_KEY"
NDJSON = "application/x-ndjson"


class TextServeError(Exception):
    """A request that did not succeed. `status` is the HTTP status (the `status` of an `error`
    event for a stream that failed after it began; None when no complete answer arrived: network
    failure, timeout, a stream cut short); `message` is the server's `error` text (or its plain-text
    body); `retry_after` is the 503's Retry-After in seconds, if it carried one; `details` is the
    JSON error's `details` list."""

    def __init__(
        self,
        status: int | None,
        message: str,
        retry_after: float | None = None,
        details: list | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after
        self.details = details or []

    def __str__(self) -> str:
        return self.message if self.status is None else f"{self.status}: {self.message}"


@dataclass(frozen=True)
class TranslatedFile:
    """A document's translation (TextServeClient.translate_file): its bytes, the name the server
    gives it (the target language before the suffix), and what translated it."""

    content: bytes
    filename: str
    source_lang: str | None
    target_lang: str | None
    model: str


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds, when it is given as seconds (an HTTP date is ignored)."""
    value = response.headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def error_from_response(response: httpx.Response) -> TextServeError:
    """The error an answer that is not 2xx stands for, from its JSON body
    (`{"error": ..., "details": [...]}`) or its plain-text body (Serve's proxy: 408, 500, 503)."""
    body = response.read().decode("utf-8", errors="replace").strip()
    message, details = body, None
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and "error" in data:
        message = str(data["error"])
        details = data.get("details") if isinstance(data.get("details"), list) else None
    elif isinstance(data, dict) and "detail" in data:  # FastAPI's own shape, should one get through
        message = str(data["detail"])
    if not message:
        message = response.reason_phrase or f"HTTP {response.status_code}"
    return TextServeError(response.status_code, message, _retry_after(response), details)


def _text_fields(text: str | list[str]) -> dict:
    if isinstance(text, str):
        return {"text": text}
    if isinstance(text, list | tuple):
        return {"texts": list(text)}
    raise TypeError(f"text must be a string or a list of strings, not {type(text).__name__}")


def _options(**options: Any) -> dict:
    return {key: value for key, value in options.items() if value is not None}


RETRY_JITTER = 0.5  # a retry waits up to this fraction of Retry-After longer, at random


def retry_wait(retry_after: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before sending a request again: what the server asked for (at most `cap`),
    never less, plus up to RETRY_JITTER of it at random."""
    asked = min(max(retry_after, 0.0), cap)
    return asked * (1 + (rng or random).uniform(0, RETRY_JITTER))


class TextServeClient:
    """A synchronous client of the translation and summarization apps (httpx underneath; one
    connection pool, kept alive between requests). Use it as a context manager or call close().

    `base_url` defaults to $TEXTSERVE_URL, else http://127.0.0.1:8000; `api_key` to
    $TEXTSERVE_API_KEY (sent as `Authorization: Bearer <key>`). `timeout` (seconds) bounds
    connecting and each read; for a stream, each wait for the next line.

    Retries: a 503 that carries a Retry-After header (the service is overloaded and said when to
    come back) is sent again, at most `max_retries` times (3 by default), after waiting Retry-After
    seconds capped at `max_retry_wait` (10 s), and up to half as long again at random (`retry_wait`:
    clients turned away together do not all come back at once). Nothing else is retried; a 503
    without Retry-After, and the last 503, raise TextServeError with its `retry_after`.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        max_retry_wait: float = 10.0,
    ):
        base_url = base_url or os.environ.get(URL_ENV) or DEFAULT_URL
        api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
        )

    def __enter__(self) -> TextServeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- the API ---

    def translate(
        self,
        text: str | list[str],
        target_lang: str | None = None,
        source_lang: str | None = None,
        text_format: str | None = None,
    ) -> dict:
        """{"translation", "source_lang", "target_lang", "model"} (and "via" when pivoted); for a
        list, "translations" in the same order. Languages as ISO 639-1 codes (languages() lists
        each source's targets); the server's defaults (en, fr) for None. `text_format` "html" or
        "markdown": each text is such a document, its markup kept (the request's `format`)."""
        options = _options(target_lang=target_lang, source_lang=source_lang, format=text_format)
        return self._json("POST", "/translate", {**_text_fields(text), **options})

    def translate_stream(
        self, text: str | list[str], target_lang: str | None = None, source_lang: str | None = None
    ) -> Iterator[dict]:
        """The events of POST /translate with "stream": true, yielded as their lines arrive: one
        {"event": "sentence", "index", "total", "text_index", "source", "translation", "separator"}
        per sentence in order, then {"event": "done", "sentences", "translation"(s), ...}."""
        body = {**_text_fields(text), **_options(target_lang=target_lang, source_lang=source_lang)}
        return self._stream("/translate", {**body, "stream": True})

    def summarize(
        self, text: str | list[str], max_length: int | None = None, min_length: int | None = None
    ) -> dict:
        """{"summary", "model"}; for a list, "summaries". Lengths are in tokens."""
        body = {**_text_fields(text), **_options(max_length=max_length, min_length=min_length)}
        return self._json("POST", "/summarize", body)

    def summarize_stream(
        self, text: str | list[str], max_length: int | None = None, min_length: int | None = None
    ) -> Iterator[dict]:
        """The events of POST /summarize with "stream": true, yielded as their lines arrive:
        {"event": "progress", "text_index", "level", "done", "total"} as the chunks of a text longer
        than the model's window are summarized (none for texts that fit), then {"event": "done",
        "summary"(ies), "model"}."""
        body = {**_text_fields(text), **_options(max_length=max_length, min_length=min_length)}
        return self._stream("/summarize", {**body, "stream": True})

    def translate_file(
        self,
        path: str | os.PathLike,
        target_lang: str | None = None,
        source_lang: str | None = None,
        content: bytes | None = None,
    ) -> TranslatedFile:
        """The document at `path` (or `content`, named by `path`) translated, in its type, its
        structure kept (POST /translate/file: .txt, .html, .md, .srt, .docx)."""
        name = Path(path).name
        data = Path(path).read_bytes() if content is None else content
        fields = _options(target_lang=target_lang, source_lang=source_lang)
        response = self._send(
            "POST", "/translate/file", None, stream=False, files={"file": (name, data)}, data=fields
        )
        disposition = response.headers.get("content-disposition", "")
        filename = unquote(disposition.partition("filename*=UTF-8''")[2]) or name
        headers = response.headers
        return TranslatedFile(
            response.content,
            filename,
            headers.get("x-source-lang"),
            headers.get("x-target-lang"),
            unquote(headers.get("x-model", "")),
        )

    def languages(self) -> dict:
        """{"languages": [{"code", "name", "targets"}, ...], "default_source_lang",
        "default_target_lang", "pivot_lang", "models"}: each source language with its targets."""
        return self._json("GET", "/translate/languages")

    # --- plumbing ---

    def _send(self, method: str, path: str, body: dict | None, stream: bool, **form: Any) -> httpx.Response:
        """The response (status 2xx), after retrying 503s that carry Retry-After. `form`: a
        multipart body (httpx's `files` and `data`) in place of the JSON `body`."""
        attempt = 0
        while True:
            accept = f"{NDJSON}, application/json" if stream else "application/json"
            content = form or {"json": body}
            request = self._http.build_request(method, path, headers={"Accept": accept}, **content)
            try:
                response = self._http.send(request, stream=stream)
            except httpx.HTTPError as exc:
                raise _network_error(exc, self.base_url + path) from exc
            if response.is_success:
                return response
            try:
                error = error_from_response(response)
            except httpx.HTTPError as exc:
                raise _network_error(exc, self.base_url + path) from exc
            finally:
                response.close()
            if error.status != 503 or error.retry_after is None or attempt >= self.max_retries:
                raise error
            attempt += 1
            time.sleep(retry_wait(error.retry_after, self.max_retry_wait))

    def _json(self, method: str, path: str, body: dict | None = None) -> dict:
        response = self._send(method, path, body, stream=False)
        try:
            data = response.json()
        except ValueError:
            raise TextServeError(
                response.status_code, f"the answer is not JSON: {response.text[:200]!r}"
            ) from None
        if not isinstance(data, dict):
            raise TextServeError(response.status_code, f"the answer is not a JSON object: {data!r:.200}")
        return data

    def _stream(self, path: str, body: dict) -> Iterator[dict]:
        # a generator, so nothing is sent before the caller starts iterating
        response = self._send("POST", path, body, stream=True)
        try:
            content_type = response.headers.get("content-type", "")
            if not content_type.startswith(NDJSON):
                response.read()
                raise TextServeError(
                    response.status_code,
                    f"expected a stream ({NDJSON}), got {content_type or 'no content type'}: "
                    f"{response.text[:200]!r}",
                )
            received = 0
            try:
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    event = _event(line)
                    received += 1
                    if event.get("event") == "error":
                        status = event.get("status")
                        raise TextServeError(
                            status if isinstance(status, int) else 500,
                            str(event.get("error") or "the server failed while streaming"),
                        )
                    yield event
                    if event.get("event") == "done":
                        return
            except httpx.TimeoutException as exc:
                raise _network_error(exc, self.base_url + path) from exc
            except httpx.HTTPError as exc:
                raise TextServeError(
                    None,
                    f"the stream from {self.base_url + path} broke off ({received} events received): "
                    f"{str(exc) or type(exc).__name__}",
                ) from exc
            raise TextServeError(None, f"the stream from {self.base_url + path} ended without a 'done' event")
        finally:
            response.close()


def _event(line: str) -> dict:
    try:
        event = json.loads(line)
    except ValueError:
        raise TextServeError(None, f"a stream line is not JSON: {line[:200]!r}") from None
    if not isinstance(event, dict):
        raise TextServeError(None, f"a stream line is not a JSON object: {line[:200]!r}")
    return event


def _network_error(exc: httpx.HTTPError, url: str) -> TextServeError:
    if isinstance(exc, httpx.TimeoutException):
        return TextServeError(None, f"no answer from {url} in time ({type(exc).__name__})")
    reason = str(exc) or type(exc).__name__
    return TextServeError(None, f"cannot reach {url}: {reason}")
