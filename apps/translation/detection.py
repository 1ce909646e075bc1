"""The language of a text, among the catalog's source languages: lingua's detector (its models ship
in its wheel; nothing is downloaded), built on first use for the languages it is given.

Only a text's first `DETECT_CHARS` characters are read: the language of a paragraph is clear well
before that, and a detection then costs well under a millisecond whatever the text's length."""

from __future__ import annotations

import threading
from dataclasses import dataclass

DETECT_CHARS = 1000


@dataclass(frozen=True)
class Detection:
    language: str  # ISO 639-1
    confidence: float  # 0..1: lingua's relative confidence among the languages it chooses from


def detectable(languages: set[str]) -> set[str]:
    """The codes among `languages` lingua knows."""
    from lingua import IsoCode639_1

    return {code for code in languages if hasattr(IsoCode639_1, code.upper())}


class LanguageDetector:
    """Detects among `languages` (ISO 639-1 codes lingua knows; at least two)."""

    def __init__(self, languages: set[str]):
        self.languages = frozenset(languages)
        self._detector = None
        self._building = threading.Lock()

    def _built(self):
        with self._building:
            if self._detector is None:
                from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

                chosen = [
                    Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
                    for code in self.languages
                ]
                self._detector = LanguageDetectorBuilder.from_languages(*chosen).build()
        return self._detector

    def detect(self, text: str) -> Detection | None:
        """The most likely language of `text`, None when nothing in it tells (digits, symbols)."""
        values = self._built().compute_language_confidence_values(text[:DETECT_CHARS])
        if not values or values[0].value <= 0:
            return None
        best = values[0]
        return Detection(best.language.iso_code_639_1.name.lower(), round(best.value, 4))
