"""Word documents (apps/translation/markup/word.py) without a model: the translation is written
into the paragraphs' own runs, so every run keeps its formatting (python-docx reads the same runs
back); a bold or italic run's words are carried to its translation, in the source's order, or
each run is translated in its place; tables, headers, pictures' runs and the rest are kept."""

import io
import zipfile

import docx
import pytest
from docx.shared import Pt, RGBColor

from apps.common.documents import split_sentences
from apps.common.errors import InputTooLargeError, UserInputError
from apps.translation.markup.word import MAX_UNPACKED_BYTES, look, parse_docx
from tests.translation.test_markup_html import known


def by_sentence(translator):
    """`translator` applied sentence by sentence, as the service decodes a text."""

    def translate_sentences(text: str) -> str:
        document = split_sentences(text)
        return document.rejoin([translator(sentence) for sentence in document.sentences])

    return translate_sentences


def translate(content: bytes, translator) -> tuple[bytes, list[list[str]]]:
    document = parse_docx(content)
    first = document.texts()
    more = document.fallback_texts([translator(text) for text in first])
    return document.render([translator(text) for text in more]), [first, more]


def saved(document) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def report() -> bytes:
    """A document with bold, italic, coloured and sized runs, a heading, a table, a header."""
    document = docx.Document()
    document.add_heading("Good morning.", level=1)
    paragraph = document.add_paragraph("Hello world! ")
    paragraph.add_run("Good morning.").bold = True
    paragraph = document.add_paragraph()
    run = paragraph.add_run("Thank you very much.")
    run.italic, run.font.size, run.font.color.rgb = True, Pt(14), RGBColor(0x99, 0x00, 0x00)
    paragraph.add_run(" ")
    paragraph.add_run("How are you?")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Where is the train station?"
    table.cell(0, 1).text = "12:30"
    merged = table.cell(1, 0).merge(table.cell(1, 1))
    merged.text = "The shop closes at six."
    document.sections[0].header.paragraphs[0].text = "The library stays open late."
    return saved(document)


def runs(content: bytes) -> list[list[tuple]]:
    """Every paragraph's runs: (formatting, text), body, table cells and header."""
    document = docx.Document(io.BytesIO(content))
    paragraphs = [*document.paragraphs, *document.sections[0].header.paragraphs]
    paragraphs += [p for row in document.tables[0].rows for cell in row.cells for p in cell.paragraphs]
    return [[(look(run), run.text) for run in paragraph.runs] for paragraph in paragraphs]


def test_every_run_keeps_its_formatting_and_gets_its_sentence():
    source = report()
    translated, rounds = translate(source, by_sentence(known("fr")))
    assert rounds[1] == []  # every run's words were found
    before, after = runs(source), runs(translated)
    assert [[fmt for fmt, _ in paragraph] for paragraph in after] == [
        [fmt for fmt, _ in paragraph] for paragraph in before
    ]
    texts = [[text for _, text in paragraph] for paragraph in after]
    assert texts[:3] == [
        ["Bonjour."],
        ["Bonjour le monde ! ", "Bonjour."],
        ["Merci beaucoup.", " Comment allez-vous ?", ""],  # the runs of one look: the first holds it
    ]
    assert texts[3] == ["La bibliothèque reste ouverte tard."]  # the header
    assert texts[4:] == [["Où est la gare ?"], ["12:30"], ["Le magasin ferme à six heures."]] * 1 + [
        ["Le magasin ferme à six heures."]  # the merged cell, listed in both its columns
    ]


def test_runs_whose_words_come_in_another_order_are_each_translated_in_place():
    document = docx.Document()
    paragraph = document.add_paragraph("The ")
    paragraph.add_run("red").bold = True
    paragraph.add_run(" car and the ")
    paragraph.add_run("old").italic = True
    paragraph.add_run(" house.")
    swapped = {  # the whole's words with the elements' in the other order
        "The red car and the old house.": "La vieille maison et la voiture rouge.",
        "red": "rouge",
        "old": "vieille",
    }
    translated, rounds = translate(saved(document), lambda text: swapped.get(text, text.upper()))
    assert rounds[1] == ["The", "red", "car and the", "old", "house."]
    after = docx.Document(io.BytesIO(translated)).paragraphs[0].runs
    assert [(run.text, run.bold, run.italic) for run in after] == [
        ("THE ", None, None),
        ("rouge", True, None),
        (" CAR AND THE ", None, None),
        ("vieille", None, True),
        (" HOUSE.", None, None),
    ]


def test_a_document_whose_text_is_kept_comes_back_with_the_same_runs_and_texts():
    source = report()
    translated, _ = translate(source, lambda text: text)
    before, after = runs(source), runs(translated)
    assert [[fmt for fmt, _ in p] for p in after] == [[fmt for fmt, _ in p] for p in before]
    assert ["".join(text for _, text in p) for p in after] == ["".join(text for _, text in p) for p in before]


def test_a_document_that_unpacks_to_too_much_is_refused_before_it_is_read():
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("word/document.xml", b" " * (MAX_UNPACKED_BYTES + 1))  # ~65 KB zipped
    with pytest.raises(InputTooLargeError, match="unpacks to"):
        parse_docx(bomb.getvalue())


def with_part(content: bytes, name: str, data: bytes) -> bytes:
    """The .docx `content` with its part `name` replaced by `data`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w") as copy:
        for item in source.infolist():
            copy.writestr(item, data if item.filename == name else source.read(item.filename))
    return out.getvalue()


@pytest.mark.parametrize(
    ("part", "data"),
    [
        (None, None),  # not a zip
        ("word/document.xml", b"<broken"),
        ("[Content_Types].xml", b"<x/>"),
        ("word/document.xml", b"<?xml version='1.0'?><!DOCTYPE a [<!ENTITY b 'c'>]><a>&b;</a>"),
    ],
)
def test_a_file_that_is_not_a_word_document_is_refused_saying_so(part, data):
    content = b"PK\x03\x04 not really a zip" if part is None else with_part(report(), part, data)
    with pytest.raises(UserInputError, match="not a Word document"):
        parse_docx(content)
