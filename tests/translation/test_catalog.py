"""The translation catalog without Ray: what the config may say (each bad entry named), and which
model, or which two through the pivot language, a pair is routed to."""

import pytest

from apps.common.errors import UserInputError
from apps.common.settings import parse_user_config
from apps.translation.catalog import Catalog
from apps.translation.config import TranslationSettings

CATALOG = [
    {"model": "t5", "pairs": {"en": ["fr", "de", "ro"]}},
    {"model": "marian-de-en", "pairs": {"de": ["en"]}},
    {"model": "marian-fr-en", "pairs": {"fr": ["en"]}},
    {"model": "nllb", "languages": ["en", "de", "fr", "es"]},
]


def settings(**changes) -> TranslationSettings:
    return parse_user_config(TranslationSettings, {"models": CATALOG, **changes}, "translation")


def refusal(**changes) -> str:
    with pytest.raises(ValueError) as refused:
        settings(**changes)
    return str(refused.value)


def test_a_pair_goes_to_the_first_model_that_lists_it():
    catalog = Catalog(settings())
    assert [leg.model for leg in catalog.route("en", "fr").legs] == ["t5"]
    assert [leg.model for leg in catalog.route("de", "en").legs] == ["marian-de-en"]
    assert [leg.model for leg in catalog.route("fr", "de").legs] == ["nllb"]  # a multilingual model
    assert [leg.model for leg in catalog.route("es", "en").legs] == ["nllb"]
    assert catalog.route(None, None).legs[0].source_lang == "en"  # the defaults
    assert catalog.route(None, None).via is None


def test_a_pair_no_model_serves_is_pivoted_through_english_when_both_halves_are():
    route = Catalog(settings()).route("de", "ro")  # de->en (Marian), en->ro (T5)
    assert [(leg.model, leg.source_lang, leg.target_lang) for leg in route.legs] == [
        ("marian-de-en", "de", "en"),
        ("t5", "en", "ro"),
    ]
    assert route.via == "en"


def test_without_a_pivot_such_a_pair_is_refused_naming_the_served_pairs():
    catalog = Catalog(settings(pivot_lang=None))
    with pytest.raises(UserInputError) as refused:
        catalog.route("de", "ro")
    assert "no model translates de->ro" in str(refused.value)
    assert "de->en,es,fr" in str(refused.value) and "en->de,es,fr,ro" in str(refused.value)


def test_a_pair_nothing_serves_even_through_the_pivot_is_refused():
    with pytest.raises(UserInputError, match=r"no model translates ro->de \(not even through en\)"):
        Catalog(settings()).route("ro", "de")
    with pytest.raises(UserInputError, match="both 'en': nothing to translate"):
        Catalog(settings()).route("en", "en")


def test_languages_list_every_source_with_its_targets_pivoted_ones_included():
    languages = {entry["code"]: entry for entry in Catalog(settings()).languages()}
    assert languages["de"] == {"code": "de", "name": "German", "targets": ["en", "es", "fr", "ro"]}
    assert languages["en"]["targets"] == ["de", "es", "fr", "ro"]
    assert "ro" not in languages  # no model reads Romanian


@pytest.mark.parametrize(
    ("catalog", "message"),
    [
        ([{"model": "m", "pairs": {"en": ["xx"]}}], "model 'm': unknown language code 'xx'"),
        ([{"model": "m"}], "model 'm': give either pairs (source: [targets]) or languages"),
        ([{"model": "m", "pairs": {"en": ["fr"]}, "languages": ["en", "fr"]}], "not both or neither"),
        ([{"model": "m", "languages": ["en"]}], "model 'm': languages must list at least two"),
        ([{"model": "m", "pairs": {"en": []}}], "model 'm': pairs for 'en' list no target"),
        ([{"model": "m", "pairs": {"en": ["en"]}}], "pair en->en translates a language into itself"),
        ([{"model": "m", "pairs": {"en": ["fr"]}, "extra": 1}], "models.0.extra: Extra inputs"),
        (
            [{"model": "m", "pairs": {"en": ["fr"]}}, {"model": "m", "pairs": {"en": ["de"]}}],
            "m listed twice",
        ),
        ([], "models: List should have at least 1 item"),
    ],
)
def test_a_bad_catalog_entry_is_refused_naming_it(catalog, message):
    assert message in refusal(models=catalog)


def test_the_defaults_must_be_served():
    assert "default_source_lang 'ro' is no model's source" in refusal(default_source_lang="ro")
    assert "default_target_lang: unknown language code 'xx'" in refusal(default_target_lang="xx")
    only_t5 = [{"model": "t5", "pairs": {"en": ["fr"]}}, {"model": "m", "pairs": {"de": ["en"]}}]
    assert "no model translates the default pair de->fr" in refusal(
        models=only_t5, default_source_lang="de", pivot_lang=None
    )
