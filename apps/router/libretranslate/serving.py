"""LibreTranslate's routes' work: each request becomes the translation app's handle call (the
same batching, classes, deadlines, cache and limits as POST /translate), and its answer becomes
LibreTranslate's."""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response

from apps.common.deadlines import Caller
from apps.common.errors import UserInputError
from apps.common.languages import language_name
from apps.common.request_guard import api_keys
from apps.common.tenants import current_tenant
from apps.router.file_store import StoredFile
from apps.router.leaf_client import LeafDeadline
from apps.router.libretranslate.protocol import (
    AUTO,
    PREFIX,
    DetectBody,
    Detection,
    FileBody,
    FrontendLanguages,
    FrontendSettings,
    LanguageTargets,
    NamedLanguage,
    TranslateAnswer,
    TranslateBody,
    TranslateFileAnswer,
)
from apps.router.service import RouterService

FRONTEND_TIMEOUT_MS = 500  # what LibreTranslate's own frontend waits after a keystroke


def detection(found: dict) -> Detection:
    """The translation app's `{language, confidence}` as LibreTranslate's (confidence 0..100)."""
    return Detection(language=found["language"], confidence=round(found["confidence"] * 100, 2))


class FileNotKeptError(UserInputError):
    status_code = 404


class LibreTranslateService:
    """`files`: the router app's TranslatedFiles handle (apps/router/file_store.py)."""

    def __init__(self, router: RouterService, files):
        self.router, self.files = router, files

    async def translate_file(self, body: FileBody, caller: Caller, base_url: str) -> TranslateFileAnswer:
        """The file translated by the translation app (its checks: type 415, size 413, and the
        rest, LibreTranslate's 400 here), kept for its tenant; the URL to download it."""
        content, deadline = await body.file.read(), self._deadline(caller)
        answer = await self.router.translate_file(
            content, body.file.filename or "", body.target, body.source, deadline
        )
        name = await self.files.put.remote(
            answer["content"], answer["filename"], answer["media_type"], current_tenant()
        )
        return TranslateFileAnswer(translatedFileUrl=f"{base_url}{PREFIX[1:]}/download_file/{quote(name)}")

    async def download(self, name: str) -> Response:
        """The file `name` if it is kept and this request's tenant made it, else 404."""
        found: StoredFile | None = await self.files.get.remote(name, current_tenant())
        if found is None:
            raise FileNotKeptError(
                "no such file: a translated file is kept for a limited time, for the API key that "
                "made it; translate it again"
            )
        headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(found.filename)}"}
        return Response(found.content, media_type=found.media_type, headers=headers)

    def _deadline(self, caller: Caller) -> LeafDeadline:
        return self.router.deadline(caller.limit_s)

    async def translate(self, body: TranslateBody, caller: Caller) -> TranslateAnswer:
        """`q` translated by the translation app; with `source: "auto"`, the language it detected
        (one per text of a list: a request's texts are taken to be in one language)."""
        answer = await self.router.translate(
            body.q, body.target, None, self._deadline(caller), body.source, text_format=body.format
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

    async def detect(self, body: DetectBody, caller: Caller) -> list[Detection]:
        """The language of `q` (of a list's texts together), as LibreTranslate's list of candidates."""
        text = "\n".join(body.q) if isinstance(body.q, list) else body.q
        answer = await self.router.detect(text, self._deadline(caller))
        return [detection(answer["detection"])]

    async def languages(self, caller: Caller) -> list[LanguageTargets]:
        answer = await self.router.languages(self._deadline(caller))
        return [LanguageTargets(**language) for language in answer["languages"]]

    async def frontend_settings(self, caller: Caller) -> FrontendSettings:
        """What LibreTranslate's web frontend reads first: limits, keys, file formats, and the
        default languages (from the translation app's catalog)."""
        answer = await self.router.languages(self._deadline(caller))
        source, target = answer["default_source_lang"], answer["default_target_lang"]
        return FrontendSettings(
            charLimit=answer["max_input_chars"],
            frontendTimeout=FRONTEND_TIMEOUT_MS,
            apiKeys=api_keys().enabled,
            keyRequired=api_keys().enabled,
            suggestions=False,
            filesTranslation=True,
            supportedFilesFormat=answer["file_types"],
            language=FrontendLanguages(
                source=NamedLanguage(code=source, name=language_name(source)),
                target=NamedLanguage(code=target, name=language_name(target)),
            ),
        )
