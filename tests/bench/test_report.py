"""Every benchmark result names the machine that made it: the CPU's model, vendor, family and the
instruction sets that choose the kernels (figures differ about 2x between CPUs of one kind)."""

import json
from pathlib import Path

from bench import report
from textserve.machine import KERNEL_FLAGS


def test_the_machine_record_names_the_cpu_and_its_kernel_flags():
    machine = report.machine()
    cpuinfo = Path("/proc/cpuinfo").read_text()
    first = cpuinfo.split("\n\n")[0]
    flags = next(line for line in first.splitlines() if line.startswith("flags")).split(":", 1)[1].split()
    assert machine["cpu_flags"] == [flag for flag in KERNEL_FLAGS if flag in flags]
    assert f"cpu family\t: {machine['cpu_family']}" in first
    assert f"vendor_id\t: {machine['cpu_vendor']}" in first
    assert machine["cpu"] in first and machine["cores"] >= 1
    json.dumps(machine)  # goes into the results' JSON as it is


def test_the_table_starts_with_the_machine():
    machine = report.machine()
    results = {
        "machine": machine,
        "plan": {"workloads": [], "clients": [], "systems": [], "raw_processes": 2},
        "workloads": {},
        "memory": [],
        "raw": [],
    }
    first = report.table(results).splitlines()[0]
    assert first.startswith(f"machine: {machine['cpu']} ({machine['cpu_vendor']} family ")
    assert " ".join(machine["cpu_flags"]) in first and f"{machine['cores']} cores" in first
