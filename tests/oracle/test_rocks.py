"""The RocksDB journal: what only a journal on disk can do, or get wrong.

The contract shared with the in-memory backend is in ``test_oracle_contract.py``; this
module covers reopening (resume, genesis check, the anchor that catches a lost tail),
other processes (a second writer is refused; a reader sees the state at its open while a
writer in another process goes on), missing and foreign directories, the on-disk format
(raw-mode RocksDB that a plain ``Rdict`` opens, 8-byte big-endian keys), the write-ahead
log that is never disabled, and ASYNC durability (survives close and a killed process).

Other processes are real ones: ``python -c`` running ``Journal.open`` on the same files.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.paths import ROOT
from rocksdict import Options, Rdict, WriteOptions

from oracle import (
    GenesisMismatch,
    Head,
    Journal,
    JournalCorrupt,
    JournalError,
    JournalInUse,
    JournalNotFound,
    Record,
)
from oracle.chain import HASH_SIZE, link, seq_key
from oracle.codec import encode_body
from oracle.rocks import ANCHOR_FILE

CONFIG = b"rocks-genesis"
ANCHOR = struct.Struct(">QQ32s")
FAMILIES = ("records", "snapshots", "meta")


def recs(first: int, last: int) -> list[Record]:
    return [
        Record(s, 10 * s, {"n": s, "pad": "x" * (s % 17)}, [["ev", s]])
        for s in range(first, last + 1)
    ]


def run_python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (another process, not a thread)."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal"


def make_journal(path: Path, n: int, batch: int = 4) -> Head:
    """A closed journal at ``path`` holding records 1..n; its head."""
    with Journal.open(path, create=True, genesis=CONFIG) as j:
        for start in range(1, n + 1, batch):
            j.append(recs(start, min(n, start + batch - 1)))
        return j.head


# -- reopening ------------------------------------------------------------------------


def test_reopen_resumes_and_the_chain_continues(path: Path) -> None:
    head = make_journal(path, 10)
    assert head.seq == 10
    with Journal.open(path, genesis=CONFIG) as j:
        assert j.head == head
        assert (j.last_seq, j.next_seq) == (10, 11)
        [r11] = recs(11, 11)
        new = j.append([r11])
        assert new == Head(11, 110, link(head.chain, seq_key(11), encode_body(r11)))
    # create=True on an existing journal opens it; it does not start a new one.
    with Journal.open(path, create=True) as j:
        assert j.head == new
        assert j.genesis == CONFIG
        assert list(j.records()) == recs(1, 11)
        assert j.verify().ok


def test_genesis_mismatch_refused(path: Path) -> None:
    head = make_journal(path, 3)
    for kwargs in ({}, {"read_only": True}, {"create": True}):
        with pytest.raises(GenesisMismatch, match="genesis"):
            Journal.open(path, genesis=b"another configuration", **kwargs)
    # The refusals released the store, and changed nothing.
    with Journal.open(path, genesis=CONFIG) as j:
        assert j.head == head
    with Journal.open(path) as j:  # no genesis given: nothing to compare
        assert j.genesis == CONFIG and j.head == head


# -- other processes ------------------------------------------------------------------

_SECOND_WRITER = """
import json, sys
from oracle import Journal, JournalError
try:
    j = Journal.open(sys.argv[1])
except JournalError as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
else:
    print(json.dumps({"error": None, "seq": j.last_seq}))
    j.close()
"""


@pytest.mark.slow_io
def test_second_writer_in_another_process_is_refused(path: Path) -> None:
    make_journal(path, 3)
    with Journal.open(path) as j:
        out = run_python(_SECOND_WRITER, str(path))
        assert out.returncode == 0, out.stderr
        answer = json.loads(out.stdout)
        assert answer["error"] == "JournalInUse"
        assert "journal is in use by another process" in answer["message"]
        assert str(path) in answer["message"]
        j.append(recs(4, 4))  # the first writer is unaffected
    out = run_python(_SECOND_WRITER, str(path))  # once it closed, the next one may write
    assert json.loads(out.stdout) == {"error": None, "seq": 4}, out.stderr


def test_second_writer_in_this_process_is_refused(path: Path) -> None:
    make_journal(path, 1)
    with Journal.open(path), pytest.raises(JournalInUse):
        Journal.open(path)


_APPENDING_WRITER = """
import pathlib, sys, time
from oracle import Journal, Record
j = Journal.open(sys.argv[1], create=True, genesis=b"rocks-genesis")
stop = pathlib.Path(sys.argv[2])
seq = 0
def batch(n):
    global seq
    out = []
    for _ in range(n):
        seq += 1
        out.append(Record(seq, 10 * seq, {"n": seq, "pad": "x" * (seq % 17)}, [["ev", seq]]))
    j.append(out)
batch(100)
print(seq, flush=True)
deadline = time.monotonic() + 30
while not stop.exists() and time.monotonic() < deadline:  # append until told to stop
    batch(10)
    time.sleep(0.001)
j.close()
print(seq, flush=True)
"""


def _anchor_seq(path: Path) -> int:
    seq: int = ANCHOR.unpack((path / ANCHOR_FILE).read_bytes())[0]
    return seq


def _wait_for_seq(path: Path, seq: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while _anchor_seq(path) < seq:
        assert time.monotonic() < deadline, f"the writer never reached seq {seq}"
        time.sleep(0.005)


@pytest.mark.slow_io
def test_reader_sees_state_at_open_while_another_process_appends(
    path: Path, tmp_path: Path
) -> None:
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", _APPENDING_WRITER, str(path), str(stop)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stderr is not None
    try:
        assert writer.stdout.readline().strip() == "100", writer.stderr.read()
        with Journal.open(path, read_only=True) as reader:  # opened mid-append
            assert reader.read_only
            n = reader.head.seq
            assert n >= 100
            partial = reader.records()
            first = [next(partial) for _ in range(10)]
            _wait_for_seq(path, n + 300)  # the writer goes on while we read
            seen = first + list(partial)
            assert seen == recs(1, n)
            assert reader.head.seq == n and list(reader.records(n - 5)) == recs(n - 5, n)
            with pytest.raises(JournalError):
                reader.read(n + 1)
            report = reader.verify()
            assert report.ok and report.records == n, report
            _wait_for_seq(path, n + 600)  # and between two verifications
            assert reader.verify().ok
            assert reader.head.seq == n and reader.seq_at_time(10**9) == n
            with pytest.raises(JournalError):
                reader.append(recs(n + 1, n + 1))
            with pytest.raises(JournalError):
                reader.save_snapshot(1, "0" * 64, b"")
        stop.touch()
        final = int(writer.stdout.readline())
        assert writer.wait(timeout=30) == 0, writer.stderr.read()
    finally:
        stop.touch()
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert final >= n + 600
    with Journal.open(path, read_only=True) as later:
        assert later.head.seq == final
        assert list(later.records(1, n)) == seen
        assert later.verify().ok


# -- missing and foreign directories ----------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"create": False}, {"read_only": True}, {"read_only": True, "create": True}],
    ids=["default", "create=False", "read_only", "read_only+create"],
)
def test_missing_journal_not_found(tmp_path: Path, kwargs: dict[str, bool]) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(JournalNotFound):
        Journal.open(missing, **kwargs)
    assert not missing.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(JournalNotFound):
        Journal.open(empty, **kwargs)
    assert list(empty.iterdir()) == []


def test_create_in_an_existing_empty_directory(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with Journal.open(empty, create=True, genesis=CONFIG) as j:
        j.append(recs(1, 2))
    with Journal.open(empty, read_only=True) as j:
        assert j.head.seq == 2 and j.genesis == CONFIG


def test_non_empty_non_journal_directory_refused(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("not a journal")
    with pytest.raises(JournalError, match="not empty"):
        Journal.open(notes, create=True)
    assert [p.name for p in notes.iterdir()] == ["todo.txt"]
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(JournalError):
        Journal.open(a_file, create=True)
    assert a_file.read_text() == "x"


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"create": True}, {"read_only": True}],
    ids=["default", "create=True", "read_only"],
)
def test_foreign_rocksdb_directory_refused(tmp_path: Path, kwargs: dict[str, bool]) -> None:
    """A RocksDB directory that is not a journal is refused, never turned into one."""
    foreign = tmp_path / "foreign"
    db = Rdict(str(foreign), Options(raw_mode=True))
    db[b"someone else's"] = b"data"
    db.close()
    before = sorted(Rdict.list_cf(str(foreign)))
    with pytest.raises(JournalError):
        Journal.open(foreign, **kwargs).close()
    assert sorted(Rdict.list_cf(str(foreign))) == before


# -- the on-disk format ---------------------------------------------------------------


def test_files_are_plain_raw_mode_rocksdb(path: Path) -> None:
    head = make_journal(path, 300, batch=64)
    db = Rdict(str(path))  # auto-open: options and column families from the files
    cfs = {name: db.get_column_family(name) for name in FAMILIES}
    try:
        items = list(cfs["records"].items())
        format_marker = cfs["meta"][b"format"]
    finally:
        for cf in cfs.values():
            cf.close()
        cfs.clear()
        db.close()
    assert set(FAMILIES) <= set(Rdict.list_cf(str(path)))
    assert format_marker == b"oracle-journal/1"
    keys = [k for k, _ in items]
    assert all(isinstance(k, bytes) and len(k) == 8 for k in keys)
    assert [struct.unpack(">Q", k)[0] for k in keys] == list(range(1, 301))
    assert keys[255] == b"\x00\x00\x00\x00\x00\x00\x01\x00"  # seq 256: big-endian
    assert items[-1][1][-HASH_SIZE:] == head.chain
    options = sorted(path.glob("OPTIONS-*"))[-1].read_text()
    comparators = {
        line.split("=", 1)[1].strip()
        for line in options.splitlines()
        if line.strip().startswith("comparator=")
    }
    assert comparators == {"leveldb.BytewiseComparator"}
    with Journal.open(path, read_only=True) as j:  # and the plain open changed nothing
        assert j.head == head and j.verify().ok


@pytest.mark.parametrize("durability", ["sync", "async"])
def test_wal_is_never_disabled(path: Path, durability: str) -> None:
    with Journal.open(path, create=True, durability=durability) as j:
        j.append(recs(1, 2))
        opts = [v for v in vars(j._backend).values() if isinstance(v, WriteOptions)]
        assert len(opts) >= 2
        assert all(getattr(o, "disable_wal") is False for o in opts)  # noqa: B009
        assert {o.sync for o in opts} == {True, False}


# -- durability -----------------------------------------------------------------------


def test_async_records_survive_close_and_reopen(path: Path) -> None:
    with Journal.open(path, create=True, durability="async", fsync_interval=3600) as j:
        assert j.durability == "async"
        j.append(recs(1, 50))
        j.sync()
        j.sync()  # nothing pending: still fine
        j.append(recs(51, 80))
        head = j.head
    with Journal.open(path) as j:
        assert j.head == head
        assert list(j.records()) == recs(1, 80)
        assert j.verify().ok


_KILLED_ASYNC_WRITER = """
import os, sys
from oracle import Journal, Record
j = Journal.open(sys.argv[1], create=True, durability="async", fsync_interval=3600)
for s in range(1, 201):
    j.append([Record(s, 10 * s, {"n": s, "pad": "x" * (s % 17)}, [["ev", s]])])
print(j.head.chain.hex(), flush=True)
os._exit(0)  # killed: no close, no fsync
"""


@pytest.mark.slow_io
def test_async_records_survive_a_killed_process(path: Path) -> None:
    out = run_python(_KILLED_ASYNC_WRITER, str(path))
    assert out.returncode == 0, out.stderr
    with Journal.open(path) as j:
        assert j.head.seq == 200
        assert j.head.chain.hex() == out.stdout.strip()
        assert list(j.records()) == recs(1, 200)
        assert j.verify().ok


# -- the anchor catches a lost tail ---------------------------------------------------


def test_anchor_records_the_acknowledged_head(path: Path) -> None:
    head = make_journal(path, 5)
    assert ANCHOR.unpack((path / ANCHOR_FILE).read_bytes()) == (head.seq, head.ts, head.chain)


@pytest.mark.parametrize("read_only", [False, True], ids=["writer", "reader"])
def test_anchor_ahead_of_the_store_is_refused(path: Path, read_only: bool) -> None:
    head = make_journal(path, 5)
    anchor = path / ANCHOR_FILE
    good = anchor.read_bytes()
    anchor.write_bytes(ANCHOR.pack(8, 80, bytes(32)))  # claims 3 records the store lacks
    with pytest.raises(JournalCorrupt) as info:
        Journal.open(path, read_only=read_only)
    assert info.value.seq == 6
    assert "6..8" in str(info.value)
    anchor.write_bytes(good)  # the refusal released the store
    with Journal.open(path, read_only=read_only) as j:
        assert j.head == head


def test_anchor_disagreeing_with_the_record_is_refused(path: Path) -> None:
    head = make_journal(path, 5)
    (path / ANCHOR_FILE).write_bytes(ANCHOR.pack(5, 50, bytes(32)))
    with pytest.raises(JournalCorrupt) as info:
        Journal.open(path)
    assert info.value.seq == head.seq


def test_store_restored_from_an_older_copy_is_refused(path: Path, tmp_path: Path) -> None:
    """A real lost tail: the files go back to an older state, the anchor does not."""
    make_journal(path, 3)
    old = tmp_path / "old"
    shutil.copytree(path, old)
    with Journal.open(path) as j:
        j.append(recs(4, 6))
    anchor = (path / ANCHOR_FILE).read_bytes()
    shutil.rmtree(path)
    shutil.copytree(old, path)
    (path / ANCHOR_FILE).write_bytes(anchor)
    with pytest.raises(JournalCorrupt) as info:
        Journal.open(path)
    assert info.value.seq == 4
    os.remove(path / ANCHOR_FILE)  # without the anchor the older state opens (and is whole)
    with Journal.open(path) as j:
        assert j.head.seq == 3 and j.verify().ok
