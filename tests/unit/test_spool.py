"""The fan-out spool: verified copies only, bounded, nothing left on disk."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from artifact_mirrors.oci.spool import LIMIT_ENV, Spool


def fill(spool: Spool, digest: str, data: bytes, *, verify: bool = True) -> bool:
    with spool.acquire(digest, len(data)) as slot:
        if slot.writer is None:
            return False
        slot.writer.write(data)
        if verify:
            slot.writer.verified()
    return True


def read(spool: Spool, digest: str, size: int) -> bytes | None:
    with spool.acquire(digest, size) as slot:
        return b"".join(slot.chunks()) if slot.reader is not None else None


def test_a_verified_copy_serves_later_readers_and_leaves_no_file(tmp_path: Path) -> None:
    spool = Spool(limit_bytes=1 << 20, directory=tmp_path)
    data = b"layer" * 50_000
    assert fill(spool, "sha256:a", data)
    assert list(tmp_path.iterdir()) == []  # anonymous files: gone with the process, always
    assert read(spool, "sha256:a", len(data)) == data
    assert (spool.fills, spool.hits, spool.used) == (1, 1, len(data))
    spool.close()
    assert spool.used == 0


def test_an_unverified_stream_is_never_served(tmp_path: Path) -> None:
    spool = Spool(limit_bytes=1 << 20, directory=tmp_path)
    assert fill(spool, "sha256:a", b"corrupt", verify=False)
    # Not readable: the next caller gets the writer's role and reads the source itself.
    with spool.acquire("sha256:a", 7) as slot:
        assert slot.reader is None
        assert slot.writer is not None
    assert (spool.fills, spool.hits, spool.used) == (0, 0, 0)


def test_a_short_copy_is_never_served(tmp_path: Path) -> None:
    spool = Spool(limit_bytes=1 << 20, directory=tmp_path)
    with spool.acquire("sha256:a", 10) as slot:
        assert slot.writer is not None
        slot.writer.write(b"12345")
        slot.writer.verified()  # the size does not match: not ok
    assert spool.read_small("sha256:a", 10) is None


def test_a_waiter_reads_what_the_filler_verified(tmp_path: Path) -> None:
    spool = Spool(limit_bytes=1 << 20, directory=tmp_path)
    started, release = threading.Event(), threading.Event()
    got: list[bytes | None] = []

    def filler() -> None:
        with spool.acquire("sha256:a", 4) as slot:
            assert slot.writer is not None
            started.set()
            release.wait(10)
            slot.writer.write(b"data")
            slot.writer.verified()

    t = threading.Thread(target=filler)
    t.start()
    started.wait(10)
    waiter = threading.Thread(target=lambda: got.append(read(spool, "sha256:a", 4)))
    waiter.start()
    release.set()
    t.join(10)
    waiter.join(10)
    assert got == [b"data"]
    assert (spool.fills, spool.hits) == (1, 1)


def test_bounded_oldest_idle_copy_goes_and_a_blob_too_big_is_not_spooled(tmp_path: Path) -> None:
    spool = Spool(limit_bytes=100, directory=tmp_path)
    assert not fill(spool, "sha256:big", b"x" * 101)  # larger than the whole spool
    assert fill(spool, "sha256:a", b"a" * 60)
    assert fill(spool, "sha256:b", b"b" * 60)  # makes room: a goes
    assert spool.read_small("sha256:a", 100) is None  # a look that reserves nothing
    assert spool.read_small("sha256:b", 100) == b"b" * 60
    assert spool.used == 60
    # A copy being read is never dropped: with b in use there is no room for c.
    with spool.acquire("sha256:b", 60) as slot:
        assert slot.reader is not None
        assert not fill(spool, "sha256:c", b"c" * 60)
    assert read(spool, "sha256:b", 60) == b"b" * 60


def test_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LIMIT_ENV, "3")
    assert Spool().limit == 3 << 20
    monkeypatch.setenv(LIMIT_ENV, "0")
    spool = Spool()
    assert not fill(spool, "sha256:a", b"a")  # 0 turns the spool off
