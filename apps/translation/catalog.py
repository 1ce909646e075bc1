"""Which model translates a pair: the settings' catalog as routes. A pair a model serves is one
leg on the first model that lists it; a pair none serves, but both halves through `pivot_lang`
do, is two legs (source -> pivot -> target); any other pair is refused, naming what is served."""

from __future__ import annotations

from dataclasses import dataclass

from apps.common.errors import UserInputError
from apps.common.languages import language_name
from apps.translation.config import Pair, TranslationSettings


@dataclass(frozen=True)
class Hop:
    """One model's part of a route: from source_lang to target_lang (apps/common/job.Leg is how
    a job decodes one)."""

    model: str  # the catalog entry's `model`
    source_lang: str
    target_lang: str


@dataclass(frozen=True)
class Route:
    legs: tuple[Hop, ...]

    @property
    def via(self) -> str | None:
        """The pivot language of a pivoted route (None when one model serves the pair)."""
        return self.legs[0].target_lang if len(self.legs) > 1 else None


class Catalog:
    def __init__(self, settings: TranslationSettings):
        self.settings = settings
        self.direct: dict[Pair, str] = {}
        for entry in settings.models:
            for pair in entry.served_pairs():
                self.direct.setdefault(pair, entry.model)
        self.routes: dict[Pair, Route] = {
            pair: Route((Hop(model, *pair),)) for pair, model in self.direct.items()
        }
        pivot = settings.pivot_lang
        if pivot is not None:
            languages = {language for pair in self.direct for language in pair}
            for source in languages:
                for target in languages:
                    pair, first, second = (source, target), (source, pivot), (pivot, target)
                    if (
                        source != target
                        and pair not in self.direct
                        and first in self.direct
                        and second in self.direct
                    ):
                        self.routes[pair] = Route(
                            (Hop(self.direct[first], *first), Hop(self.direct[second], *second))
                        )
        default = (settings.default_source_lang, settings.default_target_lang)
        if default not in self.routes:
            raise ValueError(
                f"no model translates the default pair {default[0]}->{default[1]}; served: {self.served()}"
            )

    def models(self) -> list[str]:
        return [entry.model for entry in self.settings.models]

    def sources(self) -> set[str]:
        """Every language some route translates from."""
        return {source for source, _ in self.routes}

    def route(self, source_lang: str | None, target_lang: str | None) -> Route:
        """The route for a request's pair (the settings' defaults for what it leaves out);
        UserInputError (422) naming the served pairs for one nothing serves."""
        source = source_lang or self.settings.default_source_lang
        target = target_lang or self.settings.default_target_lang
        route = self.routes.get((source, target))
        if route is not None:
            return route
        if source == target:
            raise UserInputError(f"source_lang and target_lang are both '{source}': nothing to translate")
        raise UserInputError(
            f"no model translates {source}->{target}"
            + (f" (not even through {self.settings.pivot_lang})" if self.settings.pivot_lang else "")
            + f"; served pairs: {self.served()} (GET /translate/languages lists them)"
        )

    def served(self) -> str:
        """Every served pair, grouped by source: 'de->en,fr; en->de,fr,ro'."""
        by_source: dict[str, list[str]] = {}
        for source, target in sorted(self.routes):
            by_source.setdefault(source, []).append(target)
        return "; ".join(f"{source}->{','.join(targets)}" for source, targets in by_source.items())

    def languages(self) -> list[dict]:
        """Every source language with its targets (pivoted ones included), as LibreTranslate's
        /languages lists them: code, name, targets."""
        by_source: dict[str, list[str]] = {}
        for source, target in sorted(self.routes):
            by_source.setdefault(source, []).append(target)
        return [
            {"code": source, "name": language_name(source), "targets": targets}
            for source, targets in by_source.items()
        ]
