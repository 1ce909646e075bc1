"""The store of translated files (apps/router/file_store.py), on a clock the test moves: a file
is kept for ttl_s, the store within max_bytes (the oldest dropped first), and a file is given
only to the tenant that made it, by its whole name."""

import pytest

from apps.common.errors import InputTooLargeError
from apps.router.config import FileStoreSettings
from apps.router.file_store import FileStore

MIB = 1_048_576


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def store(clock, **settings) -> FileStore:
    return FileStore(FileStoreSettings(**{"ttl_s": 60, "max_bytes": 2 * MIB, **settings}), clock)


def test_a_file_is_kept_for_ttl_s_for_its_tenant_only(clock):
    files = store(clock)
    name = files.put(b"Bonjour", "notes.fr.txt", "text/plain", "tenant-a")
    token, _, filename = name.partition(".")
    assert filename == "notes.fr.txt" and len(token) == 24
    assert files.get(name, "tenant-a").content == b"Bonjour"
    assert files.get(name, "tenant-b") is None
    assert files.get(name, None) is None
    assert files.get(f"{token}.other.txt", "tenant-a") is None
    clock.now += 60
    assert files.get(name, "tenant-a") is None


def test_the_oldest_files_go_first_to_keep_within_max_bytes(clock):
    files = store(clock)
    names = [files.put(bytes(MIB - 10), f"{n}.txt", "text/plain", None) for n in range(3)]
    assert files.get(names[0], None) is None
    assert files.get(names[1], None) is not None and files.get(names[2], None) is not None


def test_a_shorter_ttl_applies_to_the_files_kept(clock):
    files = store(clock, ttl_s=600)
    name = files.put(b"x", "a.txt", "text/plain", None)
    files.configure(FileStoreSettings(ttl_s=60, max_bytes=2 * MIB))
    clock.now += 120
    later = files.put(b"y", "b.txt", "text/plain", None)
    assert files.get(later, None) is not None
    assert files.get(name, None) is not None  # made under the old ttl: kept until then


def test_a_file_larger_than_the_store_is_413(clock):
    with pytest.raises(InputTooLargeError, match="more than this service keeps"):
        store(clock).put(bytes(2 * MIB + 1), "big.docx", "application/octet-stream", None)
