"""POST /hf/translation and /hf/summarization with Hugging Face's own client, unchanged:
`huggingface_hub.InferenceClient(model=<textserve URL>)` against the session's apps, the demo
models' exact outputs, and the Inference API's error answers raised as the client raises them."""

import pytest
from huggingface_hub import InferenceClient, constants
from huggingface_hub.errors import HfHubHTTPError

from textserve.demo_phrases import SUMMARIES, TRANSLATIONS

DOCUMENT, SUMMARY = next(iter(SUMMARIES.items()))


@pytest.fixture(scope="module", autouse=True)
def client_online():
    """The client as a user runs it: huggingface_hub refuses every request, to any URL, while
    HF_HUB_OFFLINE=1, which this test process sets for the cluster; this is HF_HUB_OFFLINE=0."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(constants, "HF_HUB_OFFLINE", False)
        yield


@pytest.fixture(scope="module")
def translator(serve_url, apps) -> InferenceClient:
    return InferenceClient(model=f"{serve_url}/hf/translation", timeout=60)


@pytest.fixture(scope="module")
def summarizer(serve_url, apps) -> InferenceClient:
    return InferenceClient(model=f"{serve_url}/hf/summarization", timeout=60)


@pytest.mark.parametrize("lang", ["fr", "de", "ro"])
def test_translation(translator, lang):
    answer = translator.translation("Hello world!", src_lang="en", tgt_lang=lang)
    assert answer.translation_text == TRANSLATIONS["Hello world!"][lang]


def test_translation_without_languages_is_into_the_default(translator):
    assert translator.translation("How are you?").translation_text == TRANSLATIONS["How are you?"]["fr"]


def test_summarization(summarizer):
    assert summarizer.summarization(DOCUMENT).summary_text == SUMMARY
    answer = summarizer.summarization(DOCUMENT, generate_parameters={"max_length": 40, "min_length": 1})
    assert answer.summary_text == SUMMARY


def test_answers_have_the_inference_apis_shape(http):
    response = http.post("/hf/translation", json={"inputs": ["Hello world!", "Good morning."]})
    assert response.json() == [
        {"translation_text": TRANSLATIONS["Hello world!"]["fr"]},
        {"translation_text": TRANSLATIONS["Good morning."]["fr"]},
    ]
    body = {"inputs": DOCUMENT, "parameters": {"truncation": "do_not_truncate"}}
    response = http.post("/hf/summarization", json=body)
    assert response.json() == [{"summary_text": SUMMARY}]


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"src_lang": "en", "tgt_lang": "xx"}, "no model translates en->xx"),
        ({"src_lang": "ro", "tgt_lang": "de"}, "no model translates ro->de"),
        ({"text": "   "}, "text is empty"),
        ({"generate_parameters": {"num_beams": 4}}, "parameters.generate_parameters.num_beams"),
    ],
)
def test_errors_are_the_clients_errors_with_our_message(translator, arguments, says):
    arguments = {"text": "Hello world!", **arguments}
    with pytest.raises(HfHubHTTPError) as raised:
        translator.translation(**arguments)
    assert raised.value.response.status_code == 422
    assert says in raised.value.response.json()["error"]
    assert says in str(raised.value)


def test_a_summary_longer_than_allowed_is_refused(summarizer):
    with pytest.raises(HfHubHTTPError) as raised:
        summarizer.summarization(DOCUMENT, generate_parameters={"max_length": 100000})
    assert raised.value.response.status_code == 422
    assert "max_length 100000 is above this service's limit" in raised.value.response.json()["error"]
