"""Source language detection: POST /translate/detect and `source_lang: "auto"`, through HTTP, the
router and a handle, with lingua's detector restricted to the catalog's source languages."""

import pytest
from ray import serve

from apps.translation.detection import LanguageDetector, detectable


def test_the_detector_chooses_only_among_the_languages_it_is_given():
    among_two = LanguageDetector({"en", "de"})
    assert among_two.detect("Guten Morgen.").language == "de"
    assert among_two.detect("¡Hola mundo! Buenos días.").language in {"en", "de"}  # never es
    assert among_two.detect("12345 67") is None  # nothing in it tells
    assert detectable({"en", "de", "zt", "xx"}) == {"en", "de"}  # what lingua knows


def test_detect_gives_each_texts_language_and_confidence(http):
    response = http.post(
        "/translate/detect", json={"texts": ["Guten Morgen.", "Merci beaucoup.", "Buenos días."]}
    )
    assert response.status_code == 200, response.text
    detections = response.json()["detections"]
    assert [d["language"] for d in detections] == ["de", "fr", "es"]
    assert all(0.5 < d["confidence"] <= 1 for d in detections)
    one = http.post("/translate/detect", json={"text": "Good morning."}).json()
    assert set(one) == {"detection"} and one["detection"]["language"] == "en"


def test_a_text_that_tells_nothing_is_the_default_language_with_no_confidence(http):
    answer = http.post("/translate/detect", json={"text": "12345"}).json()
    assert answer == {"detection": {"language": "en", "confidence": 0.0}}


def test_the_handle_detects_as_the_route_does(http, apps):
    handle = serve.get_deployment_handle("Translator", app_name="translation")
    body = {"texts": ["Hallo Welt!", "Hello world!"]}
    assert handle.detect.remote(body["texts"]).result() == http.post("/translate/detect", json=body).json()


@pytest.mark.parametrize("path", ["/translate", "/"])
def test_auto_translates_from_the_detected_language_and_says_which(http, path):
    body = {"text": "Guten Morgen. Wo ist der Bahnhof?", "source_lang": "auto", "target_lang": "en"}
    response = http.post(path, json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["translation"] == "Good morning. Where is the train station?"
    assert answer["source_lang"] == "de"
    if path == "/translate":
        assert answer["model"] == "demo:demo-marian-de-en"
        assert (
            answer["detected_language"]["language"] == "de"
            and answer["detected_language"]["confidence"] > 0.5
        )


def test_auto_with_a_target_the_detected_language_cannot_reach_is_422(http):
    body = {"text": "Guten Morgen.", "source_lang": "auto", "target_lang": "de"}
    response = http.post("/translate", json=body)
    assert response.status_code == 422
    assert "source_lang and target_lang are both 'de'" in response.json()["error"]


def test_detect_refuses_what_translate_refuses(http):
    response = http.post("/translate/detect", json={"text": "   "})
    assert response.status_code == 422 and "text is empty" in response.json()["error"]
    assert http.post("/translate/detect", json={"text": "x", "source_lang": "de"}).status_code == 422
