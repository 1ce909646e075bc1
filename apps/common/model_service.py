"""What the model apps' services share, without Ray: their settings, their models (a card for
each, the loaded ones held by Serve's multiplexing: apps/common/model_set.py), their fan-out over
the deployment's replicas, the parts other replicas send them, and the health probe.

A job decodes on this replica when it holds the job's model; else it goes, as one call, to the
replica Serve routes the model's id to (one that holds it, else one that loads it). A subclass
names its app, settings, request body and fan-out entry point, says which models its settings
name, and plans a request into a `Job` (apps/common/job.py) on the model card that serves it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel

from apps.common.deadlines import Caller
from apps.common.engines.families import Task
from apps.common.fan_out import FanOut
from apps.common.generation import GenerationParams
from apps.common.job import Job
from apps.common.model_set import ModelSet
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
        self.models = ModelSet(self.model_ids(settings), settings)
        self.fan_out = FanOut(*self.fan_out_as, settings)

    def configure(self, settings: SettingsT) -> bool:
        """Apply new settings: cards read for new models, the models held configured anew; True
        when the models held must be unloaded (the backend or device changed)."""
        unload = self.models.configure(self.model_ids(settings), settings)
        self.fan_out.configure(settings)
        self.settings = settings
        return unload

    def model_ids(self, settings: SettingsT) -> list[str]:
        """The models `settings` name (hub ids or directories), the default one first."""
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

    async def warm_up(self) -> None:
        """Load the default model (a replica starts holding it; a model that cannot be loaded
        fails the replica's start). The others load on demand."""
        await self.models.loaded(self.model_ids(self.settings)[0])

    async def probe(self) -> dict:
        """A one-token decode with every model this replica holds; raises if one cannot generate,
        else says what serves (`model`: the default one)."""
        for model in self.models.held_models():
            await model.probe(model.family.task_prefix(self.task) + PROBE_TEXT)
        default = self.models.card(self.model_ids(self.settings)[0])
        return {"status": "ok", "model": default.name, "backend": self.settings.backend}

    async def decode(self, job: Job) -> list[str]:
        """The outputs of the job's prompts, as one batch: here if this replica holds its model,
        else on the replica Serve routes the model's id to."""
        model_id = job.model.model_id
        model = self.models.held(model_id)
        if model is not None:
            return await model.generate(job.prompts, job.params, ticket=job.ticket)

        async def here() -> list[str]:  # loaded on this replica
            loaded = await self.models.loaded(model_id)
            return await loaded.generate(job.prompts, job.params, ticket=job.ticket)

        return await self.fan_out.forward(model_id, job.prompts, job.params, job.ticket, here)

    async def decode_part(
        self,
        model_id: str,
        prompts: list[str],
        params: GenerationParams,
        ticket: tuple[Priority, float | None, float | None, str | None],
    ) -> list[str]:
        """The outputs of a part of another replica's request (or all of it, when that replica
        does not hold the model), on model `model_id`, loaded here if need be (`ticket`: its
        `Ticket.to_wire()`); ModelUnavailableError (503) naming a model that cannot be loaded."""
        model = await self.models.loaded(model_id)
        return await model.generate(prompts, params, caller_returns=False, ticket=Ticket.from_wall(*ticket))
