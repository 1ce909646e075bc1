"""POST /translate/file and the Translator's `translate_file`: each document type comes back in
its type with its structure (text layout, tags, cue timings, run formatting) and the demo models'
exact answers; what is refused, and how (415 naming the accepted types, 413 per type and for a
file's text, 422 for text that is not UTF-8, 415 for a body that is not multipart)."""

import io

import docx
import pytest
import srt
from ray import serve

from apps.translation.files import translated_name
from tests.translation.markup_structure import html_structure, markdown_structure
from tests.translation.test_markup_docx import report, runs
from tests.translation.test_markup_routes import README
from tests.translation.test_markup_srt import SUBTITLES
from textserve.demo_phrases import MARKED_UP

NOTES = "\ufeffHello world!\n\n  Good morning. How are you?\n\n- Thank you very much.\n"
NOTES_FR = "\ufeffBonjour le monde !\n\n  Bonjour. Comment allez-vous ?\n\n- Merci beaucoup.\n"


def post_file(http, name: str, content: bytes, **fields):
    return http.post("/translate/file", files={"file": (name, content)}, data=fields)


def test_a_text_file_keeps_its_layout_and_its_byte_order_mark(http):
    response = post_file(http, "notes.txt", NOTES.encode(), target_lang="fr")
    assert response.status_code == 200, response.text
    assert response.content.decode("utf-8") == NOTES_FR
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-disposition"] == "attachment; filename*=UTF-8''notes.fr.txt"
    assert (response.headers["x-source-lang"], response.headers["x-target-lang"]) == ("en", "fr")


def test_subtitles_keep_their_numbers_and_timings(http):
    response = post_file(http, "film.srt", SUBTITLES.encode(), target_lang="fr")
    assert response.status_code == 200, response.text
    before, after = list(srt.parse(SUBTITLES)), list(srt.parse(response.text))
    assert [(c.index, c.start, c.end) for c in after] == [(c.index, c.start, c.end) for c in before]
    assert after[0].content == "Bonjour le monde !\n<i>Bonjour.</i>"


def test_a_word_document_keeps_every_run_and_its_formatting(http):
    source = report()
    response = post_file(http, "report.docx", source, target_lang="fr", source_lang="auto")
    assert response.status_code == 200, response.text
    assert response.headers["x-detected-language"].startswith("en;")
    before, after = runs(source), runs(response.content)
    assert [[fmt for fmt, _ in p] for p in after] == [[fmt for fmt, _ in p] for p in before]
    assert [text for _, text in after[1]] == ["Bonjour le monde ! ", "Bonjour."]
    assert docx.Document(io.BytesIO(response.content)).tables[0].cell(0, 1).text == "12:30"


def test_html_and_markdown_files_keep_their_markup(http):
    html, by_lang = next(iter(MARKED_UP.items()))
    page = f"<!DOCTYPE html>\n<html><body>{html}</body></html>\n"
    response = post_file(http, "page.html", page.encode(), target_lang="de")
    assert response.text == f"<!DOCTYPE html>\n<html><body>{by_lang['de']}</body></html>\n"
    assert html_structure(response.text) == html_structure(page)
    response = post_file(http, "README.md", README.encode(), target_lang="fr")
    assert response.headers["content-disposition"].endswith("README.fr.md")
    assert markdown_structure(response.text) == markdown_structure(README)


def test_the_handle_translates_a_file_too(apps):
    handle = serve.get_deployment_handle("Translator", app_name="translation")
    answer = handle.translate_file.remote(NOTES.encode(), "notes.txt", "fr").result()
    assert answer["content"].decode() == NOTES_FR
    assert (answer["filename"], answer["source_lang"]) == ("notes.fr.txt", "en")


@pytest.mark.parametrize(
    ("name", "content", "status", "says"),
    [
        ("slides.pptx", b"PK\x03\x04", 415, "send one of .txt, .html, .htm, .md, .markdown, .srt, .docx"),
        ("noname", b"Hello", 415, "a file without a suffix"),
        ("big.srt", b"x" * 262_145, 413, "srt files of at most 262144 bytes"),
        ("long.txt", b"Hello world!\n" * 5_000, 413, "at most 50000 per file"),
        ("latin1.txt", "Grüße".encode("latin-1"), 422, "not UTF-8"),
        ("broken.docx", b"not a zip", 422, "not a Word document"),
    ],
)
def test_a_file_that_cannot_be_translated_is_refused_saying_why(http, name, content, status, says):
    response = post_file(http, name, content, target_lang="fr")
    assert response.status_code == status, response.text
    assert says in response.json()["error"]


@pytest.mark.parametrize(
    ("sent", "answered"),
    [
        ("notes.txt", "notes.fr.txt"),
        ("../../etc/passwd.txt", "passwd.fr.txt"),
        ("C:\\Users\\me\\Report 2024.DOCX", "Report 2024.fr.DOCX"),
        ('a"b\r\nc.srt', "a_b__c.fr.srt"),
    ],
)
def test_the_translation_is_named_after_the_file_without_its_path(sent, answered):
    assert translated_name(sent, "fr") == answered


def test_a_json_body_is_refused_with_the_way_to_send_a_file(http):
    response = http.post("/translate/file", json={"text": "Hello world!"})
    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["error"]
