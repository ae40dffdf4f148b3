"""The journal contract: one suite, run against every backend (in memory and RocksDB).

Every test takes the ``make`` fixture (or ``h``, one journal made by it), which is
parametrized over the backends; :class:`Harness` hides what differs between them: how a
journal is opened again over the same store, how its raw stored values are read, and how
they are edited behind the journal's back (``MemoryBackend.tamper`` in memory; for
RocksDB: close the journal, edit the files with plain ``rocksdict``, reopen read-only).

What the contract says, and this module checks:

- ``append`` is group commit: a batch is committed whole and returns the new head; a
  refused batch (AppendError) changes nothing, on the journal object or in the store;
- ``records(a, b)`` is inclusive and clipped to 1..last; ``read`` and ``seq_at_time``;
- snapshots are refused unless they fit, are found newest at-or-before, and are verified
  on load;
- ``verify()`` and the readers name the *first* bad seq of a tampered journal;
- (Hypothesis) whatever was appended in whatever batches reads back exactly, and the
  head is the chain recomputed here from :func:`oracle.chain.link` over the stored values.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rocksdict import Options, Rdict

from oracle import (
    AppendError,
    Head,
    Journal,
    JournalCorrupt,
    JournalError,
    Record,
    Snapshot,
    SnapshotError,
)
from oracle.backend import FAMILIES, RECORDS, SNAPSHOTS, MemoryBackend
from oracle.chain import GENESIS, HASH_SIZE, link, seq_key
from oracle.codec import decode_snapshot, encode_body, encode_snapshot

CONFIG = b"contract-genesis"
BACKENDS = ("memory", "rocks")

Edit = tuple[str, bytes, bytes | None]
"""(family, key, new value or None to delete) applied behind the journal's back."""


# -- the harness: everything backend-specific lives here ----------------------------


class Harness:
    """One journal under test, and the backend-specific ways to reach behind it."""

    def __init__(self, kind: str, path: Path, genesis: bytes) -> None:
        self.kind = kind
        self.path = path
        self.genesis = genesis
        self._open = True
        if kind == "memory":
            self.journal = Journal.memory(genesis)
        else:
            self.journal = Journal.open(path, create=True, genesis=genesis)

    @property
    def _store(self) -> Any:
        return self.journal._backend

    def raw(self, family: str, key: bytes) -> bytes:
        """The stored value under ``key`` (read through the backend, not the journal)."""
        value = self._store.get(family, key)
        assert value is not None, (family, key)
        return bytes(value)

    def raw_items(self, family: str) -> list[tuple[bytes, bytes]]:
        """Every stored (key, value) of ``family`` in key order."""
        return [(bytes(k), bytes(v)) for k, v in self._store.scan(family, b"")]

    def reopen(self) -> Journal:
        """A fresh Journal over the same store (memory) or the same directory (RocksDB)."""
        if self.kind == "memory":
            self.journal = Journal(self._store, genesis=self.genesis)
        else:
            self.close()
            self.journal = Journal.open(self.path, genesis=self.genesis)
            self._open = True
        return self.journal

    def tamper(self, edits: list[Edit]) -> Journal:
        """Apply ``edits`` to the stored bytes; return the journal to inspect.

        For RocksDB the journal is closed, the files edited with plain rocksdict and the
        journal reopened read-only; that open may itself raise JournalCorrupt.
        """
        if self.kind == "memory":
            store = self._store
            assert isinstance(store, MemoryBackend)
            for family, key, value in edits:
                store.tamper(family, key, value)
            return self.journal
        self.close()
        raw = Options(raw_mode=True)
        db = Rdict(
            str(self.path), raw, column_families={n: Options(raw_mode=True) for n in FAMILIES}
        )
        cfs = {name: db.get_column_family(name) for name in FAMILIES}
        try:
            for family, key, value in edits:
                if value is None:
                    del cfs[family][key]
                else:
                    cfs[family][key] = value
        finally:
            for cf in cfs.values():
                cf.close()
            cfs.clear()
            db.close()
        self.journal = Journal.open(self.path, read_only=True)
        self._open = True
        return self.journal

    def close(self) -> None:
        if self._open:
            self._open = False
            self.journal.close()


Factory = Callable[..., Harness]


@pytest.fixture(params=BACKENDS)
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Makes fresh journals on one backend, each in its own directory; closes them all."""
    made: list[Harness] = []
    counter = itertools.count()

    def factory(genesis: bytes = CONFIG) -> Harness:
        harness = Harness(request.param, tmp_path / f"journal-{next(counter)}", genesis)
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        harness.close()


@pytest.fixture
def h(make: Factory) -> Harness:
    return make()


# -- helpers --------------------------------------------------------------------------


def rec(seq: Any, ts: Any, inp: Any = "in", events: Any = None, cp: Any = None) -> Record:
    return Record(seq, ts, inp, [] if events is None else events, cp)


def sample(n: int, ts: Callable[[int], int] = lambda s: 10 * s) -> list[Record]:
    """``n`` records with varied payloads, seqs 1..n, timestamps ``ts(seq)``."""
    return [
        Record(
            s,
            ts(s),
            {"op": "new", "id": s, "px": 100 + s, "tag": b"\x00\xff" * (s % 3)},
            [["ack", s], ["fill", s, -s, "x" * (s * 7 % 13)]],
            f"{s:064x}" if s % 3 == 0 else None,
        )
        for s in range(1, n + 1)
    ]


def chain_of(records: list[Record]) -> bytes:
    """h_n recomputed from the codec and the chain rule alone."""
    h = GENESIS
    for r in records:
        h = link(h, seq_key(r.seq), encode_body(r))
    return h


def flip(value: bytes, index: int) -> bytes:
    out = bytearray(value)
    out[index] ^= 0x01
    return bytes(out)


def _ids(cases: dict[str, Any]) -> list[str]:
    """Test ids without spaces, so that ``-k`` can select them."""
    return [name.replace(" ", "-") for name in cases]


def blob_and_hash(text: str) -> tuple[bytes, str]:
    blob = text.encode() * 10
    return blob, hashlib.sha256(blob).hexdigest()


# -- append / head / next_seq -----------------------------------------------------------


def test_empty_journal(h: Harness) -> None:
    j = h.journal
    assert j.head == Head(0, 0, GENESIS)
    assert (j.last_seq, j.next_seq) == (0, 1)
    assert list(j.records()) == []
    assert j.seq_at_time(10**9) == 0
    assert j.load_snapshot(10) is None
    assert j.snapshots() == []
    assert j.genesis == CONFIG
    report = j.verify()
    assert report.ok and report.records == 0 and report.head == Head(0, 0, GENESIS)
    with pytest.raises(JournalError):
        j.read(1)


def test_append_returns_new_head_and_group_commits(h: Harness) -> None:
    j = h.journal
    recs = sample(7)
    head = j.append(recs[:3])
    assert head == j.head == Head(3, 30, chain_of(recs[:3]))
    assert (j.last_seq, j.next_seq) == (3, 4)
    assert j.append([]) == head  # an empty batch is a no-op
    head = j.append(recs[3:4])
    assert head == Head(4, 40, chain_of(recs[:4]))
    head = j.append(recs[4:])
    assert head == j.head == Head(7, 70, chain_of(recs))
    assert (j.last_seq, j.next_seq) == (7, 8)
    assert list(j.records()) == recs
    # The committed state is in the store, not only in the object.
    assert h.reopen().head == head
    assert list(h.journal.records()) == recs


def test_head_does_not_depend_on_batch_split(make: Factory) -> None:
    recs = sample(9)
    one, many = make(), make()
    one.journal.append(recs)
    for r in recs:
        many.journal.append([r])
    assert one.journal.head == many.journal.head == Head(9, 90, chain_of(recs))


# -- reading ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "stop", "expected"),
    [
        (1, None, [1, 2, 3, 4, 5]),
        (2, 4, [2, 3, 4]),
        (3, 3, [3]),
        (5, None, [5]),
        (0, 2, [1, 2]),  # clipped below
        (-7, 1, [1]),
        (4, 99, [4, 5]),  # clipped above
        (4, 3, []),  # empty: start after stop
        (6, None, []),  # empty: past the end
        (1, 0, []),
    ],
)
def test_records_ranges(h: Harness, start: int, stop: int | None, expected: list[int]) -> None:
    recs = sample(5)
    h.journal.append(recs)
    got = list(h.journal.records(start, stop))
    assert got == [recs[s - 1] for s in expected]


def test_read_and_its_range(h: Harness) -> None:
    recs = sample(4)
    h.journal.append(recs)
    for r in recs:
        assert h.journal.read(r.seq) == r
    for bad in (0, -1, 5, 10**6, "1", 1.0, None):
        with pytest.raises(JournalError, match="no record"):
            h.journal.read(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (-5, 0),
        (9, 0),  # before the first
        (10, 1),  # exact
        (15, 1),  # between
        (19, 1),
        (20, 4),  # several records share ts 20: the last of them
        (29, 4),
        (30, 5),
        (39, 5),
        (40, 7),  # equal timestamps at the tail
        (41, 7),  # after the last
        (10**12, 7),
    ],
)
def test_seq_at_time(h: Harness, ts: int, expected: int) -> None:
    times = [10, 20, 20, 20, 30, 40, 40]
    h.journal.append(sample(7, ts=lambda s: times[s - 1]))
    assert h.journal.seq_at_time(ts) == expected


def test_seq_at_time_all_equal(h: Harness) -> None:
    h.journal.append(sample(6, ts=lambda s: 50))
    assert [h.journal.seq_at_time(t) for t in (49, 50, 51)] == [0, 6, 6]


# -- refused appends change nothing ------------------------------------------------------


class _Opaque:
    pass


APPEND_ERRORS: dict[str, list[Record]] = {
    "seq repeats the last": [rec(2, 30)],
    "seq skips ahead": [rec(4, 30)],
    "gap inside the batch": [rec(3, 30), rec(5, 30)],
    "duplicate seq inside the batch": [rec(3, 30), rec(3, 30)],
    "ts before the head": [rec(3, 19)],
    "ts decreases inside the batch": [rec(3, 30), rec(4, 29)],
    "ts is a float": [rec(3, 30), rec(4, 30.0)],
    "ts is a str": [rec(3, "30")],
    "ts is None": [rec(3, 30), rec(4, None)],
    "seq is a float": [rec(3, 30), rec(4.0, 30)],
    "seq is a str": [rec("3", 30)],
    "checkpoint is bytes": [rec(3, 30), rec(4, 30, cp=b"ab" * 32)],
    "checkpoint is an int": [rec(3, 30, cp=7)],
    "input is an object": [rec(3, 30), rec(4, 30, inp=_Opaque())],
    "events hold an object": [rec(3, 30), rec(4, 30, events=[object()])],
    "input int beyond 64 bits": [rec(3, 30), rec(4, 30, inp=2**64)],
    # Sets are written sorted (codec.py); one that cannot be sorted is refused.
    "input is an unsortable set": [rec(3, 30), rec(4, 30, inp={"a", 1})],
    "events hold an unsortable set": [rec(3, 30), rec(4, 30, events=[{("x",), "y"}])],
}


def test_sets_and_dicts_are_encoded_in_sorted_order(h: Harness) -> None:
    """Sets iterate in PYTHONHASHSEED order; the codec sorts them (and dict keys), so a
    record's bytes and the chain never depend on the interpreter's hash seed."""
    h.journal.append(sample(2))
    with_set = Record(3, 30, {"gamma", "alpha", "beta"}, [{"z": 1, "a": 2}], None)
    as_lists = Record(3, 30, ["alpha", "beta", "gamma"], [{"a": 2, "z": 1}], None)
    assert encode_body(with_set) == encode_body(as_lists)
    before = h.journal.head.chain
    head = h.journal.append([with_set])
    assert h.journal.read(3) == as_lists
    assert head.chain == link(before, seq_key(3), encode_body(as_lists))


@pytest.mark.parametrize("batch", list(APPEND_ERRORS.values()), ids=_ids(APPEND_ERRORS))
def test_append_error_leaves_journal_unchanged(h: Harness, batch: list[Record]) -> None:
    recs = sample(2)  # ts 10, 20
    head = h.journal.append(recs)
    stored = h.raw_items(RECORDS)
    with pytest.raises(AppendError):
        h.journal.append(batch)
    assert h.journal.head == head and h.journal.next_seq == 3
    assert list(h.journal.records()) == recs
    assert h.raw_items(RECORDS) == stored
    assert h.reopen().head == head
    assert list(h.journal.records()) == recs
    assert h.journal.verify().ok
    # Not poisoned: the right next record is still taken.
    assert h.journal.append([rec(3, 20)]).seq == 3


@pytest.mark.parametrize(
    "batch",
    [[rec(True, 0)], [rec(1, False)], [rec(1, -1)], [rec(0, 0)]],
    ids=["seq is a bool", "ts is a bool", "ts below zero", "seq zero"],
)
def test_append_error_on_empty_journal(h: Harness, batch: list[Record]) -> None:
    with pytest.raises(AppendError):
        h.journal.append(batch)
    assert h.journal.head == Head(0, 0, GENESIS)
    assert h.raw_items(RECORDS) == []
    assert h.reopen().head == Head(0, 0, GENESIS)


@pytest.mark.parametrize(
    "events",
    [{"fill": 1}, 7, None, "ack"],
    ids=["dict", "int", "nil", "str"],
)
def test_acknowledged_records_always_read_back(h: Harness, events: Any) -> None:
    """A record the journal acknowledges must never make it unreadable afterwards.

    Either append refuses it (and nothing changes) or it reads back as written.
    """
    h.journal.append(sample(1))
    odd = Record(2, 20, "in", events, None)
    try:
        h.journal.append([odd])
    except AppendError:
        assert h.journal.head.seq == 1
        assert h.journal.verify().ok
        return
    assert h.journal.read(2) == odd
    assert h.journal.verify().ok


# -- snapshots ------------------------------------------------------------------------


def test_snapshots_save_load_and_refusals(h: Harness) -> None:
    j = h.journal
    recs = sample(6)
    heads = [j.append([r]) for r in recs]
    blob2, hash2 = blob_and_hash("state after 2")
    blob4, hash4 = blob_and_hash("state after 4")
    snap2 = j.save_snapshot(2, hash2, blob2)
    snap4 = j.save_snapshot(4, hash4, blob4)
    assert snap2 == Snapshot(2, hash2, heads[1].chain, blob2)
    assert snap4 == Snapshot(4, hash4, heads[3].chain, blob4)
    # newest at-or-before
    for at, want in [(-3, None), (0, None), (1, None), (2, snap2), (3, snap2), (4, snap4)]:
        assert j.load_snapshot(at) == want, at
    assert j.load_snapshot(6) == j.load_snapshot(10**9) == snap4
    assert [(s.seq, s.state_hash, s.size) for s in j.snapshots()] == [
        (2, hash2, len(blob2)),
        (4, hash4, len(blob4)),
    ]
    # refused: blob and hash disagree, seq outside 1..last, blob not bytes
    refusals: list[tuple[Any, str, Any]] = [
        (5, hash4, blob2),
        (5, hash2.upper(), blob2),
        (0, hash2, blob2),
        (-1, hash2, blob2),
        (7, hash2, blob2),
        ("5", hash2, blob2),
        (5, hash2, bytearray(blob2)),
    ]
    for seq, state_hash, blob in refusals:
        with pytest.raises(SnapshotError):
            j.save_snapshot(seq, state_hash, blob)
    assert [s.seq for s in j.snapshots()] == [2, 4]
    assert j.load_snapshot(5) == snap4
    report = j.verify()
    assert report.ok and report.snapshots == 2
    # loads survive a reopen
    assert h.reopen().load_snapshot(5) == snap4


def test_verify_ok_reports_counts_and_throughput(h: Harness) -> None:
    recs = sample(300)
    h.journal.append(recs[:100])
    h.journal.append(recs[100:])
    blob, state_hash = blob_and_hash("x")
    h.journal.save_snapshot(150, state_hash, blob)
    report = h.journal.verify()
    assert report.ok and report.error is None
    assert report.records == 300
    assert report.checkpoints == sum(r.checkpoint is not None for r in recs) == 100
    assert report.snapshots == 1
    assert report.head == h.journal.head
    assert report.seconds > 0 and report.records_per_second > 0


# -- tampering is detected, naming the first bad seq --------------------------------------


def _k(seq: int) -> bytes:
    return seq_key(seq)


Get = Callable[[int], bytes]
TAMPERS: dict[str, tuple[Callable[[Get], list[Edit]], int]] = {
    "altered byte in a record value": (
        lambda get: [(RECORDS, _k(3), flip(get(3), (len(get(3)) - HASH_SIZE) // 2))],
        3,
    ),
    "altered version byte": (lambda get: [(RECORDS, _k(3), flip(get(3), 0))], 3),
    "altered byte in the last record": (
        lambda get: [(RECORDS, _k(6), flip(get(6), (len(get(6)) - HASH_SIZE) // 2))],
        6,
    ),
    "deleted middle record": (lambda get: [(RECORDS, _k(3), None)], 3),
    "deleted last record": (lambda get: [(RECORDS, _k(6), None)], 6),
    "swapped two records": (
        lambda get: [(RECORDS, _k(3), get(4)), (RECORDS, _k(4), get(3))],
        3,
    ),
    "record copied over its successor": (lambda get: [(RECORDS, _k(4), get(3))], 4),
    "re-keyed onto the next key": (
        lambda get: [(RECORDS, _k(3), None), (RECORDS, _k(4), get(3))],
        3,
    ),
    "re-keyed to a malformed key": (
        lambda get: [(RECORDS, _k(3), None), (RECORDS, _k(3) + b"\x00", get(3))],
        3,
    ),
    "re-keyed past the head": (
        lambda get: [(RECORDS, _k(3), None), (RECORDS, _k(9), get(3))],
        3,
    ),
    "altered stored chain hash": (lambda get: [(RECORDS, _k(3), flip(get(3), -1))], 3),
    "altered chain hash of the last record": (
        lambda get: [(RECORDS, _k(6), flip(get(6), -HASH_SIZE))],
        6,
    ),
}


@pytest.mark.parametrize("case", list(TAMPERS.values()), ids=_ids(TAMPERS))
def test_tampering_names_first_bad_seq(
    h: Harness, case: tuple[Callable[[Get], list[Edit]], int]
) -> None:
    make_edits, bad = case
    recs = sample(6)
    h.journal.append(recs[:4])
    h.journal.append(recs[4:])
    assert h.journal.verify().ok
    edits = make_edits(lambda seq: h.raw(RECORDS, _k(seq)))
    try:
        j = h.tamper(edits)
    except JournalCorrupt as exc:  # RocksDB: refused already at open
        assert exc.seq == bad, str(exc)
        return
    report = j.verify()
    assert isinstance(report.error, JournalCorrupt), report
    assert report.error.seq == bad, str(report.error)
    with pytest.raises(JournalCorrupt) as info:
        list(j.records())
    assert info.value.seq == bad
    # Everything before the first bad seq still reads, and reads right.
    assert list(j.records(1, bad - 1)) == recs[: bad - 1]
    if bad <= j.last_seq:
        with pytest.raises(JournalCorrupt) as info:
            j.read(bad)
        assert info.value.seq == bad


def _altered_blob(value: bytes) -> bytes:
    return flip(value, -1)  # the blob is the last field of the encoded snapshot


def _foreign_chain(value: bytes) -> bytes:
    snap = decode_snapshot(value)
    return encode_snapshot(snap._replace(chain=hashlib.sha256(b"other history").digest()))


def _relabelled(value: bytes) -> bytes:
    return encode_snapshot(decode_snapshot(value)._replace(seq=3))


@pytest.mark.parametrize(
    "alter",
    [_altered_blob, _foreign_chain, _relabelled],
    ids=["altered blob", "chain of another history", "says another seq"],
)
def test_tampered_snapshot_is_refused_and_skipped(
    h: Harness, alter: Callable[[bytes], bytes]
) -> None:
    recs = sample(6)
    h.journal.append(recs)
    blob2, hash2 = blob_and_hash("two")
    blob4, hash4 = blob_and_hash("four")
    snap2 = h.journal.save_snapshot(2, hash2, blob2)
    h.journal.save_snapshot(4, hash4, blob4)
    j = h.tamper([(SNAPSHOTS, _k(4), alter(h.raw(SNAPSHOTS, _k(4))))])
    with pytest.raises(SnapshotError) as info:
        j.load_snapshot(5)
    assert info.value.seq == 4
    assert j.load_snapshot(3) == snap2
    found, skipped = j.newest_valid_snapshot(10)
    assert found == snap2
    assert len(skipped) == 1 and "4" in skipped[0]
    report = j.verify()
    assert isinstance(report.error, SnapshotError) and report.error.seq == 4
    assert report.records == 6  # the records themselves are fine
    assert list(j.records()) == recs


# -- the property: what goes in comes out, under the chain recomputed here -----------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
_payload = st.tuples(
    st.integers(0, 3) | st.integers(0, 10**12),  # ts step (often zero or small)
    _values,  # input
    st.lists(_values, max_size=3),  # events
    st.none() | st.text("0123456789abcdef", min_size=64, max_size=64),  # checkpoint
)


@st.composite
def _batches(draw: st.DrawFn) -> list[list[Record]]:
    payloads = draw(st.lists(_payload, max_size=40))
    records, ts = [], draw(st.integers(0, 2**40))
    for seq, (step, inp, events, cp) in enumerate(payloads, start=1):
        ts += step
        records.append(Record(seq, ts, inp, events, cp))
    batches, i = [], 0
    while i < len(records):
        size = draw(st.integers(1, 12))
        batches.append(records[i : i + size])
        i += size
    return batches


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=_batches(), probes=st.lists(st.integers(-2, 50), max_size=4))
def test_property_records_round_trip_and_chain(
    make: Factory, batches: list[list[Record]], probes: list[int]
) -> None:
    harness = make()
    j = harness.journal
    appended: list[Record] = []
    for batch in batches:
        head = j.append(batch)
        appended.extend(batch)
        assert head == j.head
        assert head.seq == len(appended) and head.ts == appended[-1].ts
    assert list(j.records()) == appended
    # The chain, recomputed independently over the stored values.
    stored = harness.raw_items(RECORDS)
    assert [k for k, _ in stored] == [seq_key(r.seq) for r in appended]
    chain = GENESIS
    for (key, value), r in zip(stored, appended, strict=True):
        body = value[:-HASH_SIZE]
        assert body == encode_body(r)
        chain = link(chain, key, body)
        assert value[-HASH_SIZE:] == chain
    assert j.head.chain == chain == chain_of(appended)
    # Ranges and time lookups agree with plain list operations.
    for a, b in itertools.pairwise([-1, *probes, len(appended) + 1]):
        assert list(j.records(a, b)) == appended[max(a, 1) - 1 : max(b, 0)]
    times = [r.ts for r in appended]
    for t in {*times[:5], *(t - 1 for t in times[:5]), *(t + 1 for t in times[-3:])}:
        assert j.seq_at_time(t) == sum(1 for x in times if x <= t)
    assert j.verify().ok
    harness.close()
