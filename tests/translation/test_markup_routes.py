"""`format: "html"` and `"markdown"` on POST /translate and the Translator's handle, with the demo
models' exact answers (textserve.demo_phrases.MARKED_UP): elements carried with their sentences,
a status translated run by run, detection on the text (not the tags), and what a marked-up
request cannot do (stream)."""

import pytest
from ray import serve

from tests.router.test_libretranslate import STATUS, STATUS_DE
from tests.translation.markup_structure import html_structure, markdown_structure
from textserve.demo_phrases import MARKED_UP

README = (
    "# *Hello world!*\n\n- Good morning. **Thank you very much.**\n- Run `make run`.\n\n"
    "```\nHello world!\n```\n\n[Where is the train station?](https://example.org/map 'Map')\n"
)
CASES = [(html, lang, out) for html, by_lang in MARKED_UP.items() for lang, out in by_lang.items()]


@pytest.mark.parametrize(("html", "lang", "expected"), CASES)
def test_html_comes_back_with_its_markup_and_each_element_on_its_sentence(http, html, lang, expected):
    response = http.post("/translate", json={"text": html, "format": "html", "target_lang": lang})
    assert response.status_code == 200, response.text
    assert response.json()["translation"] == expected


def test_a_status_with_a_mention_and_a_hashtag_is_translated_run_by_run(http):
    body = {"texts": [STATUS], "format": "html", "source_lang": "auto", "target_lang": "de"}
    answer = http.post("/translate", json=body).json()
    assert answer["translations"] == [STATUS_DE]
    assert answer["detected_language"]["language"] == "en"  # from its text, not its tags
    assert html_structure(answer["translations"][0]) == html_structure(STATUS)


def test_markdown_keeps_its_code_and_carries_emphasis_and_links(http):
    answer = http.post("/translate", json={"text": README, "format": "markdown", "target_lang": "fr"}).json()
    translated = answer["translation"]
    assert translated.startswith("# *Bonjour le monde !*\n\n- Bonjour. **Merci beaucoup.**\n- ")
    assert translated.endswith(
        '```\nHello world!\n```\n\n[Où est la gare ?](https://example.org/map "Map")\n'
    )
    assert markdown_structure(translated) == markdown_structure(README)


def test_the_handle_takes_the_format_too(apps):
    handle = serve.get_deployment_handle("Translator", app_name="translation")
    html, by_lang = next(iter(MARKED_UP.items()))
    assert handle.translate.remote(html, "ro", format="html").result()["translation"] == by_lang["ro"]


def test_a_marked_up_request_cannot_stream(http):
    body = {"text": "<p>Hello world!</p>", "format": "html", "stream": True}
    response = http.post("/translate", json=body)
    assert response.status_code == 422 and 'send format "text"' in response.json()["error"]
    response = http.post("/translate", json={"text": "Hello world!", "format": "docx"})
    assert response.status_code == 422 and "format" in response.json()["error"]
