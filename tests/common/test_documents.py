"""Splitting texts into sentences and model-sized pieces, and putting outputs back in place."""

import pytest

from apps.common.documents import fit_window, pack_windows, split_sentences
from apps.common.errors import InputTooLargeError
from textserve.demo_phrases import TRANSLATIONS


def test_abbreviations_numbers_and_quotes_do_not_end_sentences():
    text = (
        "Dr. Smith moved to Washington D.C. in Jan. last year. He paid $3.50, e.g. for coffee. "
        'She said "Stop." Then she left... The U.S. team won at 9 p.m. on Friday.'
    )
    assert split_sentences(text).sentences == [
        "Dr. Smith moved to Washington D.C. in Jan. last year.",
        "He paid $3.50, e.g. for coffee.",
        'She said "Stop."',
        "Then she left...",
        "The U.S. team won at 9 p.m. on Friday.",
    ]


def test_every_demo_phrase_is_one_sentence():
    text = " ".join(TRANSLATIONS)
    assert split_sentences(text).sentences == list(TRANSLATIONS)


def test_line_breaks_end_sentences_and_rejoin_keeps_the_layout():
    text = "Title\n\nFirst one. Second one!\n- an item\n- another item\n\n\nLast one?  Yes."
    document = split_sentences(text)
    assert document.sentences == [
        "Title",
        "First one.",
        "Second one!",
        "- an item",
        "- another item",
        "Last one?",
        "Yes.",
    ]
    assert document.rejoin(document.sentences) == text
    assert document.rejoin([s.upper() for s in document.sentences]) == text.upper()


def test_outer_whitespace_is_dropped_and_blank_text_has_no_sentences():
    assert split_sentences("  \n Hello world!  \n").sentences == ["Hello world!"]
    assert split_sentences("Hello world!").rejoin(["Bonjour le monde !"]) == "Bonjour le monde !"
    assert split_sentences(" \n\n ").sentences == []


def test_rejoin_needs_one_output_per_sentence():
    with pytest.raises(ValueError, match="1 outputs for 2 sentences"):
        split_sentences("One. Two.").rejoin(["Un."])


def chars(piece: str) -> int:  # a stand-in tokenizer: one token per character
    return len(piece)


def test_a_sentence_over_the_window_is_cut_at_spaces_into_the_longest_pieces_that_fit():
    document = fit_window(split_sentences("aa bb cc dd ee ff gg. Short."), chars, 8)
    assert document.sentences == ["aa bb cc", "dd ee ff", "gg.", "Short."]
    assert document.rejoin(document.sentences) == "aa bb cc dd ee ff gg. Short."  # no word lost


def test_a_word_over_the_window_is_413_naming_it():
    with pytest.raises(InputTooLargeError, match="the word 'abcdefghij'"):
        fit_window(split_sentences("ok abcdefghij ok"), chars, 8)


def test_pack_windows_keeps_order_and_fills_each_window():
    sentences = ["aaaa.", "bbbb.", "cccc.", "dddd.", "eeeeeeeeeee."]
    chunks = pack_windows(sentences, chars, 12)
    assert chunks == ["aaaa. bbbb.", "cccc. dddd.", "eeeeeeeeeee."]
    assert " ".join(chunks) == " ".join(sentences)
    assert pack_windows([], chars, 12) == []


def test_pack_windows_with_a_prefix_counts_it_once_per_chunk():
    def with_prefix(piece: str) -> int:
        return len("summarize: " + piece) + 1

    sentences = ["one two three.", "four five.", "six seven eight nine.", "ten."]
    chunks = pack_windows(sentences, with_prefix, 40)
    assert all(with_prefix(chunk) <= 40 for chunk in chunks)
    assert chunks == ["one two three. four five.", "six seven eight nine. ten."]


def test_a_chunk_whose_joined_count_is_over_the_estimate_is_halved():
    def spaces_cost_five(piece: str) -> int:
        return len(piece) + 5 * piece.count(" ")

    chunks = pack_windows(["aa.", "bb.", "cc.", "dd."], spaces_cost_five, 12)
    assert chunks == ["aa. bb.", "cc. dd."]
