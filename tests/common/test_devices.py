"""`device` in a model app's user_config, on this machine, which has no GPU: `cuda` fails at load
with a message that says there is no CUDA device and what to set instead, through the loading
function and through a real deploy on the session cluster; `auto` falls back to the CPU; `cpu`
is the default. (The CUDA path itself has not run anywhere: there is no GPU here.)"""

import pytest
from ray import serve

from apps.common.engines import load_engine
from apps.common.engines.devices import CT2_COMPUTE_TYPES
from apps.common.model_loading import ModelLoadError
from apps.common.model_set import ModelSet
from apps.common.settings import parse_user_config
from apps.translation.config import TranslationSettings
from textserve.inprocess import app_config, deploy_app

PROBES = {
    "ctranslate2": "ctranslate2.get_cuda_device_count() is 0",
    "transformers": "torch.cuda.is_available() is False",
}


@pytest.mark.parametrize("backend", ["ctranslate2", "transformers"])
def test_cuda_without_a_cuda_device_fails_at_load_saying_what_to_set(demo_models, backend):
    with pytest.raises(ModelLoadError) as info:
        load_engine(str(demo_models["demo-translation"]), backend, "cuda")
    message = str(info.value)
    assert f"no CUDA device for the {backend} backend" in message
    assert PROBES[backend] in message  # what the backend itself answered
    assert "`device: cpu`" in message and "`device: auto`" in message  # what to set instead


def test_auto_runs_on_the_cpu_where_there_is_no_cuda_device(demo_models):
    engine = load_engine(str(demo_models["demo-translation"]), "ctranslate2", "auto")
    assert engine.device == engine.translator.device == "cpu"
    assert engine.compute_type == CT2_COMPUTE_TYPES["cpu"] == "int8"  # as before `device` existed
    assert CT2_COMPUTE_TYPES["cuda"] == "int8_float16"


def test_cpu_is_the_default_and_other_devices_are_refused_naming_the_choices():
    assert TranslationSettings().device == "cpu"
    with pytest.raises(ValueError, match="device") as info:
        parse_user_config(TranslationSettings, {"device": "gpu"}, "translation")
    assert "'cpu', 'cuda' or 'auto'" in str(info.value)


def test_a_reconfigure_to_auto_keeps_the_models_loaded_on_the_cpu(demo_models):
    model = str(demo_models["demo-translation"])
    models = ModelSet([model], TranslationSettings(backend="ctranslate2", device="cpu"))
    assert models.configure([model], TranslationSettings(backend="ctranslate2", device="auto")) is False
    assert models.configure([model], TranslationSettings(backend="transformers", device="cpu")) is True
    with pytest.raises(ModelLoadError, match="no CUDA device"):
        models.configure([model], TranslationSettings(backend="ctranslate2", device="cuda"))


def test_a_deploy_with_cuda_fails_and_its_status_says_why(apps, http):
    """The replica fails in reconfigure; Serve's status for the deployment carries our message,
    and the apps already serving are untouched."""
    name = "translation-cuda"
    cfg = dict(app_config(apps, "translation"), name=name, route_prefix="/translate-cuda")
    [deployment] = cfg["deployments"]
    # one replica, one attempt: Serve's default retries (3 per replica) would only repeat the failure
    cfg["deployments"] = [dict(deployment, num_replicas=1, max_constructor_retry_count=1)]
    try:
        with pytest.raises(RuntimeError):
            deploy_app(cfg, user_config={**deployment["user_config"], "device": "cuda"})
        message = serve.status().applications[name].deployments["Translator"].message
        assert "no CUDA device for the ctranslate2 backend" in message and "`device: cpu`" in message
    finally:
        serve.delete(name, _blocking=False)  # no replica to stop: do not wait ~2 s for Serve to say so
    still = http.post("/translate", json={"text": "Hello world!"})
    assert still.json()["translation"] == "Bonjour le monde !"
