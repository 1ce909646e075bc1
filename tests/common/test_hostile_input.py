"""Hostile input over real HTTP to each app (/translate, /summarize, the router at /): every answer
is a 4xx whose JSON `error` says what to change, or a correct 200 -- never a 5xx, never a
traceback -- and the service is healthy afterwards (no replica lost, /healthz 200, a normal
translation).

The body-size limit (`max_body_bytes`, 1 MiB in serve_config.yaml) is checked on the way in: a
Content-Length above it is answered 413 before a byte of the body is read (a raw socket that sends
the headers and nothing else gets its 413), a chunked body when it passes the limit."""

import asyncio
import json
from dataclasses import dataclass, field

import pytest
from ray import serve

from tests.common.raw_http import raw_post_headers_only, trickle_post

JSON = {"content-type": "application/json"}
ROUTES = ["/translate", "/summarize", "/"]
# what a correct 200 carries, by route
ANSWER_FIELD = {"/translate": "translation", "/summarize": "summary", "/": "translation"}


@dataclass(frozen=True)
class Hostile:
    name: str
    body: bytes
    status: int
    says: str = ""  # part of the `error` message (what to change); "" for a 200
    headers: dict = field(default_factory=lambda: dict(JSON))


def as_json(value) -> bytes:
    return json.dumps(value).encode()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


CORPUS = [
    # encoding
    Hostile("invalid UTF-8", b'{"text": "\xff\xfe Hello"}', 422, "not UTF-8 (byte 0xff at offset 10)"),
    Hostile("truncated UTF-8 sequence", b'{"text": "caf\xc3"}', 422, "encode the body as UTF-8"),
    Hostile("UTF-8 BOM", b'\xef\xbb\xbf{"text": "Hello world!"}', 200),
    Hostile(
        "UTF-16 body",
        '{"text": "Hello world!"}'.encode("utf-16"),
        415,
        "charset=utf-16 is not accepted: JSON bodies are UTF-8",
        {"content-type": "application/json; charset=utf-16"},
    ),
    Hostile("lone surrogate", b'{"text": "Hello \\ud800 world"}', 422, "text has a lone surrogate (U+D800)"),
    Hostile("lone surrogate in texts", b'{"texts": ["Hello", "\\udfff"]}', 422, "texts.1: text has a lone"),
    # NUL and control characters
    Hostile("NUL, escaped", as_json({"text": "Hello\u0000world"}), 200),
    Hostile("control characters, escaped", as_json({"text": "Hi \x01\x07\x1b[31m there\x7f\x0c"}), 200),
    Hostile("control character, raw", b'{"text": "Hello\x01world"}', 422, "Invalid control character"),
    Hostile("only a NUL", as_json({"text": "\u0000"}), 200),
    # size
    Hostile("10 MB body", as_json({"text": "a" * 10_000_000}), 413, "this service accepts at most 1048576"),
    Hostile("a single 100k-character word", as_json({"text": "a" * 100_000}), 413, "send a shorter text"),
    Hostile("10,000 texts", as_json({"texts": ["Hi"] * 10_000}), 413, "accepts at most 64: split the list"),
    # nesting (Python's JSON parser has a recursion limit: it must not reach it)
    Hostile("100k levels of [", b"[" * 100_000, 422, "nested deeper than 32 levels"),
    Hostile("100k levels of [ as text", b'{"text": ' + nested(100_000) + b"}", 422, "nested deeper than 32"),
    Hostile("100k levels of {", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, 422, "nested deeper than 32"),
    Hostile("500 levels of [ as text", b'{"text": ' + nested(500) + b"}", 422, "nested deeper than 32"),
    # wrong JSON types for text
    Hostile("text is an array", b'{"text": ["Hello"]}', 422, "text: Input should be a valid string"),
    Hostile("text is an empty array", b'{"text": []}', 422, "text: Input should be a valid string"),
    Hostile("text is a number", b'{"text": 1.5}', 422, "text: Input should be a valid string"),
    Hostile("text is null", b'{"text": null}', 422, "`text` is null: send `text` as a string"),
    Hostile("text is an object", b'{"text": {"en": "Hello"}}', 422, "text: Input should be a valid string"),
    Hostile("text is true", b'{"text": true}', 422, "text: Input should be a valid string"),
    Hostile("text is NaN", b'{"text": NaN}', 422, "NaN is not a JSON number"),
    Hostile("a 5000-digit number", b'{"text": "Hi", "n": 1' + b"0" * 5000 + b"}", 422, "too many digits"),
    Hostile("body is null", b"null", 422, "body must be a JSON object"),
    Hostile("body is a string", b'"Hello world!"', 422, "body must be a JSON object"),
    Hostile("body is an array", b'["Hello world!"]', 422, "body must be a JSON object"),
    # scripts
    Hostile("emoji", as_json({"text": "Hello 👋🏽 world 🌍🚀 👨‍👩‍👧"}), 200),
    Hostile("Arabic", as_json({"text": "مرحبا بالعالم، كيف حالك؟"}), 200),
    Hostile("Hebrew", as_json({"text": "שלום עולם, מה שלומך?"}), 200),
    Hostile("right-to-left override", as_json({"text": "Hello \u202eworld\u202c!"}), 200),
    Hostile("combining marks", as_json({"text": "Z\u0351\u0364\u036b\u0343a\u0310\u0368lgo" * 20}), 200),
    # content types
    Hostile("text/plain", b'{"text": "Hi"}', 415, "'text/plain' is not", {"content-type": "text/plain"}),
    Hostile(
        "form-encoded",
        b"text=Hello+world",
        415,
        "'application/x-www-form-urlencoded' is not accepted",
        {"content-type": "application/x-www-form-urlencoded"},
    ),
    Hostile(
        "multipart",
        b'--xx\r\nContent-Disposition: form-data; name="text"\r\n\r\nHello\r\n--xx--\r\n',
        415,
        "'multipart/form-data' is not accepted",
        {"content-type": "multipart/form-data; boundary=xx"},
    ),
    Hostile("no content type", b'{"text": "Hello world!"}', 415, "Content-Type is missing", {}),
    Hostile("+json content type", b'{"text": "Hi"}', 200, "", {"content-type": "application/x+json"}),
    Hostile("empty body", b"", 422, "request body is missing: send a JSON object"),
    # fields
    Hostile("unknown field", b'{"text": "Hello world!", "colour": "red"}', 422, "colour: Extra inputs"),
    Hostile("duplicate keys", b'{"text": "Hello world!", "text": "Bye"}', 422, 'duplicate key "text"'),
]


def check_answer(route: str, response, status: int, says: str) -> None:
    assert response.status_code < 500, response.text[:500]
    assert "Traceback" not in response.text
    assert response.status_code == status, response.text[:500]
    body = response.json()
    if status == 200:
        assert isinstance(body[ANSWER_FIELD[route]], str), body
    else:
        assert says in body["error"], body["error"]
        assert body["error"] and isinstance(body["details"], list)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.name)
def test_hostile_body_gets_a_clear_4xx_or_a_correct_200(http, route, case):
    response = http.post(route, content=case.body, headers=case.headers)
    check_answer(route, response, case.status, case.says)


@pytest.mark.parametrize("route", ROUTES)
def test_a_chunked_body_is_cut_off_at_the_limit(http, route):
    def chunks():  # no Content-Length: Transfer-Encoding: chunked, 10 MB in all
        for _ in range(100):
            yield b"a" * 100_000

    response = http.post(route, content=chunks(), headers=JSON)
    check_answer(route, response, 413, "request body is more than 1048576 bytes")


@pytest.mark.parametrize(
    ("name", "headers"),
    [
        ("a 100 kB header", {"x-padding": "a" * 100_000}),
        ("2000 headers", {f"x-h{i}": "v" for i in range(2000)}),
        ("a 100 kB request id", {"x-request-id": "r" * 100_000}),
    ],
)
def test_huge_headers_do_not_hurt(http, name, headers):
    """Serve's proxy sets no header limit of its own (a gateway in front should:
    SECURITY.md); our apps answer normally."""
    for route in ROUTES:
        response = http.post(route, json={"text": "Hello world!"}, headers=headers)
        assert response.status_code in (200, 431), response.text[:300]
        if response.status_code == 200:
            assert response.json()[ANSWER_FIELD[route]]


@pytest.mark.parametrize("route", ROUTES)
def test_a_large_content_length_is_refused_before_the_body_is_read(serve_url, apps, route):
    answer, seconds = raw_post_headers_only(serve_url, route, 10_000_000)
    assert answer.startswith("HTTP/1.1 413"), answer[:300]
    assert "request body is 10000000 bytes; this service accepts at most 1048576" in answer
    assert seconds < 10


def test_a_body_that_trickles_in_gets_408_at_body_timeout_whatever_timeout_the_client_sets(serve_url, apps):
    """A body still arriving `body_timeout_s` (10 s) after the request started is refused 408 by
    every app, also when the client turned Serve's request timeout off with its header (Serve's
    Python proxy passes the body on as it comes: the replica's guard is what frees the slot)."""
    body = json.dumps({"text": "Hello world, slowly!"}).encode()  # 32 bytes: 32 s at 1 byte/s

    async def trickle_all():
        return await asyncio.gather(
            *(
                trickle_post(serve_url, route, body, headers=headers)
                for route in ROUTES
                for headers in ({}, {"X-Request-Timeout-Seconds": "0"})
            )
        )

    for status, seconds in asyncio.run(trickle_all()):
        assert status.startswith("HTTP/1.1 408"), status
        assert 9.5 < seconds < 16, seconds


def test_the_service_is_healthy_afterwards(http, apps):
    for app, deployment in ((a, d) for a in apps["applications"] for d in a["deployments"]):
        states = serve.status().applications[app["name"]].deployments[deployment["name"]].replica_states
        assert states == {"RUNNING": deployment["num_replicas"]}, (app["name"], states)
    health = http.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    answer = http.post("/translate", json={"text": "Hello world!"})
    assert answer.status_code == 200 and answer.json()["translation"] == "Bonjour le monde !"
    routed = http.post("/", json={"text": "Hello world!", "target_lang": "de"})
    assert routed.json()["translation"] == "Hallo Welt!"


def test_the_body_limit_is_configuration_of_every_app(apps):
    """`max_body_bytes` is in each app's user_config (serve_config.yaml), validated by pydantic;
    test_api_keys.py shows a deployed value taking effect."""
    from apps.common.settings import parse_user_config
    from apps.router.config import RouterSettings
    from apps.translation.config import TranslationSettings

    for app in apps["applications"]:
        assert app["deployments"][0]["user_config"]["max_body_bytes"] == 1_048_576, app["name"]
    with pytest.raises(ValueError, match="router app: max_body_bytes: Input should be greater than"):
        parse_user_config(RouterSettings, {"max_body_bytes": 10}, "router")
    with pytest.raises(ValueError, match="max_body_bytes: Input should be a valid integer"):
        parse_user_config(TranslationSettings, {"max_body_bytes": "1 MB"}, "translation")
