"""What machine a result came from: the CPU's model, family and the instruction sets that pick
the int8 and fp32 kernels (figures differ about 2x between CPUs of one kind of machine)."""

from __future__ import annotations

import platform
from pathlib import Path

# Flags that change which kernels CTranslate2 (MKL, oneDNN) and torch run
KERNEL_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8")


def describe_cpu() -> dict:
    """{machine, vendor, model, family, model_number, flags} of the first CPU in /proc/cpuinfo."""
    info = {
        "machine": platform.machine(),
        "vendor": "",
        "model": platform.processor() or "",
        "family": None,
        "model_number": None,
        "flags": [],
    }
    try:  # /proc, not psutil: psutil gives no CPU model, vendor, family or flags
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    fields = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the first processor is enough
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    present = set(fields.get("flags", "").split())
    info.update(
        vendor=fields.get("vendor_id", ""),
        model=fields.get("model name", info["model"]),
        family=int(fields["cpu family"]) if fields.get("cpu family", "").isdigit() else None,
        model_number=int(fields["model"]) if fields.get("model", "").isdigit() else None,
        flags=[flag for flag in KERNEL_FLAGS if flag in present],
    )
    return info


def cpu_line(cpu: dict) -> str:
    """'Intel(R) Xeon(R) Processor (GenuineIntel family 6 model 207; avx2 avx512f ...)'"""
    if cpu.get("flags") is None:  # a result recorded before the flags were
        return f"{cpu.get('model')} (family and flags not recorded)"
    flags = " ".join(cpu["flags"]) or "no AVX2"
    return (
        f"{cpu.get('model')} ({cpu.get('vendor')} family {cpu.get('family')} model "
        f"{cpu.get('model_number')}; {flags})"
    )
