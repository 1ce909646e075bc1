"""Optional API-key auth (apps/common/auth.py, enforced by RequestGuard in apps/common/request_guard.py).

Unit: how keys are read (TEXTSERVE_API_KEYS, TEXTSERVE_API_KEYS_FILE, rotation, a broken file
refuses rather than opens) and compared (every key, in constant time).

Over real HTTP on the session cluster: a copy of the translation app and a copy of the router in
front of it, deployed with keys in their replicas' environment (runtime_env env_vars, as a
Kubernetes Secret would put them there) and `max_body_bytes: 4096` in the translation copy's
user_config. No key or a wrong one: 401 with `WWW-Authenticate: Bearer` and a JSON message,
before the body is read; the right one: the normal answer; the health probe and the API docs stay
open; the router reaches its keyed leaf app through a handle, with no key. The session's own apps
(no key configured) need none."""

import copy
import hmac
import time
import urllib.error

import pytest
from ray import serve

from apps.common import auth
from apps.common.auth import ApiKeys, KeysUnavailableError, bearer_token
from tests.common.raw_http import raw_post_headers_only
from textserve.inprocess import app_config, deploy_app
from textserve.prometheus import scrape, settled, totals_by

LEAF, LEAF_ROUTE = "translation-keys", "/translate-keys"
ROUTER, ROUTER_ROUTE = "router-keys", "/keys"
INLINE_KEYS = ["key-one-5b1e0c", "key-two-93f2aa"]
FILE_KEY = "key-three-c07d41"
BODY_LIMIT = 4096


# ---- unit -------------------------------------------------------------------------------------


def test_no_keys_configured_means_auth_is_off():
    assert not ApiKeys.from_env({}).enabled
    assert not ApiKeys.from_env({"TEXTSERVE_API_KEYS": ""}).enabled
    assert not ApiKeys.from_env({"TEXTSERVE_API_KEYS": " , "}).enabled


def test_inline_keys_are_comma_separated_and_trimmed():
    keys = ApiKeys.from_env({"TEXTSERVE_API_KEYS": " alpha , beta,"})
    assert keys.enabled
    assert keys.accepts("alpha") and keys.accepts("beta")
    for wrong in ("", "alph", "alphaa", "ALPHA", "alpha,beta", "gamma"):
        assert not keys.accepts(wrong), wrong


def test_key_file_is_read_and_reread_when_it_changes(tmp_path):
    path = tmp_path / "keys"
    path.write_text("# rotated 2026-11\nfile-key-1\n\n  file-key-2  \n")
    keys = ApiKeys.from_env({"TEXTSERVE_API_KEYS_FILE": str(path)})
    assert keys.enabled and keys.accepts("file-key-1") and keys.accepts("file-key-2")
    assert not keys.accepts("# rotated 2026-11")
    path.write_text("file-key-3\n")  # a Secret updated in place: no restart
    assert keys.accepts("file-key-3") and not keys.accepts("file-key-1")


def test_a_key_file_that_cannot_be_read_refuses_everything(tmp_path):
    missing = ApiKeys.from_env({"TEXTSERVE_API_KEYS_FILE": str(tmp_path / "absent")})
    assert missing.enabled
    with pytest.raises(KeysUnavailableError, match="cannot read TEXTSERVE_API_KEYS_FILE"):
        missing.accepts("anything")
    (tmp_path / "empty").write_text("# no keys yet\n")
    empty = ApiKeys.from_env({"TEXTSERVE_API_KEYS_FILE": str(tmp_path / "empty")})
    with pytest.raises(KeysUnavailableError, match="holds no key"):
        empty.accepts("anything")
    # inline keys still work when the file is gone; the file's keys do not
    both = ApiKeys.from_env({"TEXTSERVE_API_KEYS": "inline", "TEXTSERVE_API_KEYS_FILE": "/nonexistent"})
    assert both.accepts("inline") and not both.accepts("other")


def test_every_key_is_compared_in_constant_time(monkeypatch):
    calls, compare = [], hmac.compare_digest

    def recording_compare(a, b):
        calls.append((len(a), len(b)))
        return compare(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", recording_compare)
    keys = ApiKeys.from_env({"TEXTSERVE_API_KEYS": "short,a-much-longer-key,third"})
    assert keys.accepts("short")  # the first key matches: the other two are compared all the same
    assert len(calls) == 3
    assert not keys.accepts("x")
    assert len(calls) == 6
    assert set(calls) == {(32, 32)}  # digests: the key's length does not show


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER   abc  ", "abc"),
        ("Bearer", None),
        ("Bearer ", None),
        ("Basic abc", None),
        ("abc", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header, token):
    assert bearer_token(header) == token


# ---- over HTTP --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("secret") / "api-keys"
    path.write_text(f"# mounted Secret\n{FILE_KEY}\n")
    return path


@pytest.fixture(scope="module")
def keyed_apps(serve_url, apps, key_file):
    env = {
        "TEXTSERVE_API_KEYS": ",".join(INLINE_KEYS),
        "TEXTSERVE_API_KEYS_FILE": str(key_file),
        "HF_HUB_OFFLINE": "1",
    }
    leaf = copy.deepcopy(app_config(apps, "translation"))
    leaf.update(name=LEAF, route_prefix=LEAF_ROUTE)
    [deployment] = leaf["deployments"]
    deployment["num_replicas"] = 1
    deployment["ray_actor_options"]["runtime_env"] = {"env_vars": env}
    deployment["user_config"]["max_body_bytes"] = BODY_LIMIT
    router = copy.deepcopy(app_config(apps, "router"))
    router.update(name=ROUTER, route_prefix=ROUTER_ROUTE)
    deployment = router["deployments"][0]  # the Router (then its file store)
    deployment["num_replicas"] = 1
    deployment["ray_actor_options"]["runtime_env"] = {"env_vars": env}
    deployment["user_config"]["translation"] = {"app": LEAF, "deployment": "Translator"}
    deploy_app(leaf)
    deploy_app(router)
    yield
    serve.delete(ROUTER)
    serve.delete(LEAF)


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("route", [LEAF_ROUTE, ROUTER_ROUTE])
@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({}, "missing API key: send the header Authorization: Bearer <your key>"),
        (bearer("key-one-5b1e0"), "API key not accepted"),
        (bearer(INLINE_KEYS[0] + "x"), "API key not accepted"),
        ({"Authorization": f"Basic {INLINE_KEYS[0]}"}, "Authorization must be 'Bearer <your key>'"),
        ({"Authorization": "Bearer"}, "Authorization must be 'Bearer <your key>'"),
    ],
)
def test_no_key_or_a_wrong_one_is_401(http, keyed_apps, route, headers, says):
    response = http.post(route, json={"text": "Hello world!"}, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer realm="textserve"')
    assert says in response.json()["error"]
    if "not accepted" in says:
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("route", [LEAF_ROUTE, ROUTER_ROUTE])
@pytest.mark.parametrize("key", [*INLINE_KEYS, FILE_KEY])
def test_each_configured_key_is_accepted(http, keyed_apps, route, key):
    response = http.post(route, json={"text": "Hello world!"}, headers=bearer(key))
    assert response.status_code == 200, response.text
    assert response.json()["translation"] == "Bonjour le monde !"


def test_the_key_is_checked_before_the_body(http, serve_url, keyed_apps):
    malformed = http.post(LEAF_ROUTE, content=b'{"text": ', headers={"content-type": "application/json"})
    assert malformed.status_code == 401
    answer, seconds = raw_post_headers_only(serve_url, LEAF_ROUTE, 10_000_000)
    assert answer.startswith("HTTP/1.1 401"), answer[:300]
    assert seconds < 10


def test_the_body_limit_comes_from_the_user_config(http, keyed_apps):
    response = http.post(LEAF_ROUTE, json={"text": "a" * 5000}, headers=bearer(INLINE_KEYS[0]))
    assert response.status_code == 413
    assert f"this service accepts at most {BODY_LIMIT}" in response.json()["error"]


def test_health_probe_and_docs_need_no_key(http, keyed_apps):
    health = http.get(f"{ROUTER_ROUTE}/healthz")
    assert health.status_code == 200 and health.json()["apps"][LEAF]["status"] == "ok"
    assert http.get(f"{LEAF_ROUTE}/docs").status_code == 200
    schema = http.get(f"{LEAF_ROUTE}/openapi.json").json()
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "an API key",
    }
    assert schema["paths"]["/"]["post"]["security"] == [{"apiKey": []}]
    assert "401" in schema["paths"]["/"]["post"]["responses"]


def test_the_front_doors_document_and_pages_need_no_key_and_say_where_one_is(http, keyed_apps):
    document = http.get(f"{ROUTER_ROUTE}/openapi.json").json()
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    for path in (ROUTER_ROUTE, LEAF_ROUTE, f"{LEAF_ROUTE}/languages", f"{ROUTER_ROUTE}/hf/translation"):
        for operation in document["paths"][path].values():
            assert operation["security"] == [{"apiKey": []}], path
    assert "security" not in document["paths"][f"{ROUTER_ROUTE}/healthz"]["get"]
    assert "security" not in document["paths"]["/summarize"]["post"]  # the session's, with no keys
    for page in ("/playground", "/docs", "/static/docs/swagger-ui.css", "/static/playground/playground.js"):
        assert http.get(f"{ROUTER_ROUTE}{page}").status_code == 200, page


def test_the_playground_sends_the_key_it_is_given(serve_url, keyed_apps, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.browser import start_chromium

    driver = start_chromium(tmp_path / "profile")
    try:
        wait = WebDriverWait(driver, 60, poll_frequency=0.1)
        driver.get(f"{serve_url}{ROUTER_ROUTE}/playground")
        error = driver.find_element(By.ID, "translate-error")
        wait.until(lambda d: error.is_displayed())
        assert error.text == (
            "target languages could not be listed: 401: missing API key: send the header "
            "Authorization: Bearer <your key>"
        )
        key = driver.find_element(By.ID, "api-key")
        key.send_keys(INLINE_KEYS[1])
        driver.find_element(By.ID, "translate-text").click()  # leaving the field: a change event
        wait.until(lambda d: d.execute_script("return document.getElementById('target-lang').value") == "fr")
        driver.find_element(By.ID, "translate-button").click()
        wait.until(lambda d: d.find_element(By.ID, "translate-status").text in ("done", "failed"))
        assert driver.find_element(By.ID, "translate-output").text == "Bonjour le monde !"
        assert not error.is_displayed()
        driver.save_screenshot(str(tmp_path / "playground-with-key.png"))
    finally:
        driver.quit()


def test_a_cached_answer_is_served_only_to_the_key_whose_request_decoded_it(http, keyed_apps, metrics_url):
    """`cache_scope: per_key` (the default): a sentence one key had translated is decoded again
    for another key, so no key can time its answers to learn what another sent; the router
    carries the caller's key (as a digest) to the leaf app through its handle."""
    body = {"text": f"Every key keeps its own cache, {time.time_ns()}."}

    def lookups() -> dict[str, float]:
        return totals_by(scrape(metrics_url), "ray_textserve_cache_lookups_total", "result", application=LEAF)

    before = settled(lookups, 15)
    sends = [
        (LEAF_ROUTE, INLINE_KEYS[0]),  # decoded: miss
        (LEAF_ROUTE, INLINE_KEYS[0]),  # the same key: hit
        (LEAF_ROUTE, INLINE_KEYS[1]),  # another key: decoded again, miss
        (ROUTER_ROUTE, INLINE_KEYS[1]),  # that key through the router: hit
        (ROUTER_ROUTE, FILE_KEY),  # a third key through the router: miss
    ]
    answers = set()
    for route, key in sends:
        response = http.post(route, json=body, headers=bearer(key))
        assert response.status_code == 200, response.text
        answers.add(response.json()["translation"])
    assert len(answers) == 1
    want = {"hit": before.get("hit", 0) + 2, "miss": before.get("miss", 0) + 3}
    deadline = time.monotonic() + 20  # replicas report their counters every second or so
    while (seen := lookups()) != want and time.monotonic() < deadline:
        time.sleep(0.5)
    assert seen == want


LIBRETRANSLATE = f"{ROUTER_ROUTE}/libretranslate"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/translate", {"q": "Hello world!", "source": "en", "target": "fr"}),
        ("POST", "/detect", {"q": "Hello world!"}),
        ("GET", "/languages", None),
        ("GET", "/frontend/settings", None),
    ],
)
def test_libretranslates_routes_take_the_key_from_the_body_or_the_header(
    http, keyed_apps, method, path, body
):
    """LibreTranslate's clients send `api_key` in the body: each of its routes reads the key
    there (or in Authorization), 400 without one and 403 for a wrong one, as LibreTranslate."""
    url = LIBRETRANSLATE + path

    def send(fields: dict | None, **options):
        if method == "GET":
            return http.get(url, params=fields, **options)
        return http.post(url, json=fields, **options)

    missing = send(body)
    assert missing.status_code == 400 and "missing API key" in missing.json()["error"]
    wrong = send({**(body or {}), "api_key": INLINE_KEYS[0] + "x"})
    assert wrong.status_code == 403 and "not accepted" in wrong.json()["error"]
    assert "www-authenticate" not in wrong.headers
    assert send({**(body or {}), "api_key": FILE_KEY}).status_code == 200
    assert send(body, headers=bearer(INLINE_KEYS[1])).status_code == 200
    if method == "POST":
        form = http.post(url, data={**(body or {}), "api_key": INLINE_KEYS[0]})
        assert form.status_code == 200, form.text


def test_libretranslatepy_with_a_key(serve_url, keyed_apps):
    from libretranslatepy import LibreTranslateAPI

    client = LibreTranslateAPI(f"{serve_url}{LIBRETRANSLATE}", api_key=INLINE_KEYS[0])
    assert client.translate("Hello world!", "en", "de") == "Hallo Welt!"
    assert client.detect("Bonjour.")[0]["language"] == "fr"
    assert any(language["code"] == "en" for language in client.languages())
    keyless = LibreTranslateAPI(f"{serve_url}{LIBRETRANSLATE}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        keyless.translate("Hello world!", "en", "de")
    assert refused.value.code == 400


def test_a_translated_file_is_downloaded_only_with_the_key_that_made_it(http, keyed_apps):
    upload = {"file": ("notes.txt", b"Hello world!\n")}
    made = http.post(
        f"{LIBRETRANSLATE}/translate_file",
        files=upload,
        data={"source": "en", "target": "de", "api_key": FILE_KEY},
    )
    assert made.status_code == 200, made.text
    url = made.json()["translatedFileUrl"]
    assert http.get(url, params={"api_key": FILE_KEY}).text == "Hallo Welt!\n"
    assert http.get(url, headers=bearer(FILE_KEY)).status_code == 200
    other = http.get(url, params={"api_key": INLINE_KEYS[0]})  # a valid key, another tenant's
    assert other.status_code == 404 and "no such file" in other.json()["error"]
    assert http.get(url).status_code == 400  # no key
    assert (
        http.post(f"{LIBRETRANSLATE}/translate_file", files=upload, data={"source": "en"}).status_code == 400
    )


def test_a_rotated_key_file_takes_effect_without_a_restart(http, keyed_apps, key_file):
    new_key = "key-four-0a9d3e"
    key_file.write_text(f"{new_key}\n")
    try:
        assert http.post(LEAF_ROUTE, json={"text": "Hi"}, headers=bearer(new_key)).status_code == 200
        assert http.post(LEAF_ROUTE, json={"text": "Hi"}, headers=bearer(FILE_KEY)).status_code == 401
    finally:
        key_file.write_text(f"{FILE_KEY}\n")


def test_without_keys_configured_no_key_is_needed(http):
    response = http.post("/translate", json={"text": "Hello world!"})
    assert response.status_code == 200
    assert "securitySchemes" not in http.get("/translate/openapi.json").json().get("components", {})
