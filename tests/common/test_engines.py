"""The two backends on the demo models: CTranslate2 int8 must decode exactly what transformers
decodes, and its conversion runs once per model and is cached outside the repo."""

import shutil

import pytest

from apps.common.engines import GenerationParams, load_engine
from apps.common.engines.ctranslate2_conversion import cache_root
from apps.common.model_loading import ModelLoadError
from tests.common.test_families import DEMO_FAMILIES
from textserve.demo_phrases import summarization_pairs, translation_pairs

TRANSLATION_PROMPTS = translation_pairs()  # (T5 prompt, expected output), all 20 sentences x 3 languages
SUMMARY_PROMPTS = summarization_pairs()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory, monkeypatch_module):
    path = tmp_path_factory.mktemp("textserve-cache")
    monkeypatch_module.setenv("TEXTSERVE_CACHE_DIR", str(path))
    return path


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.mark.parametrize(
    ("model", "cases"),
    [("demo-translation", TRANSLATION_PROMPTS), ("demo-summarization", SUMMARY_PROMPTS)],
)
def test_ctranslate2_int8_decodes_exactly_as_transformers(demo_models, cache_dir, model, cases):
    hf = load_engine(str(demo_models[model]), "transformers", "cpu")
    ct2 = load_engine(str(demo_models[model]), "ctranslate2", "cpu")
    prompts, expected = [p for p, _ in cases], [e for _, e in cases]
    params = GenerationParams(max_new_tokens=128)
    assert hf.generate(prompts, params) == expected
    assert ct2.generate(prompts, params) == expected
    one_by_one = [ct2.generate([p], params)[0] for p in prompts[:8]]
    assert one_by_one == expected[:8]  # padding in a batch changes nothing
    assert ct2.name == hf.name == f"demo:{model}" and ct2.backend == "ctranslate2"


def test_conversion_is_cached_and_redone_when_the_model_changes(demo_models, cache_dir, tmp_path):
    model_dir = tmp_path / "copy"
    shutil.copytree(demo_models["demo-translation"], model_dir)
    first = load_engine(str(model_dir), "ctranslate2", "cpu").model_dir
    assert first.is_relative_to(cache_root()) and (first / "model.bin").is_file()
    stamp = (first / "model.bin").stat().st_mtime_ns
    assert load_engine(str(model_dir), "ctranslate2", "cpu").model_dir == first
    assert (first / "model.bin").stat().st_mtime_ns == stamp  # not converted again

    (model_dir / "config.json").write_text((model_dir / "config.json").read_text() + "\n")
    assert load_engine(str(model_dir), "ctranslate2", "cpu").model_dir != first


def test_a_model_without_tokenizer_is_refused_with_the_reason(demo_models, cache_dir, tmp_path):
    model_dir = tmp_path / "no-tokenizer"
    shutil.copytree(demo_models["demo-translation"], model_dir)
    for name in ("tokenizer.json", "spiece.model", "tokenizer_config.json", "special_tokens_map.json"):
        (model_dir / name).unlink(missing_ok=True)
    with pytest.raises(ModelLoadError, match="tokenizer"):
        load_engine(str(model_dir), "ctranslate2", "cpu")


@pytest.mark.parametrize("backend", ["transformers", "ctranslate2"])
def test_counting_tokens_while_a_batch_decodes_changes_nothing(demo_models, cache_dir, backend):
    """The replica counts a new request's tokens on its event loop while the model thread decodes
    a batch. A tokenizer's padding state shared between the two once made the batch ragged (500)."""
    import threading

    engine = load_engine(str(demo_models["demo-translation"]), backend, "cpu")
    prompts, expected = [p for p, _ in TRANSLATION_PROMPTS], [e for _, e in TRANSLATION_PROMPTS]
    stop = threading.Event()

    def count_forever():
        while not stop.is_set():
            for prompt in prompts:
                engine.count_tokens(prompt)

    counter = threading.Thread(target=count_forever, daemon=True)
    counter.start()
    try:
        for _ in range(15):
            assert engine.generate(prompts, GenerationParams(max_new_tokens=128)) == expected
    finally:
        stop.set()
        counter.join()


# the demo models of the families beside T5 (T5's are decoded above)
FAMILIES = {model: family for model, family in DEMO_FAMILIES.items() if family != "t5"}


@pytest.mark.parametrize("backend", ["transformers", "ctranslate2"])
@pytest.mark.parametrize("model", sorted(FAMILIES))
def test_every_family_decodes_its_demo_pairs_exactly_through_the_engines(
    demo_models, model, backend, monkeypatch
):
    """The engines as replicas run them (families.py's tokens, language tokens and prefixes), one
    batch per language pair, as the batcher groups them. In the default conversion cache, shared
    with the session's replicas (this module's other tests convert into a cache of their own)."""
    monkeypatch.delenv("TEXTSERVE_CACHE_DIR", raising=False)
    from itertools import groupby

    from textserve.demo_phrases import DEMO_PAIRS

    engine = load_engine(str(demo_models[model]), backend, "cpu")
    assert engine.family.name == FAMILIES[model] and engine.name == f"demo:{model}"
    pairs = sorted(DEMO_PAIRS[model](), key=lambda p: (p.source_lang or "", p.target_lang or ""))
    for (source, target), group in groupby(pairs, key=lambda p: (p.source_lang, p.target_lang)):
        group = list(group)
        params = GenerationParams(max_new_tokens=128, source_lang=source, target_lang=target)
        prompts = [engine.family.task_prefix(p.task, source, target) + p.source for p in group]
        assert engine.generate(prompts, params) == [p.target for p in group], (source, target)


def test_a_model_that_ships_a_vocabulary_map_decodes_with_it(demo_models, cache_dir, tmp_path):
    """CTranslate2's use_vmap: a model directory with a vmap.txt keeps it through the conversion,
    and the engine decodes with it (here a map that admits every token: the same outputs)."""
    import json

    from textserve.demo_phrases import DEMO_PAIRS

    model_dir = tmp_path / "nllb-with-vmap"
    shutil.copytree(demo_models["demo-nllb"], model_dir)
    plain = load_engine(str(demo_models["demo-nllb"]), "ctranslate2", "cpu")
    vocabulary = json.loads((plain.model_dir / "shared_vocabulary.json").read_text())
    (model_dir / "vmap.txt").write_text("\t" + " ".join(vocabulary) + "\n", encoding="utf-8")
    engine = load_engine(str(model_dir), "ctranslate2", "cpu")
    assert engine.use_vmap and not plain.use_vmap and (engine.model_dir / "vmap.txt").is_file()
    german = [p for p in DEMO_PAIRS["demo-nllb"]() if (p.source_lang, p.target_lang) == ("en", "de")]
    params = GenerationParams(max_new_tokens=64, source_lang="en", target_lang="de")
    assert engine.generate([p.source for p in german], params) == [p.target for p in german]
