"""Nothing of a cluster we start is reachable by a stranger: the session's cluster (started by
this process's `ray.init`, as the bench starts its own) with the three apps deployed lists no
socket beyond 127.0.0.1 that accepts a client without Ray's token. `make run`'s stack is checked
the same way in test_local_stack.py, the e2e heads and worker nodes in tests/e2e/test_multinode.py."""

import os
import stat
from pathlib import Path

import pytest

from textserve import exposure, ray_auth


def test_the_session_cluster_keeps_to_loopback_or_refuses_clients_without_the_token(apps):
    listeners = exposure.listening(exposure.descendant_pids(os.getpid()))
    names = {listener.process for listener in listeners}
    assert {"gcs_server", "raylet"} <= names, names
    beyond = exposure.beyond_loopback(listeners)
    # Serve's replicas listen for other deployments' calls on [::] whatever the node's address
    assert beyond and all(b.process.startswith("ray::ServeRepli") for b in beyond), beyond
    assert not exposure.open_to_strangers(listeners), beyond
    token = Path(os.environ["RAY_AUTH_TOKEN_PATH"]).read_text()
    probe = exposure.RAY_GRPC_PROBES[0]
    assert {exposure.grpc_answer(b.port, probe, token) for b in beyond} != {"UNAUTHENTICATED"}
    # Ray's own servers: GCS, raylet, agents, workers on loopback
    assert all(exposure.is_loopback(listener.host) for listener in listeners if listener not in beyond)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.2", False),
        ("::ffff:192.0.2.2", False),
    ],
)
def test_loopback_is_127_slash_8_and_ipv6_loopback_never_a_wildcard(host, loopback):
    assert exposure.is_loopback(host) is loopback


def test_a_token_is_made_once_readable_by_its_owner_only(tmp_path):
    path = ray_auth.ensure_token(tmp_path / "auth" / "token")
    token = path.read_text()
    assert len(token) == 64 and int(token, 16)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.chmod(0o644)
    assert ray_auth.ensure_token(path).read_text() == token  # kept, and closed again
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    env = ray_auth.token_env(path)
    assert ray_auth.dashboard_headers(env) == {"Authorization": f"Bearer {token}"}
    assert ray_auth.dashboard_headers({"RAY_AUTH_MODE": "disabled"}) == {}


def test_the_printed_environment_names_the_token_file_never_the_token(tmp_path, capsys):
    assert ray_auth.main(["--out", str(tmp_path / "token")]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines() == [
        "RAY_AUTH_MODE=token",
        f"RAY_AUTH_TOKEN_PATH={tmp_path / 'token'}",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0",
    ]
    assert (tmp_path / "token").read_text() not in printed
