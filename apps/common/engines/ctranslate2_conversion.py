"""Convert a transformers checkpoint to CTranslate2 int8, once per model version, into a cache
directory outside the repo (`TEXTSERVE_CACHE_DIR`, default ~/.cache/textserve).

The conversion runs in a child process (`python -m apps.common.engines.ctranslate2_conversion SRC
OUT`) so the serving replica never loads torch and stays small. Replicas that start together take
a file lock: one converts, the others wait and reuse its result.

Weights are quantized to 7 bits (|w| <= 63) rather than CTranslate2's 8. CPUs without VNNI (AVX2
and AVX-512F alike) multiply int8 in pairs summed into a saturating int16, so 8-bit weights
overflow there and the same model decodes differently from a VNNI CPU; with 7 bits no pair can
overflow and every CPU computes the same integer products (docs/decisions.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

logger = logging.getLogger("ray.serve")

QUANTIZATION = "int8"
VMAP_FILE = "vmap.txt"  # CTranslate2's vocabulary mapping, where a model ships one (use_vmap)
WEIGHT_BITS = 7  # |w| <= 2**(bits-1) - 1; 255 * 63 * 2 < 32767, the int16 pair sum of AVX2 kernels
CONVERSION_TIMEOUT_S = 1800
_MODEL_FILES = re.compile(r".*\.(json|safetensors|bin|model|txt)$")


class ConversionError(RuntimeError):
    pass


def cache_root() -> Path:
    if os.environ.get("TEXTSERVE_CACHE_DIR"):
        return Path(os.environ["TEXTSERVE_CACHE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "textserve"


def _fingerprint(model_dir: Path) -> str:
    """Changes when the checkpoint's files or the CTranslate2 version change."""
    import ctranslate2

    recipe = f"{ctranslate2.__version__}|{QUANTIZATION}|w{WEIGHT_BITS}"
    digest = hashlib.sha256(f"{model_dir.resolve()}|{recipe}".encode())
    for path in sorted(model_dir.iterdir()):
        if path.is_file() and _MODEL_FILES.match(path.name):
            stat = path.stat()
            digest.update(f"|{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def converted_model_dir(model_dir: Path) -> Path:
    """The CTranslate2 directory for `model_dir`, converting it first if the cache lacks it."""
    safe_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_dir.name) or "model"
    out = cache_root() / "ctranslate2" / f"{safe_name}-{_fingerprint(model_dir)}-{QUANTIZATION}"
    if (out / "model.bin").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f"{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another replica may be converting the same model
        if (out / "model.bin").is_file():
            return out
        tmp = out.parent / f"{out.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        started = time.monotonic()
        logger.info("converting %s to CTranslate2 %s in %s", model_dir, QUANTIZATION, out)
        done = subprocess.run(
            [sys.executable, "-m", __name__, str(model_dir), str(tmp)],
            capture_output=True,
            text=True,
            timeout=CONVERSION_TIMEOUT_S,
        )
        if done.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise ConversionError(f"converting {model_dir} to CTranslate2 failed: {' | '.join(tail)}")
        os.replace(tmp, out)
        logger.info("converted %s in %.1f s", model_dir, time.monotonic() - started)
    return out


def _load_spec(model_dir: str):
    """CTranslate2's model spec of the checkpoint, by TransformersConverter with its loaders mended
    where they misread transformers 5's tokenizers (for this call only).

    M2M100 (CTranslate2 4.8): the loader takes the language tokens (`__de__`) from the tokenizer's
    additional_special_tokens, which transformers 5's M2M100Tokenizer leaves empty (it keeps them in
    lang_token_to_id, ids after vocab.json), so the vocabulary came out 100 tokens short of the
    model's ("Source vocabulary 0 has size 309 but the model expected a vocabulary of size 409").
    Mended: the vocabulary in id order -- vocab.json, the language tokens, then fairseq's
    madeupwords. NLLB's tokenizer has its language tokens in its vocabulary: read as before."""
    import itertools

    from ctranslate2.converters import TransformersConverter
    from ctranslate2.converters import transformers as loaders

    class M2M100Loader(loaders.M2M100Loader):
        def get_vocabulary(self, model, tokenizer):
            tokens = super().get_vocabulary(model, tokenizer)
            languages = getattr(tokenizer, "lang_token_to_id", None) or {}
            if set(languages) <= set(tokens):
                return tokens
            by_id = {i: token for token, i in {**tokenizer.get_vocab(), **languages}.items()}
            madeup = (f"madeupword{i}" for i in itertools.count())
            return [by_id.get(i) or next(madeup) for i in range(model.config.vocab_size)]

    mended = {"M2M100Config": M2M100Loader()}
    originals = {name: loaders._MODEL_LOADERS[name] for name in mended}
    loaders._MODEL_LOADERS.update(mended)
    try:
        return TransformersConverter(model_dir)._load()
    finally:
        loaders._MODEL_LOADERS.update(originals)


def convert_checkpoint(model_dir: str, out: str, weight_bits: int = WEIGHT_BITS) -> None:
    """Write the CTranslate2 int8 model of the transformers checkpoint `model_dir` into `out`,
    each weight row scaled so its largest value is 2**(weight_bits-1) - 1 (8: CTranslate2's own)."""
    import numpy as np
    from ctranslate2.specs import model_spec

    from apps.common.engines.families import FamilyError, family_for
    from apps.common.engines.tokenizer_files import TokenizerFilesError

    # The model dir must hold its tokenizer: without it the converter silently invents a vocabulary.
    try:
        family_for(Path(model_dir)).check_tokenizer()
    except (FamilyError, TokenizerFilesError) as exc:
        raise SystemExit(str(exc)) from None
    largest = float(2 ** (weight_bits - 1) - 1)
    # What TransformersConverter.convert does, with our quantization in place of its optimize step
    spec = _load_spec(model_dir)
    spec.validate()
    spec.optimize(quantization="float32")  # shares repeated weights; float32 everywhere

    def quantize(layer, name: str, value) -> None:
        key = name.rsplit("/", 1)[-1]
        if not isinstance(value, model_spec.Variable) or value.is_scalar():
            return
        if not hasattr(layer, f"{key}_scale"):  # CTranslate2 quantizes exactly these (GEMM weights)
            return
        weights = value.to("float32").numpy()
        rows = weights.reshape(weights.shape[0], -1)
        amax = np.abs(rows).max(axis=1)
        amax[amax == 0] = largest
        scale = (largest / amax).astype(np.float32)
        quantized = np.rint(rows * scale[:, None]).astype(np.int8).reshape(weights.shape)
        setattr(layer, key, model_spec.NumpyVariable(quantized))
        setattr(layer, f"{key}_scale", model_spec.NumpyVariable(scale))

    model_spec.visit_spec(spec, quantize)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    spec.save(out)
    vmap = Path(model_dir) / VMAP_FILE
    if vmap.is_file():  # the model's vocabulary mapping: decoding then scores only what it maps to
        shutil.copyfile(vmap, Path(out) / VMAP_FILE)


if __name__ == "__main__":
    convert_checkpoint(sys.argv[1], sys.argv[2], *(int(arg) for arg in sys.argv[3:]))
