"""Where a model runs: `device` in a model app's user_config (cpu, cuda or auto), resolved against
the CUDA devices the backend itself sees, before anything heavy is loaded.

- `cpu`: always; nothing is probed.
- `cuda`: the first CUDA device the replica sees (Ray sets CUDA_VISIBLE_DEVICES to the GPUs it
  assigned the replica: `ray_actor_options.num_gpus`). None there: ModelLoadError, saying so.
- `auto`: cuda when the backend sees a CUDA device, else cpu.

CTranslate2 computes in a type per device (the weights are the same int8 conversion on both):
int8 on CPU, int8_float16 (int8 weights, float16 activations) on CUDA. The transformers backend
runs fp32 on either.
"""

from __future__ import annotations

import logging
import os
from typing import get_args

from apps.common.model_loading import ModelLoadError
from apps.common.settings import Device

logger = logging.getLogger("ray.serve")

DEVICES: tuple[str, ...] = get_args(Device)
CT2_COMPUTE_TYPES = {"cpu": "int8", "cuda": "int8_float16"}


def _cuda_probe(backend: str) -> tuple[int, str]:
    """(CUDA devices the backend sees, how it was asked and what it said)."""
    if backend == "ctranslate2":
        import ctranslate2

        try:
            count = ctranslate2.get_cuda_device_count()
        except Exception as exc:  # a broken driver: report it as no device, with the reason
            return 0, f"ctranslate2.get_cuda_device_count() failed: {exc}"
        return count, f"ctranslate2.get_cuda_device_count() is {count}"
    import torch

    if not torch.cuda.is_available():
        build = "" if torch.version.cuda else f"; torch {torch.__version__} is a CPU-only build"
        return 0, f"torch.cuda.is_available() is False{build}"
    count = torch.cuda.device_count()
    return count, f"torch.cuda.device_count() is {count}"


def _assigned_gpus() -> list[str] | None:
    """The GPUs Ray assigned this process (a replica), or None outside a Ray worker."""
    try:
        import ray

        if not ray.is_initialized():
            return None
        return list(ray.get_runtime_context().get_accelerator_ids().get("GPU", []))
    except Exception:  # not in a worker, or an older Ray: nothing to say
        return None


def resolve_device(device: str, backend: str) -> str:
    """`cpu` or `cuda` for the configured `device` on `backend`; ModelLoadError for `cuda` where
    the backend sees no CUDA device."""
    if device not in DEVICES:
        raise ModelLoadError(f"unknown device '{device}': set `device` to one of {list(DEVICES)}")
    if device == "cpu":
        return "cpu"
    count, probe = _cuda_probe(backend)
    if count == 0:
        if device == "auto":
            logger.info("device: auto -> cpu (%s)", probe)
            return "cpu"
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        hidden = "" if visible is None else f"; CUDA_VISIBLE_DEVICES={visible!r}"
        raise ModelLoadError(
            f"device: cuda, but there is no CUDA device for the {backend} backend on this node "
            f"({probe}{hidden}). Set `device: cpu` in the app's user_config (or `device: auto`: "
            "cuda where a replica sees a GPU, else cpu); to run on GPUs, deploy to GPU nodes and "
            "give the deployment `ray_actor_options.num_gpus` (deploy/serve_config.gpu.yaml)"
        )
    if _assigned_gpus() == []:
        logger.warning(
            "device: %s runs on a CUDA device, but Ray assigned this replica no GPU "
            "(ray_actor_options.num_gpus is 0): it shares a GPU that Ray may give to others; "
            "set num_gpus (e.g. 0.5) for the deployment",
            device,
        )
    return "cuda"
