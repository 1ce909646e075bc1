"""The models a model app serves, as one replica sees them:

- a `ModelCard` for every configured model, read when the settings are applied: its name (what
  answers report), family (prompts, languages) and tokenizer, enough to plan a request for it;
  a model whose card cannot be read is `unavailable`, its requests answered 503 naming it;
- the loaded models, as `Seq2SeqGenerator`s: at most `max_models_per_replica`, loaded on demand,
  the least recently used one unloaded first. In a replica, Serve's model multiplexing holds
  them (`ModelDeployment.loaded_model`), so that requests for a model are routed to a replica
  that holds it; a model is loaded on a thread, so requests for the models held go on meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from apps.common.engines import load_engine, resolve_device
from apps.common.engines.families import Family, family_for
from apps.common.errors import ServiceBusyError
from apps.common.generation import Seq2SeqGenerator
from apps.common.metrics import ModelMetrics, metrics_or_none
from apps.common.model_loading import ModelLoadError, locate_model
from apps.common.settings import ModelAppSettings

logger = logging.getLogger("ray.serve")


class ModelUnavailableError(ServiceBusyError):
    """A configured model cannot be loaded here (503, naming it); other models serve on."""

    retry_after_s = 30


@dataclass(frozen=True)
class ModelCard:
    """What planning a request for a model needs, without its weights."""

    model_id: str  # as configured: a hub id or a directory
    name: str  # what answers report ('demo:...' for a demo model)
    family: Family
    max_input_tokens: int  # the model's window

    def count_tokens(self, text: str) -> int:
        return self.family.count_tokens(text)


def read_card(model_id: str) -> ModelCard:
    """The card of `model_id` (its files found, its family and tokenizer read); ModelLoadError."""
    source = locate_model(model_id)
    try:
        family = family_for(source.local_dir())
        family.check_tokenizer()
    except Exception as exc:
        raise ModelLoadError(f"could not read model '{model_id}': {exc}") from exc
    return ModelCard(model_id, source.name, family, family.max_input_tokens)


LoadedModel = Callable[[str], Awaitable[Seq2SeqGenerator]]


class ModelSet:
    """A service's models: cards for all, generators for those loaded (`loaded`, `held`)."""

    def __init__(self, model_ids: list[str], settings: ModelAppSettings):
        self.settings = settings
        self.cards: dict[str, ModelCard] = {}
        self.unavailable: dict[str, str] = {}  # model id -> why it cannot be loaded
        self._loaded: LoadedModel | None = None  # Serve's multiplexed loader, once attached
        self._held: Callable[[], dict[str, Seq2SeqGenerator]] = dict
        self._metrics = metrics_or_none(ModelMetrics)
        self.read_cards(model_ids, {})

    def read_cards(self, model_ids: list[str], current: dict[str, ModelCard]) -> None:
        """A card for each of `model_ids` (those in `current` kept), an `unavailable` entry for
        each whose card cannot be read."""
        cards, unavailable = {}, {}
        for model_id in model_ids:
            try:
                cards[model_id] = current.get(model_id) or read_card(model_id)
            except ModelLoadError as exc:
                logger.error("model %s is unavailable: %s", model_id, exc)
                unavailable[model_id] = str(exc)
        self.cards, self.unavailable = cards, unavailable

    def configure(self, model_ids: list[str], settings: ModelAppSettings) -> bool:
        """New settings; True when the models held must be unloaded: the backend or device
        changed, or a model held is no longer configured."""
        same_engine = (settings.backend, resolve_device(settings.device, settings.backend)) == (
            self.settings.backend,
            resolve_device(self.settings.device, self.settings.backend),
        )
        self.read_cards(model_ids, self.cards if same_engine else {})
        self.settings = settings
        held = self._held()
        if not same_engine or not set(held) <= set(model_ids):
            return True
        for generator in held.values():
            generator.configure(settings)
        return False

    def mark_unavailable(self, model_id: str, why: str) -> None:
        """`model_id` cannot serve: its requests are answered 503 saying `why`."""
        self.cards.pop(model_id, None)
        self.unavailable[model_id] = why
        logger.error("model %s is unavailable: %s", model_id, why)

    def attach(self, loaded: LoadedModel, held: Callable[[], dict[str, Seq2SeqGenerator]]) -> None:
        """Where loaded models come from (`loaded(model_id)`, loading it if it is not held) and
        which are held: Serve's multiplexing, in a replica."""
        self._loaded, self._held = loaded, held

    def card(self, model_id: str) -> ModelCard:
        """The model's card; ModelUnavailableError (503) naming it if it cannot be loaded."""
        if model_id in self.unavailable:
            raise ModelUnavailableError(f"model '{model_id}' is unavailable: {self.unavailable[model_id]}")
        return self.cards[model_id]

    def held(self, model_id: str) -> Seq2SeqGenerator | None:
        """The model if this replica holds it, loaded (without loading it)."""
        return self._held().get(model_id)

    def held_models(self) -> list[Seq2SeqGenerator]:
        """The models this replica holds, least recently used first."""
        return list(self._held().values())

    async def loaded(self, model_id: str) -> Seq2SeqGenerator:
        """The model, loaded here first if this replica does not hold it (counted, with the wait,
        in the metrics); ModelUnavailableError if it cannot be."""
        card = self.card(model_id)
        if self._loaded is None:
            raise RuntimeError("no model loader attached (outside a replica)")
        held = model_id in self._held()
        started = time.monotonic()
        try:
            model = await self._loaded(model_id)
        except ModelLoadError as exc:
            raise ModelUnavailableError(f"model '{card.model_id}' could not be loaded: {exc}") from None
        if not held and self._metrics is not None:
            self._metrics.record_wait(time.monotonic() - started)
        return model

    async def load(self, model_id: str) -> Seq2SeqGenerator:
        """Load the model (its engine on a thread: the event loop serves on), configured by the
        settings; what Serve's multiplexed loader calls. ModelLoadError."""
        card, settings = self.card(model_id), self.settings
        started = time.monotonic()
        try:
            engine = await asyncio.to_thread(load_engine, model_id, settings.backend, settings.device)
        except ModelLoadError:
            if self._metrics is not None:
                self._metrics.record_load(time.monotonic() - started, failed=True)
            raise
        if self._metrics is not None:
            self._metrics.record_load(time.monotonic() - started, failed=False)
        logger.info(
            "loaded model %s (%s) in %.1f s", card.model_id, card.family.name, time.monotonic() - started
        )
        return Seq2SeqGenerator(engine, settings)
