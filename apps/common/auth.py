"""Optional API-key authentication for every app's HTTP surface: `Authorization: Bearer <key>`.

Keys come from the replica's environment, never from serve_config.yaml (a config is not a secret):

- `TEXTSERVE_API_KEYS`: keys separated by commas;
- `TEXTSERVE_API_KEYS_FILE`: a file with one key per line (blank lines and `#` comments skipped),
  e.g. a mounted Kubernetes Secret. It is read again whenever it changes (a key is rotated by
  updating the Secret; no restart).

Neither set (or `TEXTSERVE_API_KEYS` empty): authentication is off, as it is locally by default.
Either set: every route needs a key except the health probe and the API docs and the playground (is_public); a
file that is set but cannot be read, or holds no key, refuses every request (503): a broken Secret
must not open the service. A presented key is compared with every configured key in constant time
(SHA-256 digests through hmac.compare_digest, so neither which key nor how much of one matched shows
in the timing). Calls between apps through DeploymentHandles do not use HTTP and need no key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

logger = logging.getLogger("ray.serve")

KEYS_ENV = "TEXTSERVE_API_KEYS"
KEYS_FILE_ENV = "TEXTSERVE_API_KEYS_FILE"
# Answered without a key: load balancers and Kubernetes probes send none, and the API docs and
# the playground's page describe the public API (no data; the playground sends the key it is
# given with each call). Paths are relative to the app's route prefix.
PUBLIC_PATHS = frozenset(
    {"/healthz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/playground"}
)
PUBLIC_PREFIXES = ("/static/",)  # the docs pages' and the playground's scripts and styles


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class KeysUnavailableError(RuntimeError):
    """Keys are configured but none could be read: refuse, do not fall open."""


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def _split(text: str, sep: str | None) -> list[str]:
    keys = []
    for line in text.splitlines() if sep is None else text.split(sep):
        key = line.strip()
        if key and not key.startswith("#"):
            keys.append(key)
    return keys


@dataclass
class ApiKeys:
    """The keys this process accepts; `enabled` is False when none are configured."""

    inline: tuple[str, ...] = ()
    path: str | None = None
    _file_digests: tuple[bytes, ...] = ()
    _file_stamp: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        self._inline_digests = tuple(_digest(key) for key in self.inline)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiKeys:
        environ = os.environ if environ is None else environ
        inline = tuple(_split(environ.get(KEYS_ENV, ""), ","))
        path = environ.get(KEYS_FILE_ENV) or None
        return cls(inline=inline, path=path)

    @property
    def enabled(self) -> bool:
        return bool(self.inline) or self.path is not None

    def _digests(self) -> tuple[bytes, ...]:
        digests = self._inline_digests
        if self.path is None:
            return digests
        try:
            stat = os.stat(self.path)
            stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if stamp != self._file_stamp:
                with open(self.path, encoding="utf-8") as file:
                    self._file_digests = tuple(_digest(key) for key in _split(file.read(), None))
                self._file_stamp = stamp
                logger.info("API keys: %d read from %s", len(self._file_digests), self.path)
        except (OSError, UnicodeDecodeError) as exc:
            self._file_digests, self._file_stamp = (), None
            problem = f"cannot read {KEYS_FILE_ENV}={self.path}: {exc}"
            if not digests:
                raise KeysUnavailableError(problem) from None
            logger.warning("API keys: %s; only the keys of %s are accepted", problem, KEYS_ENV)
        digests += self._file_digests
        if not digests:
            raise KeysUnavailableError(f"{KEYS_FILE_ENV}={self.path} holds no key")
        return digests

    def accepts(self, presented: str) -> bool:
        """True if `presented` is one of the keys. Every key is compared, in constant time."""
        candidate = _digest(presented)
        accepted = False
        for digest in self._digests():
            accepted |= hmac.compare_digest(candidate, digest)
        return accepted


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
