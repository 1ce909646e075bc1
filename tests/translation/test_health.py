"""A translation model that loads but cannot generate -- a real broken artifact: a checkpoint saved
with a tokenizer that does not fit it (token ids beyond its embeddings) -- never takes traffic:
the replica's check_health decodes one token and fails."""

import shutil

import pytest
from ray import serve

from textserve.inprocess import app_config, deploy_app
from textserve.run_config import with_model

APP = "translation-broken"


@pytest.fixture(scope="module")
def broken_model(demo_models, tmp_path_factory):
    from transformers import T5Config, T5ForConditionalGeneration

    target = tmp_path_factory.mktemp("broken") / "model"
    shutil.copytree(demo_models["demo-translation"], target)
    for weights in target.glob("*.safetensors"):
        weights.unlink()
    config = T5Config(
        vocab_size=8,
        d_model=16,
        d_kv=8,
        d_ff=32,
        num_layers=1,
        num_heads=2,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    T5ForConditionalGeneration(config).save_pretrained(str(target))  # 8 tokens; the tokenizer has ~400
    return target


def test_a_model_that_cannot_generate_never_serves(apps, http, broken_model):
    """Serve runs check_health before a replica takes traffic: the deploy fails, naming the cause,
    and the apps already serving are untouched."""
    cfg = dict(app_config(apps, "translation"), name=APP, route_prefix="/translate-broken")
    [deployment] = cfg["deployments"]
    user_config = {**with_model(deployment["user_config"], str(broken_model)), "backend": "transformers"}
    try:
        with pytest.raises(RuntimeError, match="Failed to update the deployments"):
            deploy_app(cfg, user_config=user_config)
        message = serve.status().applications[APP].deployments["Translator"].message
        assert "check_health" in message and "IndexError" in message  # our probe, and why it failed
    finally:
        serve.delete(APP)
    still = http.post("/translate", json={"text": "Hello world!"})
    assert still.json()["translation"] == "Bonjour le monde !"
