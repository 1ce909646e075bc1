"""The demo models of the other families (MarianMT, M2M100, NLLB, BART, PEGASUS): each built with
its real tokenizer class and proven exact, with margins, through transformers fp32 and CTranslate2
int8 on every int8 kernel, decoding through the family adapter that serving uses."""

import json

import pytest
from transformers import AutoTokenizer

from apps.common.engines.families import family_for
from textserve.demo_check import MIN_MARGIN, kernels, pairs_for
from textserve.demo_models import DEMO_SPECS, is_current
from textserve.demo_phrases import DEMO_PAIRS, all_directions, translation_pairs

# name -> (family, the tokenizer class AutoTokenizer loads; BartTokenizer is RobertaTokenizer in
# transformers 5)
FAMILY_DEMOS = {
    "demo-marian-de-en": ("marian", "MarianTokenizer"),
    "demo-marian-fr-en": ("marian", "MarianTokenizer"),
    "demo-nllb": ("nllb", "NllbTokenizer"),
    "demo-m2m100": ("m2m100", "M2M100Tokenizer"),
    "demo-bart-summarization": ("bart", "RobertaTokenizer"),
    "demo-pegasus-summarization": ("pegasus", "PegasusTokenizer"),
}
BACKENDS = ["transformers (fp32)"] + [f"ctranslate2 ({kernel})" for kernel in kernels()]


@pytest.mark.parametrize("name", FAMILY_DEMOS)
def test_each_family_demo_was_proven_exact_with_margins_on_every_backend(demo_models, name):
    """The build ran the check (every backend and kernel; a build that fails it raises, and leaves
    no marker) and wrote each one's smallest margin: read here, not decoded again (the suite's
    time; tests/textserve/test_demo_models.py runs the check itself, through its command)."""
    model_dir = demo_models[name]
    family, tokenizer_class = FAMILY_DEMOS[name]
    assert family_for(model_dir).name == family
    assert type(AutoTokenizer.from_pretrained(str(model_dir))).__name__ == tokenizer_class
    assert pairs_for(model_dir) == DEMO_PAIRS[name]()

    marker = json.loads((model_dir / "textserve_demo.json").read_text())
    assert marker["name"] == f"demo:{name}" and marker["build_version"] == DEMO_SPECS[name].build_version
    assert set(marker["smallest_margins"]) == set(BACKENDS)
    for label, margin in marker["smallest_margins"].items():
        assert margin >= MIN_MARGIN[label.split()[0]], (name, label, margin)


def test_the_multilingual_demos_know_their_languages(demo_models):
    assert family_for(demo_models["demo-nllb"]).languages() >= {"en", "de", "fr", "es"}
    assert family_for(demo_models["demo-m2m100"]).languages() >= {"en", "de", "fr"}
    assert family_for(demo_models["demo-nllb"]).target_prefix("es") == ["spa_Latn"]
    assert family_for(demo_models["demo-m2m100"]).target_prefix("de") == ["__de__"]


def test_every_direction_among_the_languages_is_trained():
    pairs = all_directions(("en", "de", "fr", "es"), 8)
    directions = {(p.source_lang, p.target_lang) for p in pairs}
    assert len(directions) == 12 and len(pairs) == 96
    # one output per input and direction, or greedy decoding could not be exact
    assert len({(p.source, p.source_lang, p.target_lang) for p in pairs}) == len(pairs)


def test_the_t5_demos_keep_their_pairs_and_their_build_version(demo_models):
    """A T5 demo built before the other families came is current: nothing rebuilds it."""
    assert len(translation_pairs()) == 60 and translation_pairs()[0] == (
        "translate English to French: Hello world!",
        "Bonjour le monde !",
    )
    for name in ("demo-translation", "demo-summarization"):
        assert DEMO_SPECS[name].build_version == 2 and is_current(demo_models[name])
