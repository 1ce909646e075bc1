"""Calls from the router to a leaf app, through a DeploymentHandle only.

The handle is fetched on first use (the leaf app may be deployed after the router) and cached.
A leaf's user errors (4xx) pass through unchanged; anything else -- app missing, replica dead,
timeout, a leaf fault -- becomes LeafUnavailable, which the router answers 503 naming the app.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ray import serve

from apps.common.errors import UserInputError
from apps.router.config import LeafAppRef

logger = logging.getLogger("ray.serve")


class LeafUnavailable(Exception):
    def __init__(self, app: str, reason: str):
        super().__init__(f"the '{app}' app is unavailable ({reason}); retry later")
        self.app = app


def _user_error_message(exc: UserInputError) -> str:
    # Through a handle the exception arrives as RayTaskError(UserInputError): keep only its message.
    return getattr(exc, "message", None) or (exc.args[0] if exc.args else "invalid request")


class LeafClient:
    def __init__(self, ref: LeafAppRef):
        self.ref = ref
        self._handle = None

    def _get_handle(self):
        if self._handle is None:
            self._handle = serve.get_deployment_handle(self.ref.deployment, app_name=self.ref.app)
        return self._handle

    async def call(self, method: str, *args: Any, timeout_s: float, **kwargs: Any) -> Any:
        try:
            response = getattr(self._get_handle(), method).remote(*args, **kwargs)
            return await asyncio.wait_for(_await(response), timeout=timeout_s)
        except UserInputError as exc:
            raise UserInputError(_user_error_message(exc), exc.status_code) from None
        except asyncio.TimeoutError:
            raise LeafUnavailable(self.ref.app, f"no answer within {timeout_s:g} s") from None
        except Exception as exc:
            logger.warning(
                "call to %s.%s failed: %s: %s",
                self.ref.app,
                method,
                type(exc).__name__,
                str(exc).splitlines()[0] if str(exc) else "",
            )
            self._handle = None  # fetch a fresh handle next time (the app may have been redeployed)
            raise LeafUnavailable(self.ref.app, type(exc).__name__) from None


async def _await(response):
    return await response
