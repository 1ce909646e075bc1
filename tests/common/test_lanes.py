"""A generator's lanes on the real engines (apps/common/lanes.py, generation.py): the bulk lane
decodes what the interactive lane decodes; CTranslate2 decodes bulk work on its own threads in
SCHED_IDLE, while the lanes' Python threads (which hold the GIL) keep the process's priority."""

import asyncio
import os
import threading

import psutil
import pytest

from apps.common.engines import GenerationParams, load_engine
from apps.common.generation import Seq2SeqGenerator
from apps.common.lanes import run_at_lower_priority, thread_is_lowered
from apps.common.scheduling import Ticket
from apps.translation.config import TranslationSettings
from textserve.demo_phrases import translation_pairs

CASES = translation_pairs()[:8]
PARAMS = GenerationParams(max_new_tokens=64)


def thread_cpu_seconds() -> dict[int, float]:
    """Every thread of this process: its id -> CPU seconds it has used (user + system)."""
    return {thread.id: thread.user_time + thread.system_time for thread in psutil.Process().threads()}


def lane_threads() -> list[int]:
    """The native ids of the lane threads (generation.py's ModelLane: "generate-<lane>")."""
    return [thread.native_id for thread in threading.enumerate() if thread.name.startswith("generate-")]


def test_threads_started_at_lower_priority_keep_it_and_the_caller_keeps_its_own():
    def start_a_thread() -> int:
        started = threading.Thread(target=threading.Event().wait, args=(5,), daemon=True)
        started.start()
        return started.native_id

    child = run_at_lower_priority(start_a_thread)
    assert thread_is_lowered(child)
    assert os.sched_getscheduler(child) == os.SCHED_IDLE  # Linux, no privilege needed
    assert not thread_is_lowered(threading.get_native_id())


@pytest.mark.parametrize("backend", ["ctranslate2", "transformers"])
def test_the_bulk_lane_decodes_the_same_and_ctranslate2_decodes_it_at_the_lowest_priority(
    demo_models, backend
):
    engine = load_engine(str(demo_models["demo-translation"]), backend, "cpu")
    # interactive calls take no bulk texts here, so each lane decodes its own class
    generator = Seq2SeqGenerator(engine, TranslationSettings(cache_entries=0, interactive_batch_size=1))
    prompts, expected = [p for p, _ in CASES], [e for _, e in CASES]

    async def both_lanes():
        bulk = generator.generate(prompts, PARAMS, ticket=Ticket("bulk"))
        interactive = generator.generate(prompts, PARAMS, ticket=Ticket("interactive"))
        return await asyncio.gather(bulk, interactive)

    assert asyncio.run(both_lanes()) == [expected, expected]
    assert lane_threads() and not any(thread_is_lowered(tid) for tid in lane_threads())

    async def bulk_only():
        for _ in range(20):
            await generator.generate(prompts * 4, PARAMS, ticket=Ticket("bulk"))

    before = thread_cpu_seconds()
    asyncio.run(bulk_only())
    used = {tid: cpu_s - before.get(tid, 0.0) for tid, cpu_s in thread_cpu_seconds().items()}
    lowered = sum(cpu_s for tid, cpu_s in used.items() if thread_is_lowered(tid))
    if backend == "ctranslate2":  # its decoding threads, made at the bulk lane's priority
        assert lowered > 0.8 * sum(used.values()), used
    else:  # transformers decodes on the lane's own thread, at the process's priority
        assert lowered == 0, used
    generator.configure(TranslationSettings(bulk_max_wait_s=0))  # no classes: no bulk lane
    assert asyncio.run(generator.generate(prompts[:1], PARAMS, ticket=Ticket("bulk"))) == expected[:1]
