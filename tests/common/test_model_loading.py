"""The model loader: demo directories, and fast, clear failures when a model cannot be had."""

import time

import pytest

from apps.common.engines import load_engine
from apps.common.model_loading import ModelLoadError
from tests.conftest import free_port


def test_loads_a_local_directory_and_announces_demo(demo_models, caplog):
    with caplog.at_level("WARNING", logger="ray.serve"):
        loaded = load_engine(str(demo_models["demo-translation"]), "transformers", "cpu")
    assert loaded.source.is_demo and loaded.name == "demo:demo-translation"
    assert loaded.family.name == "t5"
    assert "DEMO MODEL" in caplog.text


def test_missing_directory_fails_naming_it(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist") as info:
        load_engine(str(tmp_path / "nowhere"), "transformers", "cpu")
    assert "nowhere" in str(info.value)


def test_hub_id_offline_fails_fast_with_a_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(ModelLoadError) as info:
        load_engine("t5-small", "transformers", "cpu")
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "'t5-small'" in message and "HF_HUB_OFFLINE" in message and "demo models" in message


def test_hub_id_with_unreachable_hub_fails_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    started = time.monotonic()
    with pytest.raises(ModelLoadError, match="unreachable"):
        load_engine("t5-small", "transformers", "cpu")
    assert time.monotonic() - started < 10


def test_empty_model_id_is_refused():
    with pytest.raises(ModelLoadError, match="no model given"):
        load_engine("  ", "transformers", "cpu")
