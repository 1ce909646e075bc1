"""Ray's token authentication for the clusters we start here (`make run`, the tests' and the
bench's): a token of our own, made once, mode 0600, never printed; every Ray process, the
`serve`/`ray` CLI and our calls to the dashboard read it through the environment Ray defines
(RAY_AUTH_MODE=token, RAY_AUTH_TOKEN_PATH).

Token auth closes what loopback cannot: Serve's replicas listen for calls from other
deployments on every interface whatever the node's address (Ray 2.60 binds them to [::]), and
the local stack's other sockets are reachable by every user of the machine. With a token, a
client without it gets UNAUTHENTICATED (gRPC) or 401 (the dashboard and agents).

    os.environ.update(token_env(ensure_token(run_dir / "ray-auth-token")))
    urllib.request.Request(dashboard + "/api/version", headers=dashboard_headers())
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

TOKEN_FILE = "ray-auth-token"


def ensure_token(path: Path) -> Path:
    """`path`, holding a new random token if it held none; readable by this user only (0600,
    in a directory only this user can enter if we made it). Returns `path`."""
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        if path.read_text(encoding="ascii").strip():
            return path
        descriptor = os.open(path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(secrets.token_hex(32))
    return path


def token_env(path: Path) -> dict[str, str]:
    """The environment that makes Ray processes and clients use the token in `path`."""
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(path)}


def dashboard_headers(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The header Ray's dashboard and state API want under token auth ({} where auth is off)."""
    env = os.environ if env is None else env
    if env.get("RAY_AUTH_MODE", "").lower() != "token":
        return {}
    token = env.get("RAY_AUTH_TOKEN") or Path(env["RAY_AUTH_TOKEN_PATH"]).read_text().strip()
    return {"Authorization": f"Bearer {token}"}


def use_session_token() -> Path:
    """For a process that starts its own clusters (pytest, the bench): token auth on in its
    environment, inherited by every Ray process and CLI it starts. The token of the process that
    started this one is reused; otherwise a new one, removed when this process exits. Call it
    before Ray is first used."""
    inherited = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if os.environ.get("RAY_AUTH_MODE") == "token" and inherited and Path(inherited).is_file():
        return Path(inherited)
    directory = Path(tempfile.mkdtemp(prefix="ts-ray-auth-"))  # mode 0700
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = ensure_token(directory / TOKEN_FILE)
    os.environ.update(token_env(path))
    return path


def main(argv: list[str] | None = None) -> int:
    import argparse

    from textserve.exposure import LOOPBACK_HEAD_ENV

    parser = argparse.ArgumentParser(
        prog="python -m textserve.ray_auth",
        description="Make a Ray token (once, mode 0600) and print KEY=VALUE lines to source before "
        "`ray start` and the `serve` CLI: token auth on, every socket of the head on 127.0.0.1. "
        "The token itself is never printed.",
    )
    parser.add_argument("--out", type=Path, default=Path(".run") / TOKEN_FILE, help="the token's file")
    args = parser.parse_args(argv)
    path = ensure_token(args.out.resolve())
    for key, value in {**token_env(path), **LOOPBACK_HEAD_ENV}.items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
