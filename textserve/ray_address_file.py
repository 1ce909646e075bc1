"""Ray's address file (`<RAY_TMPDIR or /tmp>/ray/ray_current_cluster`): `ray start --head` writes
its GCS address there, and `ray.init()` / `serve run` without an address connect to it. Stopping a
head with SIGTERM leaves the file behind, and then those commands wait on the dead GCS forever
(printing "Failed to connect to GCS") instead of starting a cluster of their own.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path


def address_file() -> Path:
    from ray._common.utils import get_ray_address_file  # where Ray itself reads and writes it

    return Path(get_ray_address_file(None))


def read_address() -> str | None:
    try:
        return address_file().read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def gcs_answers(address: str, timeout_s: float = 2.0) -> bool:
    """True when something accepts connections at the GCS address host:port."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def remove_if_it_names(address: str) -> bool:
    """Remove the file when it names `address` (a head we stopped); never another cluster's."""
    if address and read_address() == address:
        address_file().unlink(missing_ok=True)
        return True
    return False


def remove_if_stale() -> str | None:
    """Remove the file when nothing answers at the address it names; return that address."""
    address = read_address()
    if address is None or gcs_answers(address):
        return None
    address_file().unlink(missing_ok=True)
    return address


def wait_for_port(port: int, timeout_s: float) -> str | None:
    """The address the file names once it names GCS port `port` (`ray start` writes it after its
    dashboard answers, with the machine's IP in place of 127.0.0.1); None if it never does."""
    deadline = time.monotonic() + timeout_s
    while True:
        address = read_address()
        if address and address.endswith(f":{port}"):
            return address
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)
