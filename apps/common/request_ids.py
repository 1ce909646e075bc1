"""The id of the request being served, for our own log lines.

Serve gives every HTTP request an id: the client's `X-Request-ID` header, or a generated one. The
proxy returns it in the response's `X-Request-ID` header, Serve's JSON log lines carry it as
`request_id`, and a DeploymentHandle call made while serving a request (the router calling a leaf
app) carries the same id into the leaf replica. Serve exposes it only through its request context
(a developer API, used the same way in Ray's logging docs), read in apps/common/serve_internals.py.
"""

from __future__ import annotations

from apps.common.serve_internals import serve_request_id


def current_request_id() -> str:
    """The current request's id; "" outside a request (start-up, health checks, outside Ray)."""
    return serve_request_id()
