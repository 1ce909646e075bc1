"""The request schemas the apps publish say what their models accept: for bodies of every shape,
valid by the published JSON Schema exactly when the request model accepts them (value limits of a
deployment's configuration aside, which tests/common/test_api_fuzz.py covers over HTTP)."""

import re

import jsonschema
import pytest
from pydantic import ValidationError

from apps.common.schemas import NOT_WHITESPACE
from apps.router.schemas import RouteRequest
from apps.summarization.schemas import SummarizeRequest
from apps.translation.schemas import TranslateRequest

SHAPES = [
    {"text": "Hello world!"},
    {"texts": ["Hello world!", "How are you?"]},
    {"text": "Hello world!", "texts": ["How are you?"]},  # both: refused, and schema-invalid
    {},
    {"text": None},
    {"texts": None},
    {"text": "Hello", "texts": None},
    {"texts": []},
    {"text": " \t\n"},
    {"text": "\u0085\u0085"},  # NEL: whitespace to Python, text to ECMA's \S
    {"text": "\ufeff"},  # BOM: text to Python, whitespace to ECMA's \S
    {"text": 42},
    {"text": "Hello", "unknown": 1},
]
LENGTHS = [  # summarize's max_length, on /summarize and the router
    {"text": "Hello", "max_length": 60.0},  # an integer by JSON Schema: accepted as 60
    {"text": "Hello", "max_length": 60.5},
    {"text": "Hello", "max_length": 0},
    {"text": "Hello", "max_length": "60"},
    {"text": "Hello", "max_length": True},
]
STREAMS = [  # the router streams one leaf app's answer only
    {"text": "Hello", "stream": True},
    {"text": "Hello", "stream": True, "task": "summarize"},
    {"text": "Hello", "stream": True, "task": "summarize_then_translate"},
    {"text": "Hello", "stream": False, "task": "summarize_then_translate"},
]
CASES = (
    [(model, body) for model in (TranslateRequest, SummarizeRequest, RouteRequest) for body in SHAPES]
    + [(model, body) for model in (SummarizeRequest, RouteRequest) for body in LENGTHS]
    + [(RouteRequest, body) for body in STREAMS]
)


def accepted(model, body) -> bool:
    try:
        model.model_validate(body)
        return True
    except ValidationError:
        return False


@pytest.mark.parametrize(("model", "body"), CASES, ids=lambda v: getattr(v, "__name__", repr(v)))
def test_the_schema_says_yes_exactly_where_the_model_does(model, body):
    valid = jsonschema.Draft202012Validator(model.model_json_schema()).is_valid(body)
    assert valid == accepted(model, body), (model.__name__, body)


def test_the_schema_refuses_text_and_texts_together():
    schema = TranslateRequest.model_json_schema()
    assert not jsonschema.Draft202012Validator(schema).is_valid({"text": "a", "texts": ["b"]})
    assert schema["oneOf"] == [{"required": ["text"]}, {"required": ["texts"]}]


def test_the_not_whitespace_pattern_agrees_with_python_for_every_character():
    pattern = re.compile(NOT_WHITESPACE)
    for code in range(0x10000):
        if 0xD800 <= code < 0xE000:
            continue  # lone surrogates are refused on their own (not characters)
        assert bool(pattern.search(chr(code))) != chr(code).isspace(), hex(code)
