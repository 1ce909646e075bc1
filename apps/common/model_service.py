"""What the model apps' services share, without Ray: their settings, their model (kept across a
reconfigure that changes only limits), their fan-out over the deployment's replicas, the parts
other replicas send them, and the health probe.

A subclass names its app, settings, request body and fan-out entry point, says the task
prefix, and plans a request into a `Job` (apps/common/job.py) that carries the model it runs on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel

from apps.common.deadlines import Caller
from apps.common.engines.families import Task
from apps.common.errors import ServiceBusyError
from apps.common.fan_out import FanOut
from apps.common.generation import GenerationParams, Seq2SeqGenerator, generator_for
from apps.common.job import Job
from apps.common.scheduling import Priority, Ticket
from apps.common.schemas import TextOrTexts
from apps.common.settings import ModelAppSettings

PROBE_TEXT = "Hello world!"
SettingsT = TypeVar("SettingsT", bound=ModelAppSettings)


class ModelService(Generic[SettingsT]):
    app: ClassVar[str]  # the app's name, in its settings' errors
    task: ClassVar[Task]  # what its models do (T5 picks it from a prefix)
    settings_cls: ClassVar[type[ModelAppSettings]]
    request_cls: ClassVar[type[TextOrTexts]]  # its HTTP body; a handle call's arguments as one
    # (the deployment's handle entry point that calls `decode_part`, doing, what): a 503 says
    # "already <doing> N <what>"
    fan_out_as: ClassVar[tuple[str, str, str]]

    def __init__(self, settings: SettingsT):
        self.settings = settings
        self.models: dict[str, Seq2SeqGenerator] = self._load(settings, {})
        self.fan_out = FanOut(*self.fan_out_as, settings)

    def configure(self, settings: SettingsT) -> None:
        """Apply new settings; ModelLoadError (and the old settings kept) if one of their models
        cannot be loaded."""
        self.models = self._load(settings, self.models)
        self.fan_out.configure(settings)
        self.settings = settings

    def _load(self, settings: SettingsT, current: dict[str, Seq2SeqGenerator]) -> dict[str, Seq2SeqGenerator]:
        """Every model `settings` name, by its configured id: the current generator where it serves
        that model already (configured anew), else loaded."""
        return {
            model_id: generator_for(model_id, settings, current.get(model_id))
            for model_id in self.model_ids(settings)
        }

    def model_ids(self, settings: SettingsT) -> list[str]:
        """The models `settings` name (hub ids or directories), the default one first."""
        raise NotImplementedError

    @property
    def model(self) -> Seq2SeqGenerator:
        """The default model (the health probe's)."""
        return next(iter(self.models.values()))

    def plan(self, request: TextOrTexts, caller: Caller) -> Job:
        """`request` checked against the settings (a ServingError, 4xx or 503, if it cannot be
        served) and cut into its Job, on the model that serves it, with its class and deadline."""
        raise NotImplementedError

    async def run(self, job: Job) -> BaseModel:
        """The job's answer: the route's response model."""
        raise NotImplementedError

    def events(self, job: Job) -> AsyncIterator[dict]:
        """The job's stream: events as its work progresses, then `done` with the answer."""
        raise NotImplementedError

    async def probe(self) -> dict:
        """A one-token decode with every model; raises if one cannot generate, else says what
        serves (`model`: the default one)."""
        answers = [
            await model.probe(model.family.task_prefix(self.task) + PROBE_TEXT)
            for model in self.models.values()
        ]
        return {**answers[0], "models": [answer["model"] for answer in answers]}

    async def decode_part(
        self,
        model_id: str,
        prompts: list[str],
        params: GenerationParams,
        ticket: tuple[Priority, float | None, float | None, str | None],
    ) -> list[str]:
        """The outputs of a part of another replica's request, on its model `model_id` (`ticket`:
        its `Ticket.to_wire()`); ServiceBusyError (503) if this replica does not serve it
        (its settings changed between the two replicas' reading them)."""
        model = self.models.get(model_id)
        if model is None:
            raise ServiceBusyError(
                f"this replica does not serve model '{model_id}' (the config changed); retry"
            )
        return await model.generate(prompts, params, caller_returns=False, ticket=Ticket.from_wall(*ticket))
