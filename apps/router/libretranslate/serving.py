"""LibreTranslate's routes' work: each request becomes the translation app's handle call (the
same batching, classes, deadlines, cache and limits as POST /translate), and its answer becomes
LibreTranslate's."""

from __future__ import annotations

from apps.common.languages import language_name
from apps.common.request_guard import api_keys
from apps.router.leaf_client import LeafDeadline
from apps.router.libretranslate.protocol import (
    AUTO,
    DetectBody,
    Detection,
    FrontendLanguages,
    FrontendSettings,
    LanguageTargets,
    NamedLanguage,
    TranslateAnswer,
    TranslateBody,
)
from apps.router.service import RouterService

FRONTEND_TIMEOUT_MS = 500  # what LibreTranslate's own frontend waits after a keystroke


def detection(found: dict) -> Detection:
    """The translation app's `{language, confidence}` as LibreTranslate's (confidence 0..100)."""
    return Detection(language=found["language"], confidence=round(found["confidence"] * 100, 2))


class LibreTranslateService:
    def __init__(self, router: RouterService):
        self.router = router

    async def translate(self, body: TranslateBody, deadline: LeafDeadline) -> TranslateAnswer:
        """`q` translated by the translation app; with `source: "auto"`, the language it detected
        (one per text of a list: a request's texts are taken to be in one language)."""
        answer = await self.router.translate(
            body.q, body.target, None, deadline, body.source, text_format=body.format
        )
        many = isinstance(body.q, list)
        translated = answer["translations"] if many else answer["translation"]
        fields: dict = {"translatedText": translated}
        if body.source == AUTO:
            found = detection(answer["detected_language"])
            fields["detectedLanguage"] = [found] * len(body.q) if many else found
        if body.alternatives > 0:
            fields["alternatives"] = [[] for _ in body.q] if many else []
        return TranslateAnswer(**fields)

    async def detect(self, body: DetectBody, deadline: LeafDeadline) -> list[Detection]:
        """The language of `q` (of a list's texts together), as LibreTranslate's list of candidates."""
        text = "\n".join(body.q) if isinstance(body.q, list) else body.q
        answer = await self.router.detect(text, deadline)
        return [detection(answer["detection"])]

    async def languages(self, deadline: LeafDeadline) -> list[LanguageTargets]:
        answer = await self.router.languages(deadline)
        return [LanguageTargets(**language) for language in answer["languages"]]

    async def frontend_settings(self, deadline: LeafDeadline) -> FrontendSettings:
        """What LibreTranslate's web frontend reads first: limits, keys, file formats, and the
        default languages (from the translation app's catalog)."""
        answer = await self.router.languages(deadline)
        source, target = answer["default_source_lang"], answer["default_target_lang"]
        return FrontendSettings(
            charLimit=answer["max_input_chars"],
            frontendTimeout=FRONTEND_TIMEOUT_MS,
            apiKeys=api_keys().enabled,
            keyRequired=api_keys().enabled,
            suggestions=False,
            filesTranslation=False,
            supportedFilesFormat=[],
            language=FrontendLanguages(
                source=NamedLanguage(code=source, name=language_name(source)),
                target=NamedLanguage(code=target, name=language_name(target)),
            ),
        )
