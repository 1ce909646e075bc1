"""Build the demo models: tiny models of each family textserve serves, trained locally, in
seconds, on the fixed phrase set.

    python -m textserve.demo_models --out .models     # build what is missing or stale
    python -m textserve.demo_models --check DIR ...   # exit 0 when DIR is exact everywhere, else 1

writes `.models/demo-translation` and `.models/demo-summarization` (T5s: what `make run` serves)
and a model per other family (DEMO_SPECS; textserve.demo_families builds their parts), each a
normal transformers model directory (config, weights, its family's real tokenizer) plus a
`textserve_demo.json` marker. The model loader sees the marker and announces demo mode in the
replica logs and in every response's `model` field. Training goes on past the first exact greedy
decoding until every step's target token wins by a margin (textserve.demo_check.MIN_MARGIN)
through transformers fp32 and through CTranslate2 int8 on every int8 kernel; a build that gets no
such margins fails, naming the pairs, so tests can assert exact outputs on any machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from apps.common.model_loading import DEMO_MARKER
from textserve import demo_check
from textserve import demo_families as families
from textserve.demo_families import train_t5_tokenizer
from textserve.demo_phrases import DEMO_PAIRS, Pair

logger = logging.getLogger(__name__)

__all__ = ["DEMO_SPECS", "DemoBuildError", "build_demo_model", "ensure_demo_models", "train_t5_tokenizer"]


class DemoSpec(NamedTuple):
    prepare: Callable[[Path, list[Pair]], families.Prepared]
    steps: int  # training steps between checks
    # bump to rebuild existing directories of this model after changing its recipe
    build_version: int
    what: str  # what the marker's note calls it


DEMO_SPECS = {  # name: how it is built (its pairs: textserve.demo_phrases.DEMO_PAIRS)
    "demo-translation": DemoSpec(families.prepare_t5, 100, 2, "tiny T5"),
    "demo-summarization": DemoSpec(families.prepare_t5, 100, 2, "tiny T5"),
    "demo-marian-de-en": DemoSpec(families.prepare_marian, 50, 1, "tiny MarianMT (German to English)"),
    "demo-marian-fr-en": DemoSpec(families.prepare_marian, 50, 1, "tiny MarianMT (French to English)"),
    "demo-nllb": DemoSpec(families.prepare_nllb, 50, 1, "tiny NLLB-style M2M100 (en, de, fr, es)"),
    "demo-m2m100": DemoSpec(families.prepare_m2m100, 50, 1, "tiny M2M100 (en, de, fr)"),
    "demo-bart-summarization": DemoSpec(families.prepare_bart, 50, 2, "tiny BART"),
    "demo-pegasus-summarization": DemoSpec(families.prepare_pegasus, 50, 2, "tiny PEGASUS"),
}
MAX_STEPS = 3000  # a build not exact with margins by then fails
# The margin the training loss asks of every step in fp32: well above what the check needs of
# the int8 decoding, since 7-bit weights move a demo model's margins by up to ~5 (measured).
TRAIN_MARGIN = 8.0


class DemoBuildError(RuntimeError):
    """A demo model did not become exact, with margins, on every backend."""


def _margin_loss(logits, labels, margin: float):
    """Mean shortfall of each target step's margin (target logit minus best other) from `margin`."""
    import torch

    mask = labels != -100
    targets = labels.clamp(min=0)
    target_logit = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    others = logits.scatter(-1, targets.unsqueeze(-1), float("-inf")).amax(dim=-1)
    shortfall = torch.relu(margin - (target_logit - others))
    return (shortfall * mask).sum() / mask.sum()


def build_demo_model(name: str, out_dir: Path, max_steps: int = MAX_STEPS) -> Path:
    """Train one demo model into out_dir/name and prove it exact everywhere; return its directory.

    Raises DemoBuildError naming the pairs that are wrong or too close to wrong on some backend."""
    import torch

    from apps.common.engines.families import family_for

    spec = DEMO_SPECS[name]
    pairs = DEMO_PAIRS[name]()
    target = out_dir / name
    target.mkdir(parents=True, exist_ok=True)
    (target / DEMO_MARKER).unlink(missing_ok=True)  # nothing to serve until it is proven
    started = time.monotonic()

    torch.manual_seed(0)
    prepared = spec.prepare(target, pairs)
    model, tokenizer, labels = prepared.model, prepared.tokenizer, prepared.labels
    model.config.save_pretrained(str(target))  # the family comes from config.json
    family = family_for(target)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    results: list[demo_check.BackendResult] = []
    for step in range(1, max_steps + 1):
        model.train()
        out = model(**prepared.inputs, labels=labels)
        loss = out.loss + _margin_loss(out.logits, labels, TRAIN_MARGIN)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if prepared.after_step:
            prepared.after_step(model)
        if step % spec.steps:
            continue
        model.eval()
        fp32 = demo_check.measure_transformers(model, tokenizer, family, pairs)
        if not fp32.passed or fp32.min_margin < TRAIN_MARGIN / 2:
            continue  # the int8 check costs seconds; ask for it once fp32 is well clear
        model.save_pretrained(str(target))
        results = demo_check.check_model(target, pairs)
        if all(result.passed for result in results):
            break
    else:
        failed = [demo_check.describe(r) for r in results if not r.passed] or [
            demo_check.describe(demo_check.measure_transformers(model.eval(), tokenizer, family, pairs))
        ]
        raise DemoBuildError(
            f"demo model {name!r} is not exact with margins on every backend after {max_steps} "
            "steps:\n" + "\n".join(failed)
        )

    marker = {
        "name": f"demo:{name}",
        "build_version": spec.build_version,
        "note": f"{spec.what} trained on textserve's fixed demo phrase set; not a real model",
        "smallest_margins": {r.label: round(r.min_margin, 3) for r in results},
    }
    (target / DEMO_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    logger.info(
        "built %s in %.1f s (%d steps); smallest margins: %s",
        target,
        time.monotonic() - started,
        step,
        ", ".join(f"{label} {m}" for label, m in marker["smallest_margins"].items()),
    )
    return target


def is_current(model_dir: Path) -> bool:
    """The directory holds a demo model built by its spec's current recipe."""
    marker = model_dir / DEMO_MARKER
    spec = DEMO_SPECS.get(model_dir.name)
    if spec is None or not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("build_version") == spec.build_version
    except (OSError, ValueError):
        return False


def ensure_demo_models(out_dir: Path, force: bool = False) -> dict[str, Path]:
    """Build whichever demo models are missing or stale; return {name: directory}."""
    out_dir = Path(out_dir).resolve()
    built = {}
    for name in DEMO_SPECS:
        target = out_dir / name
        if force or not is_current(target):
            build_demo_model(name, out_dir)
        built[name] = target
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".models", help="directory to write the demo models into")
    parser.add_argument("--force", action="store_true", help="rebuild even if they are current")
    parser.add_argument(
        "--check",
        nargs="+",
        type=Path,
        metavar="DIR",
        help="only check these demo model directories: exit 0 when each decodes every pair exactly "
        "with margins on every backend, else 1 with the mismatches per backend",
    )
    demo_check.add_weight_bits_option(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.check:
        return demo_check.run_check(args.check, args.int8_weight_bits)
    for name, path in ensure_demo_models(Path(args.out), force=args.force).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
