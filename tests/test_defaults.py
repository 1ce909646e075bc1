"""One rule for every default: a setting's default is its production value, and serve_config.yaml
lists every key of every user_config with that same value. The deployment options in the
@serve.deployment decorators equal serve_config.yaml's too. (The KubeRay manifest's serveConfigV2
and the autoscaling config are serve_config.yaml itself: tests/deploy/test_rayservice.py and
tests/test_autoscaling_config.py.)"""

from pathlib import Path

import pytest
import yaml

from apps.common.settings import parse_user_config
from apps.router.app import Router, TranslatedFiles
from apps.router.config import FileStoreSettings, RouterSettings
from apps.summarization.app import Summarizer
from apps.summarization.config import SummarizationSettings
from apps.translation.app import Translator
from apps.translation.config import TranslationSettings

CONFIG = yaml.safe_load((Path(__file__).resolve().parent.parent / "serve_config.yaml").read_text())
DEPLOYMENTS = {d["name"]: d for app in CONFIG["applications"] for d in app["deployments"]}
APPS = [
    ("translation", TranslationSettings, Translator),
    ("summarization", SummarizationSettings, Summarizer),
    ("router", RouterSettings, Router),
    ("router", FileStoreSettings, TranslatedFiles),
]


@pytest.mark.parametrize(("app", "settings_cls", "deployment"), APPS)
def test_serve_config_lists_every_setting_at_its_default(app, settings_cls, deployment):
    listed = DEPLOYMENTS[deployment.name]["user_config"]
    assert set(listed) == set(settings_cls.model_fields), app
    assert parse_user_config(settings_cls, listed, app) == settings_cls(), app


@pytest.mark.parametrize(("app", "settings_cls", "deployment"), APPS)
def test_the_decorator_says_what_serve_config_says(app, settings_cls, deployment):
    listed = DEPLOYMENTS[deployment.name]
    assert deployment.num_replicas == listed["num_replicas"]
    assert deployment.max_ongoing_requests == listed["max_ongoing_requests"]
    assert deployment.max_queued_requests == listed["max_queued_requests"]
    assert deployment.ray_actor_options == listed["ray_actor_options"]
    backpressure = deployment._deployment_config.backpressure_config
    assert backpressure.status_code == listed["backpressure_config"]["status_code"]
    assert backpressure.retry_after_s == listed["backpressure_config"]["retry_after_s"]
    assert deployment.user_config == {}  # the settings' defaults; serve_config.yaml lists them
