"""The peers `make bench` measures us against, for real: each peer's server (its own venv, the
demo translation model converted to CTranslate2 as our replicas convert it) answers a request
through the benchmark's client with exactly what the shared model code decodes here, listens on
127.0.0.1 only, and leaves no process and no listening port behind when stopped."""

import pytest

from apps.common.engines.ctranslate2_conversion import converted_model_dir
from bench.peers.catalog import PEERS, peer_spec
from bench.peers.ct2_model import PeerModel
from bench.peers.spec import PeerServer
from textserve import exposure, processes

LENGTH = 12  # forced output tokens, as the benchmark forces them


@pytest.fixture(scope="module")
def model(demo_models):
    checkpoint = demo_models["demo-translation"]
    return checkpoint, converted_model_dir(checkpoint)


@pytest.mark.parametrize("name", PEERS)
def test_a_peer_serves_the_shared_model_on_localhost_and_stops_completely(name, model, tmp_path):
    checkpoint, converted = model
    spec = peer_spec(name)
    expected = PeerModel(str(converted), str(checkpoint)).generate("translate", ["Hello world!"], LENGTH)
    server = PeerServer(spec, converted, checkpoint, "translate", LENGTH, tmp_path / f"{name}.log")
    with server:
        answer = server.request("Hello world!")
        assert spec_text(name, answer) == expected[0], server.log_tail()
        pids = server.pids()
        assert pids
        sockets = exposure.listening(pids)
        assert sockets and {s.host for s in sockets} == {"127.0.0.1"}, sockets
        port = server.port
    assert not [pid for pid in pids if processes.is_alive(pid)], server.log_tail()
    assert exposure.bound_host(port) == "not listening"
    assert all(exposure.bound_host(s.port) == "not listening" for s in sockets)


def spec_text(name: str, answer) -> str:
    """The one text of a peer's answer, in its own protocol."""
    if name == "bentoml":
        return answer[0]
    return answer["outputs"][0]["data"][0]  # KServe v2 (Triton)
