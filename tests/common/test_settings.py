"""The strict settings: renamed keys are refused with their new names, in every app they apply to."""

import pytest

from apps.common.settings import RENAMED_KEYS, parse_user_config
from apps.router.config import RouterSettings
from apps.summarization.config import SummarizationSettings
from apps.translation.config import TranslationSettings


@pytest.mark.parametrize("settings_cls", [SummarizationSettings, TranslationSettings])
@pytest.mark.parametrize(("old", "new"), sorted(RENAMED_KEYS.items()))
def test_a_renamed_key_is_refused_naming_the_new_one(settings_cls, old, new):
    with pytest.raises(ValueError) as refused:
        parse_user_config(settings_cls, {old: 4}, "summarization")
    message = str(refused.value)
    assert f"{old} is now {new}" in message and "invalid user_config for the summarization app" in message
    assert getattr(parse_user_config(settings_cls, {new: 4}, "summarization"), new) == 4


def test_the_old_names_are_plain_unknown_keys_where_the_new_ones_do_not_apply():
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        parse_user_config(RouterSettings, {"chunk_timeout_s": 20}, "router")


def test_the_translation_apps_single_model_keys_are_refused_pointing_at_the_catalog():
    with pytest.raises(ValueError) as refused:
        parse_user_config(
            TranslationSettings, {"model": "t5-small", "languages": {"fr": "French"}}, "translation"
        )
    message = str(refused.value)
    assert "replaced keys: languages: each model's pairs are listed under `models`" in message
    assert "model: the translation app serves a catalog" in message
