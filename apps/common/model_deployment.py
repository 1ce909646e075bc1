"""Serve glue shared by the model apps' deployments: settings from `user_config` applied in
`reconfigure`, the models held through Serve's model multiplexing (`loaded_model`), Serve's health
check, the API document through a handle, and handle calls turned into checked requests, answered
like their HTTP routes. The work is the `service`'s (apps/common/model_service.py)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar, TypedDict

from ray import serve

from apps.common.deadlines import Caller
from apps.common.docs_pages import PublishesAPIDocument
from apps.common.generation import GenerationParams, Seq2SeqGenerator
from apps.common.http import validate
from apps.common.job import Job
from apps.common.logs import quiet_user_errors
from apps.common.model_service import ModelService
from apps.common.ray_adapter import limit_multiplexed_models, multiplexed_models
from apps.common.request_guard import apply_http_settings
from apps.common.scheduling import Priority
from apps.common.schemas import TextOrTexts, text_fields
from apps.common.settings import parse_user_config
from apps.common.streaming import ndjson_response


class CallOptions(TypedDict, total=False):
    """A handle call's options, by keyword: `priority` and `timeout_s` as the route's body takes
    them; `tenant`, whose request it is (apps/common/tenants.py; the router passes its caller's)."""

    priority: Priority | None
    timeout_s: float | None
    tenant: str | None


class ModelDeployment(PublishesAPIDocument):
    """Mixin for a model app's @serve.ingress deployment; `service_cls` does its work."""

    service_cls: ClassVar[type[ModelService]]
    service: ModelService | None = None  # made by the first reconfigure

    def __init__(self):
        quiet_user_errors()  # a caller's 4xx through a handle is not logged as our failure

    async def reconfigure(self, user_config: dict) -> None:
        """Apply `user_config`: the first time, the default model is loaded (Serve's health check
        then probes it); later, the models held are configured anew and at most
        `max_models_per_replica` kept, or, if the backend or device changed or a model held is no
        longer configured, all unloaded and the default one loaded again."""
        settings = parse_user_config(self.service_cls.settings_cls, user_config, self.service_cls.app)
        if self.service is None:
            service = self.service_cls(settings)
            service.models.attach(self.loaded_model, lambda: multiplexed_models(self))
            self.service = service
            await self.service.warm_up()
        else:
            unload = self.service.configure(settings)
            await limit_multiplexed_models(self, 0 if unload else settings.max_models_per_replica)
            if unload:
                await self.service.warm_up()
        apply_http_settings(self.app, settings)

    @serve.multiplexed(max_num_models_per_replica=1)  # then the setting's (ray_adapter.py)
    async def loaded_model(self, model_id: str) -> Seq2SeqGenerator:
        """The model `model_id`, held by Serve's model multiplexing (loaded if this replica does
        not hold it): requests for it are routed to a replica that holds it."""
        await limit_multiplexed_models(self, self.service.settings.max_models_per_replica)
        return await self.service.models.load(model_id)

    async def check_health(self) -> None:
        await self.health()

    async def health(self) -> dict:
        """Handle entry point: the model's one-token probe (the router's /healthz)."""
        if self.service is None:
            raise RuntimeError("no model loaded (reconfigure has not succeeded)")
        return await self.service.probe()

    def plan_call(self, text: str | list[str], tenant: str | None = None, **fields: Any) -> Job:
        """A handle call's arguments as a checked, planned request, as its route's body would be
        (UserInputError, 422, if they are not)."""
        request = validate(self.service_cls.request_cls, **text_fields(text), **fields)
        return self.service.plan(request, Caller.from_handle(tenant))

    async def decode_part(
        self, model_id: str, prompts: list[str], params: GenerationParams, *ticket: Any
    ) -> list[str]:  # reached with multiplexed_model_id=model_id: on a replica holding it if any
        """Internal handle entry point (each app names it: FanOut calls it by that name), for
        fan-out on this deployment's own replicas: the outputs of one part of a request another
        replica fans out (prompts with their task prefix) on its model, by its `Ticket.to_wire()`."""
        return await self.service.decode_part(model_id, prompts, params, ticket)

    async def respond(self, request: TextOrTexts, caller: Caller) -> Any:
        """A route's answer to `request`: the answer's model, or its NDJSON events with "stream":
        true. A request that cannot be served is a 4xx before any stream."""
        job = self.service.plan(request, caller)
        if request.stream:
            return ndjson_response(self.service.events(job), self.service_cls.app)
        return await self.service.run(job)

    async def answer(self, job: Job) -> dict:
        return (await self.service.run(job)).model_dump(exclude_none=True)


def answering(plan: Callable[..., Job]) -> Callable[..., Any]:
    """A handle entry point with `plan`'s arguments and docstring: the planned job's answer."""

    @functools.wraps(plan)
    async def entry_point(self: ModelDeployment, *args: Any, **kwargs: Any) -> dict:
        return await self.answer(plan(self, *args, **kwargs))

    entry_point.__signature__ = inspect.signature(plan).replace(return_annotation=dict)
    return entry_point


def streaming(plan: Callable[..., Job]) -> Callable[..., Any]:
    """A streaming handle entry point (`handle.options(stream=True)`) with `plan`'s arguments:
    the planned job's events, as its route sends them with "stream": true. A request that cannot
    be served raises before the first."""

    @functools.wraps(plan)
    async def entry_point(self: ModelDeployment, *args: Any, **kwargs: Any) -> AsyncIterator[dict]:
        async for event in self.service.events(plan(self, *args, **kwargs)):
            yield event

    entry_point.__signature__ = inspect.signature(plan).replace(return_annotation=AsyncIterator[dict])
    return entry_point
