"""`python -m bench --quick` end to end, as `make bench` runs it: the raw engine, the reference on
Serve's proxy, ours on HAProxy (two Ray clusters started and stopped by one driver), the open-loop
ladder; it exits 0, and every cell of ours decoded every request it answered, from distinct texts."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_quick_bench_exits_zero_with_every_request_of_ours_decoded(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "bench", "--quick", "--peers", "", "--workloads", "translate"]
    done = subprocess.run(
        [*command, "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    # 139 (-11): the segfault at exit that Ray's metrics thread caused (bench/cluster.exit_driver)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.stdout.strip().splitlines()[-1].startswith("translate_x=")
    [saved] = tmp_path.glob("*-quick.json")
    results = json.loads(saved.read_text())
    ours = [c for c in results["cells"] if c["system"] == "ours-ctranslate2"]
    assert [c["clients"] for c in ours] == [1, 32]
    for cell in ours:
        assert cell["decoded"]["cache_hits"] == 0, cell
        assert cell["answered"] > 0 and cell["decoded"]["decoded_texts"] >= cell["answered"], cell
        assert cell["sent"] <= results["workloads"]["translate"]["texts"]
    [ladder] = [o for o in results["open_loop"] if o["system"] == "ours-ctranslate2"]
    assert ladder["decoded"]["cache_hits"] == 0 and ladder["answered"] > 0
    assert not any(c.get("invalid") for c in results["cells"] + results["open_loop"])
    raw = max(r["texts_per_s"] for r in results["raw"])
    assert all(c["throughput"] <= 1.05 * raw for c in results["cells"])
