"""`format: "html"` and `"markdown"` on POST /translate and the Translator's handle, with the demo
models' exact answers: inline elements carried to their words, statuses translated run by run,
detection on the text (not the tags), and what a marked-up request cannot do (stream)."""

import pytest
from ray import serve

from tests.router.test_libretranslate import STATUS, STATUS_DE
from tests.translation.markup_structure import html_structure, markdown_structure

README = (
    "# Hello *world*!\n\n- The *cat* sleeps on the **sofa**.\n- Run `make run`.\n\n```\nHello world!\n```\n"
)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("fr", "<p>Bonjour le <b>monde</b> !</p>"),
        ("de", "<p>Hallo <b>Welt</b>!</p>"),
        ("ro", "<p>Salut <b>lume</b>!</p>"),
    ],
)
def test_html_comes_back_with_its_markup_and_the_element_on_its_words(http, lang, expected):
    body = {"text": "<p>Hello <b>world</b>!</p>", "format": "html", "target_lang": lang}
    response = http.post("/translate", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["translation"] == expected


def test_a_status_with_a_mention_and_a_hashtag_is_translated_run_by_run(http):
    body = {"texts": [STATUS], "format": "html", "source_lang": "auto", "target_lang": "de"}
    answer = http.post("/translate", json=body).json()
    assert answer["translations"] == [STATUS_DE]
    assert answer["detected_language"]["language"] == "en"  # from its text, not its tags
    assert html_structure(answer["translations"][0]) == html_structure(STATUS)


def test_markdown_keeps_its_code_and_carries_emphasis(http):
    answer = http.post("/translate", json={"text": README, "format": "markdown", "target_lang": "fr"}).json()
    translated = answer["translation"]
    assert translated.startswith("# Bonjour le *monde* !\n\n- Le *chat* dort sur le **canapé**.\n")
    assert translated.endswith("```\nHello world!\n```\n")
    assert markdown_structure(translated) == markdown_structure(README)


def test_the_handle_takes_the_format_too(apps):
    handle = serve.get_deployment_handle("Translator", app_name="translation")
    document = "<i>Where is <a href='/g'>the train station</a>?</i>"
    answer = handle.translate.remote(document, "fr", format="html").result()
    assert answer["translation"] == "<i>Où est <a href='/g'>la gare</a> ?</i>"


def test_a_marked_up_request_cannot_stream(http):
    body = {"text": "<p>Hello world!</p>", "format": "html", "stream": True}
    response = http.post("/translate", json=body)
    assert response.status_code == 422 and 'send format "text"' in response.json()["error"]
    response = http.post("/translate", json={"text": "Hello world!", "format": "docx"})
    assert response.status_code == 422 and "format" in response.json()["error"]
