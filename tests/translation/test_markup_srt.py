"""SubRip subtitles (apps/translation/markup/srt.py) without a model: every cue's number and
timings come back equal (read by `srt`), its text translated whole and broken into as many lines
as it had, its inline tags carried; the file comes back byte for byte when its text is kept."""

import pytest
import srt

from apps.common.errors import UserInputError
from apps.translation.markup.srt import parse_srt, wrap
from tests.translation.test_markup_html import known

SUBTITLES = (
    "1\n00:00:01,000 --> 00:00:02,500\nHello world!\n<i>Good morning.</i>\n\n"
    "2\n00:00:03,000 --> 00:00:05,250 X1:100 X2:200\nWhere is the train station?\n\n"
    "3\n00:01:00,000 --> 00:01:02,000\n♪ ♪\n\n"
    "4\n01:00:00,000 --> 01:00:01,000\nThank you very much.\n"
)


def translate(source: str, translator) -> str:
    document = parse_srt(source)
    more = document.fallback_texts([translator(text) for text in document.texts()])
    return document.render([translator(text) for text in more])


def test_numbers_and_timings_are_kept_and_each_cue_keeps_its_line_count():
    translated = translate(SUBTITLES, known("fr"))
    before, after = list(srt.parse(SUBTITLES)), list(srt.parse(translated))
    assert [(c.index, c.start, c.end, c.proprietary) for c in after] == [
        (c.index, c.start, c.end, c.proprietary) for c in before
    ]
    assert [c.content for c in after] == [
        "Bonjour le monde !\n<i>Bonjour.</i>",
        "Où est la gare ?",
        "♪ ♪",
        "Merci beaucoup.",
    ]


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_a_file_whose_text_is_kept_comes_back_byte_for_byte(eol):
    source = SUBTITLES.replace("\n", eol)
    assert translate(source, lambda text: text) == source


def test_a_long_translation_is_broken_at_the_space_nearest_an_even_split_never_in_a_tag():
    assert wrap("Bonjour le <i>monde entier</i>, comment allez-vous ?", 2) == (
        "Bonjour le <i>monde entier</i>,\ncomment allez-vous ?"
    )
    assert wrap("un deux trois quatre cinq six", 3) == "un deux\ntrois quatre\ncinq six"
    assert wrap("mot", 2) == "mot"  # no space: one line


def test_a_file_that_is_not_subrip_is_refused_saying_so():
    with pytest.raises(UserInputError, match="not SubRip"):
        parse_srt("<html>not subtitles</html>")
