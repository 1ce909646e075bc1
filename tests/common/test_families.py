"""What differs per model family (apps/common/engines/families.py), read from real checkpoints' files
(the demo models): the family chosen from config.json, language tokens, the window, and the
multilingual OPUS-MT target token, without loading a model."""

import json
import shutil

import pytest

from apps.common.engines.families import FamilyError, family_for

DEMO_FAMILIES = {  # demo model -> its family
    "demo-translation": "t5",
    "demo-summarization": "t5",
    "demo-marian-de-en": "marian",
    "demo-marian-fr-en": "marian",
    "demo-nllb": "nllb",
    "demo-m2m100": "m2m100",
    "demo-bart-summarization": "bart",
    "demo-pegasus-summarization": "pegasus",
}


def test_each_demo_model_gets_its_family(demo_models):
    assert {name: family_for(path).name for name, path in demo_models.items()} == DEMO_FAMILIES


def test_language_token_families_speak_iso_639_1(demo_models):
    nllb, m2m100 = family_for(demo_models["demo-nllb"]), family_for(demo_models["demo-m2m100"])
    assert nllb.source_tokens("Hallo Welt!", "de", "fr")[0] == "deu_Latn"
    assert nllb.source_tokens("Hallo Welt!", "de", "fr")[-1] == "</s>"
    assert nllb.target_prefix("fr") == ["fra_Latn"] and m2m100.target_prefix("de") == ["__de__"]
    assert {"en", "de", "fr", "es"} <= nllb.languages()
    assert nllb.missing_languages([("en", "fr"), ("xx", "en")]) == {"xx"}
    assert (
        nllb.text_from_tokens(["fra_Latn", *nllb.target_tokens("Bonjour le monde !")]) == "Bonjour le monde !"
    )


def test_t5_reads_its_task_from_a_prefix(demo_models):
    t5 = family_for(demo_models["demo-translation"])
    assert t5.task_prefix("translate", "en", "de") == "translate English to German: "
    assert t5.task_prefix("summarize") == "summarize: "
    assert family_for(demo_models["demo-bart-summarization"]).task_prefix("summarize") == ""


def test_the_window_never_passes_the_position_embeddings(demo_models):
    assert family_for(demo_models["demo-marian-de-en"]).max_input_tokens == 256  # tokenizer: 512
    assert family_for(demo_models["demo-bart-summarization"]).max_input_tokens == 512
    assert family_for(demo_models["demo-translation"]).max_input_tokens == 512


def test_a_multilingual_opus_model_gets_its_target_token_first(demo_models, tmp_path):
    model = tmp_path / "opus-mt-de-roa"  # as Helsinki-NLP's multilingual-target models write it
    shutil.copytree(demo_models["demo-marian-de-en"], model)
    vocab = json.loads((model / "vocab.json").read_text())
    pad = vocab.pop("<pad>")
    for token in (">>fra<<", ">>ita<<"):
        vocab[token] = len(vocab)
    vocab["<pad>"] = max(pad, len(vocab))
    (model / "vocab.json").write_text(json.dumps(vocab))
    marian = family_for(model)
    assert marian.source_tokens("Hallo Welt!", "de", "fr")[0] == ">>fra<<"
    assert marian.source_tokens("Hallo Welt!", "de", "it")[0] == ">>ita<<"
    assert marian.languages() == {"fr", "it"}
    assert marian.missing_languages([("de", "fr"), ("de", "es")]) == {"es"}  # only targets take a token
    one_pair = family_for(demo_models["demo-marian-de-en"])
    assert one_pair.languages() is None and one_pair.source_tokens("Hallo Welt!", "de", "en")[0] != ">>eng<<"


def test_a_family_not_served_is_refused_naming_those_that_are(demo_models, tmp_path):
    model = tmp_path / "gpt2"
    shutil.copytree(demo_models["demo-translation"], model)
    (model / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(FamilyError, match="model_type 'gpt2' is not served; textserve serves t5, marian"):
        family_for(model)
