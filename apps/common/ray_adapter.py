"""Ray Serve as the apps see it: the cluster's state (replicas, route prefixes, the HTTP request
timeout), the request being served and the models a replica holds. The only module of apps/ that
touches a non-public name of Ray, in three places where Serve offers a replica no public call:

- `serve_details`: the controller's view of the running apps, what `serve status` and the
  dashboard read. `serve.status()` lacks route prefixes, replica ids and the HTTP options; the
  dashboard's REST API needs the dashboard (a cluster may run without it) and its token.
- `current_request_id`: the id of the request being served, from Serve's request context (a
  developer API, read the same way in Ray's logging docs).
- `multiplexed_models`, `limit_multiplexed_models`: the models `@serve.multiplexed` holds on a
  replica, and their number. Serve keeps them in the wrapper it sets on the deployment's instance
  (`__serve_multiplex_wrapper`: an LRU `models` dict, `max_num_models_per_replica`,
  `unload_model_lru()`, Ray 2.60's `ray/serve/multiplex.py`); its limit is fixed where the method
  is decorated, and ours is a setting (tests/common/test_ray_adapter.py checks this reading).

Every reading of the controller goes through one cache (`max_age_s`) and one timeout; callers that
come while a reading is under way share it.
"""

from __future__ import annotations

import asyncio
import time

from ray import serve

CONTROLLER_TIMEOUT_S = 5.0  # longest wait for Serve's controller, unless a caller says otherwise
DETAILS_MAX_AGE_S = 10.0  # how old a reading of the controller may be, unless a caller says otherwise

# "at": time.monotonic() when the last reading began, "details": what it read; "task": the reading
# under way (or done), begun at "task_at"
_reading: dict[str, object] = {}


async def serve_details(
    max_age_s: float = DETAILS_MAX_AGE_S, timeout_s: float = CONTROLLER_TIMEOUT_S
) -> dict:
    """Serve's details as its controller held them at most `max_age_s` ago (`applications` with
    route prefixes, deployments and replicas; `http_options`). asyncio.TimeoutError past
    `timeout_s` (the controller busy or away); outside Serve, whatever Serve raises."""
    at = _reading.get("at")
    if at is not None and time.monotonic() - at <= max_age_s:
        return _reading["details"]
    task, now = _reading.get("task"), time.monotonic()
    # a reading is shared while it may still answer in time; one stuck past that is not waited on again
    if task is None or task.done() or now - _reading["task_at"] > timeout_s:
        task = asyncio.ensure_future(_read_details())
        task.add_done_callback(lambda done: done.cancelled() or done.exception())  # seen if unawaited
        _reading.update(task=task, task_at=now)
    return await asyncio.wait_for(asyncio.shield(task), timeout_s)


async def _read_details() -> dict:
    from ray.serve.context import _get_global_client

    started = time.monotonic()
    details = await asyncio.to_thread(lambda: _get_global_client().get_serve_details())
    _reading.update(at=started, details=details)
    return details


async def running_replicas(max_age_s: float = DETAILS_MAX_AGE_S) -> list[str]:
    """The ids of the RUNNING replicas of the deployment this replica belongs to."""
    context = serve.get_replica_context()
    app = (await serve_details(max_age_s))["applications"][context.app_name]
    replicas = app["deployments"][context.deployment]["replicas"]
    return [replica.get("replica_id") for replica in replicas if replica.get("state") == "RUNNING"]


async def http_request_timeout_s() -> float | None:
    """Serve's HTTP `request_timeout_s` (its proxy answers 408 past it); None when it sets none."""
    value = ((await serve_details(float("inf"))).get("http_options") or {}).get("request_timeout_s")
    return float(value) if value else None


AppsView = tuple[tuple[str, str, float], ...]  # (app, route prefix, last deployed), by name


async def app_routes(max_age_s: float, timeout_s: float) -> AppsView:
    """Each running app with a route prefix: its name, prefix and last deploy time."""
    details = await serve_details(max_age_s, timeout_s)
    return tuple(
        (name, app["route_prefix"], app.get("last_deployed_time_s") or 0.0)
        for name, app in sorted(details.get("applications", {}).items())
        if app.get("route_prefix") is not None
    )


def current_request_id() -> str:
    """The id Serve gave the request being served (the client's X-Request-ID or a generated one,
    carried into handle calls made while serving it); "" outside a request."""
    from ray.serve.context import _get_serve_request_context

    return _get_serve_request_context().request_id or ""


MULTIPLEX_WRAPPER = "__serve_multiplex_wrapper"  # where @serve.multiplexed keeps its models (Ray 2.60)


def multiplexed_models(instance: object) -> dict:
    """model id -> model, of what `@serve.multiplexed` holds on `instance` (least recent first)."""
    wrapper = getattr(instance, MULTIPLEX_WRAPPER, None)
    return dict(wrapper.models) if wrapper is not None else {}


async def limit_multiplexed_models(instance: object, limit: int) -> None:
    """At most `limit` models held on `instance` from now on: the least recently used ones beyond
    it unloaded now (0: all of them; later loads then hold up to `limit` again, at least one)."""
    wrapper = getattr(instance, MULTIPLEX_WRAPPER, None)
    if wrapper is None:
        return
    wrapper.max_num_models_per_replica = max(1, limit)
    while len(wrapper.models) > limit:
        await wrapper.unload_model_lru()
