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
    settings_cls: ClassVar[type[ModelAppSettings]]
    request_cls: ClassVar[type[TextOrTexts]]  # its HTTP body; a handle call's arguments as one
    # (the deployment's handle entry point that calls `decode_part`, doing, what): a 503 says
    # "already <doing> N <what>"
    fan_out_as: ClassVar[tuple[str, str, str]]

    def __init__(self, settings: SettingsT):
        self.settings = settings
        self.model: Seq2SeqGenerator = generator_for(settings, None)
        self.fan_out = FanOut(*self.fan_out_as, settings)

    def configure(self, settings: SettingsT) -> None:
        """Apply new settings; ModelLoadError (and the old settings kept) if their model cannot
        be loaded."""
        self.model = generator_for(settings, self.model)
        self.fan_out.configure(settings)
        self.settings = settings

    def task_prefix(self) -> str:
        """The prompt's task prefix for the default task (T5 picks its task from it)."""
        raise NotImplementedError

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
        """A one-token decode with the model; raises if it cannot generate, else says what serves."""
        return await self.model.probe(self.task_prefix() + PROBE_TEXT)

    async def decode_part(
        self,
        prompts: list[str],
        params: GenerationParams,
        ticket: tuple[Priority, float | None, float | None, str | None],
    ) -> list[str]:
        """The outputs of a part of another replica's request (`ticket`: its `Ticket.to_wire()`)."""
        return await self.model.generate(
            prompts, params, caller_returns=False, ticket=Ticket.from_wall(*ticket)
        )
