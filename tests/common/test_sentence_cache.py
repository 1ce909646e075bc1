"""The sentence cache (apps/common/sentence_cache.py): what a lookup decodes, keeps and drops."""

from apps.common.engines import GenerationParams
from apps.common.sentence_cache import SentenceCache

SHORT, LONG = GenerationParams(max_new_tokens=8), GenerationParams(max_new_tokens=64)


def decode(lookup) -> list[str]:
    """Fill a lookup as the model would: the output of a prompt is the prompt upper-cased."""
    lookup.fill(0, [prompt.upper() for prompt in lookup.misses])
    return lookup.take_ready()


def test_a_prompt_repeated_in_one_request_is_decoded_once():
    lookup = SentenceCache(100).lookup(SHORT, ["a", "b", "a", "c", "b"])
    assert lookup.misses == ["a", "b", "c"] and lookup.hits == 2
    assert decode(lookup) == ["A", "B", "A", "C", "B"]


def test_a_decoded_prompt_is_served_from_the_cache_with_the_same_params_only():
    cache = SentenceCache(100)
    decode(cache.lookup(SHORT, ["a", "b"]))
    again = cache.lookup(SHORT, ["b", "a", "new"])
    assert again.misses == ["new"] and again.hits == 2
    assert decode(again) == ["B", "A", "NEW"]
    other = cache.lookup(LONG, ["a"])  # other generation params: another output
    assert other.misses == ["a"]


def test_the_least_recently_used_entry_goes_first():
    cache = SentenceCache(2)
    decode(cache.lookup(SHORT, ["a", "b"]))
    decode(cache.lookup(SHORT, ["a"]))  # a is now the most recent
    decode(cache.lookup(SHORT, ["c"]))  # b goes
    assert len(cache) == 2
    assert cache.lookup(SHORT, ["a", "b", "c"]).misses == ["b"]
    cache.resize(1)
    assert len(cache) == 1


def test_no_entries_means_no_cache_and_every_prompt_decoded():
    cache = SentenceCache(0)
    lookup = cache.lookup(SHORT, ["a", "a"])
    assert lookup.misses == ["a", "a"] and lookup.hits == 0
    assert decode(lookup) == ["A", "A"] and len(cache) == 0


def test_outputs_are_taken_in_order_as_the_runs_before_them_finish():
    cache = SentenceCache(100)
    decode(cache.lookup(SHORT, ["x"]))
    lookup = cache.lookup(SHORT, ["x", "a", "b", "x", "c"])
    assert lookup.misses == ["a", "b", "c"]
    assert lookup.take_ready() == ["X"]  # cached, known before anything is decoded
    lookup.fill(1, ["B"])  # b's run finished before a's: nothing new in order yet
    assert lookup.take_ready() == []
    lookup.fill(0, ["A"])
    assert lookup.take_ready() == ["A", "B", "X"]
    lookup.fill(2, ["C"])
    assert lookup.take_ready() == ["C"]
