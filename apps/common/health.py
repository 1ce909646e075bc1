"""Health of a model deployment: a one-token decode with the loaded model, on the model thread.

Serve runs `check_health` before a replica takes traffic and every `health_check_period_s` after:
a model that loads but cannot generate never serves, and a replica whose model stops generating is
replaced. `health` answers the same probe with what serves, for the router's /healthz.
"""

from __future__ import annotations

PROBE_TEXT = "Hello world!"


class ModelHealth:
    """Mixin for a deployment holding `self.generator` and `self.settings`; it says its prompt
    prefix (T5 picks the task from it) in `probe_prefix`."""

    generator = None
    settings = None

    def probe_prefix(self) -> str:
        raise NotImplementedError

    async def check_health(self) -> None:
        await self.health()

    async def health(self) -> dict:
        if self.generator is None or self.settings is None:
            raise RuntimeError("no model loaded (reconfigure has not succeeded)")
        return await self.generator.probe(self.probe_prefix() + PROBE_TEXT)
