"""Whose request this is, for the sentence cache's `cache_scope: per_key`: the tenant is a digest
of the API key the request was accepted with (never the key), or None where keys are off.

RequestGuard sets it for the request it lets through (`serving`); a request's Ticket carries it
on (scheduling.py), across handle calls too: the router passes it to the leaf apps, and a leaf to
the replicas that decode its parts or chunks."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from contextvars import ContextVar

_tenant: ContextVar[str | None] = ContextVar("textserve_tenant", default=None)


def tenant_of(api_key: str) -> str:
    """The key's tenant: a digest that names it in caches and never reveals it."""
    return hashlib.sha256(b"textserve tenant\0" + api_key.encode("utf-8")).hexdigest()[:32]


def current_tenant() -> str | None:
    """The tenant of the HTTP request being served (None: keys off, or outside a request)."""
    return _tenant.get()


@contextlib.contextmanager
def serving(tenant: str | None) -> Iterator[None]:
    """`tenant` is current_tenant() within the block (RequestGuard's: the whole request)."""
    token = _tenant.set(tenant)
    try:
        yield
    finally:
        _tenant.reset(token)
