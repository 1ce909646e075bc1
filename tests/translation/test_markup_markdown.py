"""Markdown documents (apps/translation/markup/markdown.py) without a model, as in
test_markup_html.py: block markers, code, HTML, link targets and reference definitions kept, the
text of each block translated with its emphasis and links carried to the right words, and
markdown-it reads the same structure back."""

import pytest

from apps.translation.markup.markdown import parse_markdown
from tests.translation.markup_structure import markdown_structure
from tests.translation.test_markup_html import known

README = """# Hello *world*!

The cat sleeps on the **sofa**. See [the docs](https://example.org/docs "Docs") and `make run`.
Good morning.

- Good morning.
- Thank you very much.
  1. How are you?

> How are you?
> Where is the train station?

```python
print("Hello world!")
```

    indented code: Hello world!

| Phrase | Time |
|---|---:|
| The shop closes at six. | 18:00 |

<div align="center">Hello world!</div>

Hard\\
break and <span>inline html</span> here, <https://example.org/x> and ![a cat](cat.png "The cat").

[ref]: https://example.org/ref
Where is [the train station][ref]?
"""


def translate(document: str, lang: str = "fr", translator=None) -> tuple[str, list[list[str]]]:
    translator = translator or known(lang)
    parsed = parse_markdown(document)
    first = parsed.texts()
    more = parsed.fallback_texts([translator(text) for text in first])
    return parsed.render([translator(text) for text in more]), [first, more]


def test_a_readme_keeps_its_structure_code_html_and_link_targets():
    translated, (first, _) = translate(README)
    assert markdown_structure(translated) == markdown_structure(README)
    sent = " ".join(first)  # code spans and blocks, HTML, link targets: never sent to the model
    assert not any(kept in sent for kept in ("print", "indented", "center", "example.org", "cat.png"))
    for kept in (
        'print("Hello world!")',
        "    indented code: Hello world!",
        '<div align="center">Hello world!</div>',
    ):
        assert kept in translated
    assert "[ref]: https://example.org/ref" in translated


def test_translating_every_text_into_itself_keeps_the_structure():
    translated, _ = translate(README, translator=lambda text: text)
    assert markdown_structure(translated) == markdown_structure(README)


@pytest.mark.parametrize(
    ("document", "lang", "expected"),
    [
        ("# Hello *world*!\n", "fr", "# Bonjour le *monde* !\n"),
        ("Hello __world__!", "de", "Hallo __Welt__!"),
        (
            "The *cat* sleeps on the [sofa](https://example.org/a_(b) 'Sofa').\n",
            "fr",
            'Le *chat* dort sur le [canapé](<https://example.org/a_(b)> "Sofa").\n',
        ),
        ("- Where is ~~the train station~~?\n", "ro", "- Unde este ~~gara~~?\n"),
        (
            "| Hello *world*! |\n|---|\n| Good morning. |\n",
            "de",
            "| Hallo *Welt*! |\n|---|\n| Guten Morgen. |\n",
        ),
    ],
)
def test_emphasis_and_links_go_around_their_words(document, lang, expected):
    translated, (_, more) = translate(document, lang)
    assert translated == expected and more == []
    assert markdown_structure(translated) == markdown_structure(document)


def test_a_paragraph_over_several_lines_comes_back_on_one():
    translated, (first, _) = translate("> How are you?\n> Good morning.\n\nnext")
    assert first == ["How are you? Good morning.", "next"]
    assert translated == "> HOW ARE YOU? GOOD MORNING.\n\nNEXT"


def test_translated_text_that_looks_like_markup_is_escaped():
    translated, _ = translate("Good morning.", translator=lambda text: "a *b* [c] `d` <e> | f_g")
    assert translated == r"a \*b\* \[c\] \`d\` \<e> \| f\_g"
    assert markdown_structure(translated) == markdown_structure("Good morning.")
