"""A generator's lanes on the real engines (apps/common/lanes.py, generation.py): the bulk lane
decodes what the interactive lane decodes, on threads at a lower OS priority; the engines'
own decoding threads (CTranslate2's) inherit it."""

import asyncio
import os

import pytest

from apps.common.engines import GenerationParams, load_engine
from apps.common.generation import Seq2SeqGenerator
from apps.common.lanes import BULK_NICE, thread_nice
from apps.common.scheduling import Ticket
from apps.translation.config import TranslationSettings
from textserve.demo_phrases import translation_pairs

CASES = translation_pairs()[:8]
PARAMS = GenerationParams(max_new_tokens=64)


def thread_nices() -> dict[int, int]:
    """Every thread of this process: its id -> its nice value."""
    nices = {}
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/stat") as stat:
            nices[int(task)] = int(stat.read().rsplit(")", 1)[1].split()[16])
    return nices


@pytest.mark.parametrize("backend", ["ctranslate2", "transformers"])
def test_the_bulk_lane_decodes_the_same_at_a_lower_priority(demo_models, backend):
    engine = load_engine(str(demo_models["demo-translation"]), backend)
    before = thread_nices()
    generator = Seq2SeqGenerator(engine)
    generator.configure(TranslationSettings(model="m", cache_entries=0))
    prompts, expected = [p for p, _ in CASES], [e for _, e in CASES]

    async def both_lanes():
        bulk = generator.generate(prompts, PARAMS, ticket=Ticket("bulk"))
        interactive = generator.generate(prompts, PARAMS, ticket=Ticket("interactive"))
        return await asyncio.gather(bulk, interactive)

    assert asyncio.run(both_lanes()) == [expected, expected]
    new = {tid: nice for tid, nice in thread_nices().items() if tid not in before}
    base = thread_nice()
    assert sorted(new.values()).count(base + BULK_NICE) >= (2 if backend == "ctranslate2" else 1), new
    assert base in new.values()  # the interactive lane's thread
    generator.configure(TranslationSettings(model="m", bulk_max_wait_s=0))  # no classes: no bulk lane
    assert asyncio.run(generator.generate(prompts[:1], PARAMS, ticket=Ticket("bulk"))) == expected[:1]
