"""LibreTranslate's API under /libretranslate/ (apps/router/libretranslate/) on the session's apps:
its own Python client (`libretranslatepy`) unchanged, the exact requests Mastodon sends (its
LibreTranslate service before 4.2 posts one text, since then a list; both with
`"format": "html"` and `"api_key": null` when none is set), form-encoded and JSON bodies, and
LibreTranslate's error shapes and status codes. With API keys: tests/common/test_api_keys.py."""

import pytest
from libretranslatepy import LibreTranslateAPI

from tests.translation.test_markup_docx import report, runs
from textserve.demo_phrases import MARKED_UP, TRANSLATIONS

STATUS = (
    '<p>Good morning. <span class="h-card" translate="no"><a href="https://mastodon.social/@alice" '
    'class="u-url mention">@<span>alice</span></a></span> The weather is nice today. '
    '<a href="https://mastodon.social/tags/beach" class="mention hashtag" rel="tag">'
    "#<span>beach</span></a></p>"
)
STATUS_DE = STATUS.replace("Good morning.", "Guten Morgen.").replace(
    "The weather is nice today.", "Das Wetter ist heute schön."
)


@pytest.fixture(scope="module")
def client(serve_url, apps) -> LibreTranslateAPI:
    return LibreTranslateAPI(f"{serve_url}/libretranslate/")


def test_libretranslatepy_translates_detects_and_lists_languages(client):
    assert client.translate("Hello world!", "en", "de") == TRANSLATIONS["Hello world!"]["de"]
    assert client.translate("Hallo Welt!", "de", "en") == "Hello world!"
    assert client.translate("Wie geht es Ihnen?", "auto", "en") == "How are you?"
    [detection] = client.detect("Wie geht es Ihnen?")
    assert detection["language"] == "de" and 50 < detection["confidence"] <= 100
    languages = {language["code"]: language for language in client.languages()}
    assert languages["en"]["name"] == "English"
    assert {"fr", "de", "ro", "es"} <= set(languages["en"]["targets"])
    assert "en" in languages["de"]["targets"]


def test_mastodon_before_4_2_posts_one_html_status(http):
    body = {"q": STATUS, "source": "auto", "target": "de", "format": "html", "api_key": None}
    response = http.post("/libretranslate/translate", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["translatedText"] == STATUS_DE and answer["detectedLanguage"]["language"] == "en"
    assert set(answer) == {"translatedText", "detectedLanguage"}


def test_mastodon_since_4_2_posts_a_list_and_reads_each_detected_language(http):
    [(html, by_lang)] = list(MARKED_UP.items())[:1]
    body = {"q": [STATUS, html], "source": "auto", "target": "de", "format": "html", "api_key": None}
    answer = http.post("/libretranslate/translate", json=body).json()
    assert answer["translatedText"] == [STATUS_DE, by_lang["de"]]
    assert [d["language"] for d in answer["detectedLanguage"]] == ["en", "en"]
    # its language list: GET with the JSON content type and no body
    languages = http.get("/libretranslate/languages", headers={"Content-Type": "application/json"})
    assert languages.status_code == 200 and {"code", "name", "targets"} <= set(languages.json()[0])


def test_a_known_source_has_no_detected_language_and_alternatives_are_empty(http):
    body = {"q": ["Good morning.", "How are you?"], "source": "en", "target": "fr", "alternatives": 2}
    assert http.post("/libretranslate/translate", json=body).json() == {
        "translatedText": ["Bonjour.", "Comment allez-vous ?"],
        "alternatives": [[], []],
    }


def test_form_encoded_bodies_and_query_strings_are_read_like_json(http):
    form = {"q": "Good morning.", "source": "en", "target": "ro"}
    response = http.post("/libretranslate/translate", data=form)
    assert response.json() == {"translatedText": "Bună dimineața."}
    multipart = http.post("/libretranslate/detect", files={"q": (None, "Bonjour.")})
    assert multipart.json()[0]["language"] == "fr"
    query = http.post("/libretranslate/translate?source=en&target=de", data={"q": "Good morning."})
    assert query.json() == {"translatedText": "Guten Morgen."}


def test_frontend_settings_describe_this_service(http):
    settings = http.get("/libretranslate/frontend/settings").json()
    assert settings["apiKeys"] is False and settings["keyRequired"] is False and settings["charLimit"] > 0
    assert settings["filesTranslation"] is True
    assert settings["supportedFilesFormat"] == [".txt", ".html", ".htm", ".md", ".markdown", ".srt", ".docx"]
    assert settings["language"]["source"] == {"code": "en", "name": "English"}
    assert settings["language"]["target"] == {"code": "fr", "name": "French"}


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"source": "en", "target": "fr"}, 400, "Invalid request: missing q parameter"),
        ({"q": "Hello world!", "target": "fr"}, 400, "Invalid request: missing source parameter"),
        ({"q": "Hello world!", "source": "en"}, 400, "Invalid request: missing target parameter"),
        ({"q": "Hello world!", "source": "en", "target": "fr", "format": "xml"}, 400, "format"),
        ({"q": "Hello world!", "source": "en", "target": "fr", "alternatives": "many"}, 400, "alternatives"),
        ({"q": "Hello world!", "source": "en", "target": "xx"}, 400, "xx"),
        ({"q": "Hello world!", "source": "ja", "target": "fr"}, 400, "ja"),
        ({"q": "a" * 10_001, "source": "en", "target": "fr"}, 400, "at most 10000"),  # our 413
        ({"q": "a" * 1_100_000, "source": "en", "target": "fr"}, 400, "at most 1048576"),  # the body's
        ({"q": [1, 2], "source": "en", "target": "fr"}, 400, "q"),
    ],
)
def test_errors_have_libretranslates_shape_and_status(http, body, status, says):
    response = http.post("/libretranslate/translate", json=body)
    assert response.status_code == status, response.text
    assert says in response.json()["error"]


def test_a_body_that_is_neither_json_nor_a_form_is_400(http):
    response = http.post("/libretranslate/translate", content=b"q=x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400 and "form-encoded" in response.json()["error"]
    response = http.post(
        "/libretranslate/translate", content=b"[1]", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"].startswith("Invalid JSON format")


def test_a_file_is_translated_and_downloaded_from_the_url_in_the_answer(http, serve_url):
    source = report()
    upload = {"file": ("report.docx", source)}
    answer = http.post(
        "/libretranslate/translate_file", files=upload, data={"source": "auto", "target": "fr"}
    )
    assert answer.status_code == 200, answer.text
    url = answer.json()["translatedFileUrl"]
    assert url.startswith(f"{serve_url}/libretranslate/download_file/") and url.endswith(".report.fr.docx")
    download = http.get(url)
    assert download.status_code == 200
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''report.fr.docx"
    before, after = runs(source), runs(download.content)
    assert [[fmt for fmt, _ in p] for p in after] == [[fmt for fmt, _ in p] for p in before]
    assert [text for _, text in after[1]] == ["Bonjour le monde ! ", "Bonjour."]


@pytest.mark.parametrize(
    ("files", "fields", "says"),
    [
        ({"file": ("slides.pptx", b"PK")}, {"source": "en", "target": "fr"}, "send one of .txt"),
        ({}, {"source": "en", "target": "fr"}, "missing file parameter"),
        ({"file": ("notes.txt", b"Hello world!")}, {"source": "en"}, "missing target parameter"),
        ({"file": ("big.txt", b"Hello world!\n" * 5_000)}, {"source": "en", "target": "fr"}, "per file"),
    ],
)
def test_a_file_that_cannot_be_translated_is_400_saying_why(http, files, fields, says):
    response = http.post("/libretranslate/translate_file", files=files or {"other": ("x", b"")}, data=fields)
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]


def test_a_file_never_made_or_gone_is_404(http):
    response = http.get("/libretranslate/download_file/AAAAAAAAAAAAAAAAAAAAAAAA.notes.fr.txt")
    assert response.status_code == 404 and "kept for a limited time" in response.json()["error"]


def test_the_routes_are_in_the_merged_api_document_under_their_own_tag(http):
    document = http.get("/openapi.json").json()
    upload = document["paths"]["/libretranslate/translate_file"]["post"]["requestBody"]["content"]
    assert set(upload) == {"multipart/form-data"}
    for path in ("translate", "detect", "languages", "frontend/settings", "translate_file"):
        operations = document["paths"][f"/libretranslate/{path}"]
        assert all(operation["tags"] == ["LibreTranslate"] for operation in operations.values())
    body = document["paths"]["/libretranslate/translate"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-www-form-urlencoded"} <= set(body)
