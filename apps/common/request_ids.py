"""The id of the request being served, for our own log lines.

Serve gives every HTTP request an id: the client's `X-Request-ID` header, or a generated one. The
proxy returns it in the response's `X-Request-ID` header, Serve's JSON log lines carry it as
`request_id`, and a DeploymentHandle call made while serving a request (the router calling a leaf
app) carries the same id into the leaf replica. Serve exposes it only through its request context
(a developer API, used the same way in Ray's logging docs); this module is the one place that reads
it.
"""

from __future__ import annotations


def current_request_id() -> str:
    """The current request's id; "" outside a request (start-up, health checks, outside Ray)."""
    try:
        from ray.serve.context import _get_serve_request_context
    except ImportError:  # pragma: no cover - Ray is a dependency; kept so the module never fails
        return ""
    return _get_serve_request_context().request_id or ""
