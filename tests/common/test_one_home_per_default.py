"""Each default has one home: the settings classes. A setting's default is declared by one class
of a settings class's ancestry (a value that differs by app lives in each app's class, none in the
shared one), and no function or constructor in apps/ repeats a setting as a parameter default."""

import importlib
import inspect
import pkgutil

import pytest

import apps
from apps.common.settings import StrictSettings
from apps.router.config import RouterSettings
from apps.summarization.config import SummarizationSettings
from apps.translation.config import TranslationSettings

APP_SETTINGS = [TranslationSettings, SummarizationSettings, RouterSettings]
SETTING_NAMES = {name for cls in APP_SETTINGS for name in cls.model_fields}
# A decoding's own neutral values, not a setting's default: no length floor, greedy. A request's
# GenerationParams says what it asks; the settings say what a request gets when it asks nothing.
NEUTRAL = {"GenerationParams.__init__": {"min_new_tokens": 0, "num_beams": 1}}


def app_modules():
    for module in pkgutil.walk_packages(apps.__path__, "apps."):
        yield importlib.import_module(module.name)


def callables_of(module):
    """The functions and the methods of the classes a module defines."""
    for value in vars(module).values():
        if getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(value):
            yield value.__qualname__, value
        elif inspect.isclass(value):
            for name, member in vars(value).items():
                if inspect.isfunction(member):
                    yield f"{value.__qualname__}.{name}", member


@pytest.mark.parametrize("settings_cls", APP_SETTINGS, ids=lambda cls: cls.__name__)
def test_each_setting_has_its_default_in_one_class(settings_cls):
    for name in settings_cls.model_fields:
        homes = [
            cls.__name__
            for cls in settings_cls.__mro__
            if isinstance(cls, type)
            and issubclass(cls, StrictSettings)
            and name in inspect.get_annotations(cls)
            and not cls.model_fields[name].is_required()
        ]
        assert len(homes) == 1, f"{settings_cls.__name__}.{name}: default declared in {homes}"


def test_no_function_or_constructor_in_apps_defaults_a_setting():
    repeated = []
    for module in app_modules():
        for where, function in callables_of(module):
            for parameter in inspect.signature(function).parameters.values():
                neutral = NEUTRAL.get(where, {}).get(parameter.name, inspect.Parameter.empty)
                if parameter.default is neutral:
                    continue
                if parameter.name in SETTING_NAMES and parameter.default is not inspect.Parameter.empty:
                    repeated.append(f"{module.__name__}:{where}({parameter.name}={parameter.default!r})")
    assert not repeated, repeated


def test_the_walk_sees_the_classes_that_take_settings():
    """The walk above reaches the constructors and configure methods that take a setting."""
    seen = {where for module in app_modules() for where, _ in callables_of(module)}
    assert {"AdaptiveBatcher.__init__", "AdaptiveBatcher.configure", "PeerCalls.configure"} <= seen
    assert {"FanOutAdmission.__init__", "SentenceCache.__init__", "Seq2SeqGenerator.__init__"} <= seen
