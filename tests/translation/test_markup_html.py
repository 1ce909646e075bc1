"""HTML documents (apps/translation/markup/html.py, segments.py) without a model: a translator
that knows the demo phrases (else writes the text in capitals) stands in for the service. The
markup is kept byte for byte, inline elements move with their words, untranslated elements and
attributes are never sent to the model, and BeautifulSoup reads the same tag tree back."""

import pytest

from apps.translation.markup.html import parse_html
from tests.translation.markup_structure import html_structure
from textserve.demo_phrases import TRANSLATIONS

# words of the demo sentences with their translations there: what a real model would give for
# them alone (the demo models know only whole sentences)
WORDS = {
    "world": {"fr": "monde", "de": "Welt", "ro": "lume"},
    "cat": {"fr": "chat", "de": "Katze", "ro": "Pisica"},
    "sofa": {"fr": "canapé", "de": "Sofa", "ro": "canapea"},
    "the train station": {"fr": "la gare", "de": "der Bahnhof", "ro": "gara"},
}


def known(lang: str = "fr"):
    """A translator that knows the demo sentences and WORDS, and writes anything else in capitals."""
    phrases = {english: by_lang[lang] for english, by_lang in (*TRANSLATIONS.items(), *WORDS.items())}
    return lambda text: phrases.get(text, text.upper())


def translate(document: str, lang: str = "fr", translator=None) -> tuple[str, list[list[str]]]:
    """The document translated as the service does it (first the segments' texts, then the text
    runs of those whose inline elements were not found), and the texts each round sent."""
    translator = translator or known(lang)
    parsed = parse_html(document)
    first = parsed.texts()
    more = parsed.fallback_texts([translator(text) for text in first])
    return parsed.render([translator(text) for text in more]), [first, more]


TRICKY = [
    "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>Hello world!</title>\r\n"
    "<style>p > b { color: red }</style></head>\n<body>\n",
    "<p class=\"a  b\" data-x='1'>Hello <B>world</B>!</p><!-- a comment --><p>Good morning.",
    "<ul><li>Thank you very much.<li>How are you?</ul><p>The cat sleeps on the sofa.</i></p>",
    "<script>if (a < b && c) { document.write('<p>x</p>') }</script><br/><hr>",
    "<p>Tom&nbsp;&amp;&#8212;Jerry &copy; 2024 &lt;3 &gt; 2</p><?php echo 1 ?><![CDATA[ x ]]>",
    "<table><tr><td>Where is the train station?</td><td>12:30</td></tr></table>",
    "<p>unclosed <b>bold at the end",
]


@pytest.mark.parametrize("document", TRICKY)
def test_translating_every_text_into_itself_gives_the_document_back_byte_for_byte(document):
    assert translate(document, translator=lambda text: text)[0] == document


@pytest.mark.parametrize("document", TRICKY)
def test_the_tag_tree_and_the_untranslated_contents_survive_a_translation(document):
    translated, _ = translate(document)
    assert html_structure(translated) == html_structure(document)


@pytest.mark.parametrize(
    ("document", "lang", "expected"),
    [
        ("<p>Hello <b>world</b>!</p>", "fr", "<p>Bonjour le <b>monde</b> !</p>"),
        ("<p>Hello <b>world</b>!</p>", "de", "<p>Hallo <b>Welt</b>!</p>"),
        (
            'The <i>cat</i> sleeps on the <a href="/sofa?a=1&amp;b=2">sofa</a>.',
            "fr",
            'Le <i>chat</i> dort sur le <a href="/sofa?a=1&amp;b=2">canapé</a>.',
        ),
        ("<h1>Where is <em>the train station</em>?</h1>", "ro", "<h1>Unde este <em>gara</em>?</h1>"),
    ],
)
def test_inline_elements_go_around_their_words_in_the_translation(document, lang, expected):
    translated, (_, more) = translate(document, lang)
    assert translated == expected
    assert more == []  # one round: the whole and each element's words


def test_an_element_whose_words_are_not_found_has_each_text_run_translated_in_place():
    translated, (first, more) = translate("<p>The <b>weather</b> is nice today.</p>")
    assert first == ["The weather is nice today.", "weather"]  # "Il fait beau ...", "WEATHER"
    assert more == ["The", "weather", "is nice today."]
    assert translated == "<p>THE <b>WEATHER</b> IS NICE TODAY.</p>"


def test_nested_inline_elements_are_translated_apart_in_place():
    document = '<p>Good morning. <a href="/x"><b>Hello</b> world!</a></p>'
    translated, (first, more) = translate(document)
    assert first == ["Good morning.", "Hello", "world!"] and more == []
    assert translated == '<p>Bonjour. <a href="/x"><b>HELLO</b> WORLD!</a></p>'


def test_an_element_around_a_whole_sentence_stays_around_it():
    document = "<p> <i><em>Where is <a href='/g'>the train station</a>?</em></i></p>"
    translated, (first, more) = translate(document)
    assert first == ["Where is the train station?", "the train station"] and more == []
    assert translated == "<p> <i><em>Où est <a href='/g'>la gare</a> ?</em></i></p>"


def test_code_scripts_and_anything_marked_not_to_translate_never_reach_the_model():
    document = (
        "<p>Good morning.</p><pre>Hello world!</pre><p><code>Hello world!</code></p>"
        '<div translate="no">Good morning.</div><p class="x notranslate">How are you?</p>'
        '<script>var s = "Good morning.";</script><style>/* Good morning. */</style>'
        '<p title="Hello world!"><img alt="Hello world!" src="a.png"></p>'
    )
    translated, (first, more) = translate(document)
    assert first == ["Good morning."] and more == []
    assert translated == document.replace("<p>Good morning.</p>", "<p>Bonjour.</p>", 1)


def test_an_untranslated_element_inside_a_sentence_moves_with_it_when_the_model_copies_it():
    copy_code = known()

    def translator(text):
        return "Lancez make run maintenant." if text == "Run make run now." else copy_code(text)

    translated, (first, more) = translate("<p>Run <code>make run</code> now.</p>", translator=translator)
    assert first == ["Run make run now."] and more == []
    assert translated == "<p>Lancez <code>make run</code> maintenant.</p>"


def test_a_mastodon_status_keeps_its_mentions_hashtags_and_links_untranslated():
    status = (
        '<p>Good morning. <span class="h-card" translate="no"><a href="https://mastodon.social/@alice" '
        'class="u-url mention">@<span>alice</span></a></span> The weather is nice today. '
        '<a href="https://mastodon.social/tags/beach" class="mention hashtag" rel="tag">'
        "#<span>beach</span></a>"
        '</p><p><a href="https://example.org/" target="_blank" rel="nofollow noopener noreferrer" '
        'translate="no"><span class="invisible">https://</span><span class="">example.org</span>'
        '<span class="invisible"></span></a></p>'
    )
    translated, (first, more) = translate(status)
    # the mention and the hashtag move with the sentences where the model copies them; here it
    # does not (an unknown text comes back in capitals), so the sentences are translated apart
    assert first == ["Good morning. @alice The weather is nice today. #beach"]
    assert more == ["Good morning.", "The weather is nice today."]
    assert translated == status.replace("Good morning.", "Bonjour.").replace(
        "The weather is nice today.", "Il fait beau aujourd'hui."
    )
    assert html_structure(translated) == html_structure(status)


def test_entities_of_the_source_are_written_as_entities_in_the_translation():
    translated, _ = translate("<p>Hello&nbsp;world! &copy;</p>", translator=lambda text: f"{text} ©")
    assert translated == "<p>Hello&nbsp;world! &copy; &copy;</p>"
    translated, _ = translate("<p>Hello world!</p>", translator=lambda text: "a < b & c")
    assert translated == "<p>a &lt; b &amp; c</p>"


def test_text_without_letters_is_kept_as_it_is():
    document = "<p>2024 &mdash; 12:30</p><p> </p><td>&nbsp;</td>"
    translated, (first, more) = translate(document)
    assert first == [] and more == [] and translated == document


def test_inline_elements_nested_thousands_deep_are_kept_and_the_text_translated():
    document = "<p>" + "<b>" * 5000 + "Good morning." + "</b>" * 5000 + "</p>"
    translated, _ = translate(document)
    assert translated == document.replace("Good morning.", "Bonjour.")
