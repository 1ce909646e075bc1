"""The one module that reaches into Ray Serve's non-public API, for what Serve offers a replica no
public call for: the controller's view of the running apps (route prefixes, replica states, HTTP
options: what `serve status` and the dashboard read) and the id of the request being served (a
developer API, used the same way in Ray's logging docs). Everything else uses public Serve APIs.
"""

from __future__ import annotations

import asyncio

CONTROLLER_TIMEOUT_S = 5.0  # longest wait for Serve's controller, unless a caller says otherwise


async def serve_details(timeout_s: float = CONTROLLER_TIMEOUT_S) -> dict:
    """Serve's details as its controller holds them (`applications` with route prefixes,
    deployments and replicas; `http_options`). asyncio.TimeoutError past `timeout_s` (the
    controller busy or away); outside Serve, whatever Serve raises."""
    from ray.serve.context import _get_global_client

    return await asyncio.wait_for(
        asyncio.to_thread(lambda: _get_global_client().get_serve_details()), timeout_s
    )


def serve_request_id() -> str:
    """The id Serve gave the request being served; "" outside a request."""
    try:
        from ray.serve.context import _get_serve_request_context
    except ImportError:  # pragma: no cover - Ray is a dependency; kept so logging never fails
        return ""
    return _get_serve_request_context().request_id or ""
