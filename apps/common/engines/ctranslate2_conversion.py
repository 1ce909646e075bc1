"""Convert a transformers checkpoint to CTranslate2 int8, once per model version, into a cache
directory outside the repo (`TEXTSERVE_CACHE_DIR`, default ~/.cache/textserve).

The conversion runs in a child process (`python -m apps.common.engines.ctranslate2_conversion SRC
OUT`) so the serving replica never loads torch and stays small. Replicas that start together take
a file lock: one converts, the others wait and reuse its result.
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

    digest = hashlib.sha256(f"{model_dir.resolve()}|{ctranslate2.__version__}|{QUANTIZATION}".encode())
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


def _convert(model_dir: str, out: str) -> None:
    from ctranslate2.converters import TransformersConverter

    # The model dir must hold its tokenizer: without it the converter silently invents a vocabulary.
    if not (Path(model_dir) / "tokenizer.json").is_file():
        raise SystemExit(f"{model_dir} holds no tokenizer.json")
    TransformersConverter(model_dir).convert(out, quantization=QUANTIZATION, force=True)


if __name__ == "__main__":
    _convert(sys.argv[1], sys.argv[2])
