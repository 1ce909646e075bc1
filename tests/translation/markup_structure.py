"""What must survive a translation of a marked-up document, as a comparable value: for HTML, the
tag tree (names, attributes, nesting, comments) with the text of untranslated elements byte for
byte, read by BeautifulSoup (not our tokenizer); for Markdown, markdown-it's block and inline
tokens with link targets, code and HTML as they are."""

from bs4 import BeautifulSoup, Comment, Doctype, NavigableString, Tag

from apps.translation.markup.markdown import markdown_parser

UNTRANSLATED = {"code", "pre", "kbd", "samp", "script", "style", "textarea", "template", "svg", "math"}


def _kept(tag: Tag) -> bool:
    classes = tag.get("class") or []
    return tag.name in UNTRANSLATED or tag.get("translate", "").lower() == "no" or "notranslate" in classes


def _node(node, kept: bool):
    if isinstance(node, (Comment, Doctype)):
        return (type(node).__name__, str(node))
    if isinstance(node, NavigableString):  # translated text (its punctuation too) as "#text"
        text = str(node)
        if kept:
            return text
        return "#text" if text.strip() else ""
    kept = kept or _kept(node)
    attrs = tuple(sorted((k, " ".join(v) if isinstance(v, list) else v) for k, v in node.attrs.items()))
    return (node.name, attrs, tuple(_node(child, kept) for child in node.children))


def html_structure(document: str) -> tuple:
    """The tag tree of `document`: translated text as "#text", everything else as it is."""
    soup = BeautifulSoup(document, "html.parser")
    return tuple(_node(child, False) for child in soup.children)


def _token(token) -> tuple:
    kept = token.type in ("code_inline", "fence", "code_block", "html_block", "html_inline")
    content = token.content if kept else ("#text" if any(ch.isalpha() for ch in token.content) else "")
    attrs = tuple(sorted((k, str(v)) for k, v in (token.attrs or {}).items()))
    children = tuple(
        _token(child) for child in token.children or () if child.type not in ("text", "softbreak")
    )
    return (token.type, token.tag, token.markup, attrs, content if not token.children else "", children)


def markdown_structure(document: str) -> tuple:
    """markdown-it's tokens of `document`: types, tags, markers, attributes (link targets), code
    and HTML as they are; text left out (translated)."""
    return tuple(_token(token) for token in markdown_parser().parse(document))
