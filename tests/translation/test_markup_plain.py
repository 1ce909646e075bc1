"""Plain-text documents (apps/translation/markup/plain.py) without a model: each line translated
in its place, the layout (blank lines, indentation, list and quote markers, CRLF line ends, the
last newline or none) kept byte for byte."""

import pytest

from apps.translation.markup.plain import parse_text


def translate(source: str, translator) -> str:
    document = parse_text(source)
    more = document.fallback_texts([translator(text) for text in document.texts()])
    return document.render([translator(text) for text in more])


@pytest.mark.parametrize(
    "source",
    [
        "Hello world!\n\n  Good morning.\n",
        "Title\r\n=====\r\n\r\n- one item\r\n1. another\r\n> quoted\r\n",
        "no newline at the end",
        "\n\n   \n\t12:30\n",
    ],
)
def test_the_layout_comes_back_byte_for_byte(source):
    assert translate(source, lambda text: text) == source


def test_each_line_is_translated_without_its_marker_or_its_spacing():
    source = "  - Hello world!\r\n\r\n> Good morning.\n3) How are you?\n===\n"
    sent = parse_text(source).texts()
    assert sent == ["Hello world!", "Good morning.", "How are you?"]
    assert translate(source, str.upper) == "  - HELLO WORLD!\r\n\r\n> GOOD MORNING.\n3) HOW ARE YOU?\n===\n"
