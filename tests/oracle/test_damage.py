"""Damaged journals on disk: truncated and bit-flipped WALs and SSTs, a lost or bad anchor.

Two journals of the Titan synthetic flow are built once per module:

- ``clean``: ``exchange run --commands 30000 --journal DIR`` (batch 1024, checkpoints
  every 10,000, no snapshot). A clean close flushes the memtable, so every record lives
  in an SST data block and the write-ahead log (``*.log``) is empty.
- ``wal_only``: a writer process journals 30,500 records through the API (batch 1000,
  checkpoints every 1,000, a snapshot every 10,000), prints its acknowledged head, and is
  SIGKILLed. The memtable was never flushed: every record exists only in the WAL.

Each test damages a copy of one of them and checks that the damage is reported, never
papered over: ``exchange journal verify/audit/replay DIR`` exit 1 (damage found, message
naming the seq) or 2 (the store cannot be opened at all), print one line, never a
traceback; the API raises JournalCorrupt (or StorageError/JournalError) rather than
return a shorter or different history. RocksDB recovers a damaged WAL to its intact
prefix (point-in-time recovery), which on its own is a shorter journal that verifies;
the ORACLE-ANCHOR file (the last acknowledged head) is what must catch that.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
from helpers.paths import ROOT

from exchange.config.symbols import default_specs
from exchange.runtime.machines import TitanFactory, titan_genesis
from oracle import Journal, JournalCorrupt, JournalError, JournalInUse, StorageError
from oracle.replay import rebuild

pytestmark = pytest.mark.slow_io  # every test runs subprocesses

GENESIS = titan_genesis(default_specs())
RECORDS = 30_000
WAL_RECORDS = 30_500  # the last batch (30001..30500) is the WAL's last entry
WAL_BATCH = 1_000

WAL_WRITER = r"""
import sys

from exchange.config.symbols import default_specs
from exchange.flow.synthetic import OrderFlow
from exchange.runtime.machines import titan_genesis
from exchange.runtime.recorder import journal_commands
from oracle import Journal
from titan import Engine

specs = default_specs()
journal = Journal.open(sys.argv[1], create=True, genesis=titan_genesis(specs))
flow = OrderFlow(specs, seed=5)
commands = flow.opening() + flow.take(int(sys.argv[2]) - 2)
journal_commands(
    journal, Engine(specs), commands, batch_size=int(sys.argv[3]), checkpoint_every=1_000,
    snapshot_every=10_000,
)
print(journal.last_seq, journal.head.chain.hex(), flush=True)  # acknowledged
sys.stdin.read()  # wait for SIGKILL: never close, never flush the memtable
"""


class Built(NamedTuple):
    path: Path
    last_seq: int
    chain: bytes


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def files(path: Path, suffix: str) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.name.endswith(suffix))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Built:
    path = tmp_path_factory.mktemp("clean") / "journal"
    proc = run_cli("simulate", "--commands", str(RECORDS), "--journal", str(path))
    assert proc.returncode == 0, proc.stderr
    assert all(p.stat().st_size == 0 for p in files(path, ".log")), "data left in the WAL"
    assert files(path, ".sst"), "a clean close should have flushed the records to SSTs"
    with Journal.open(path, read_only=True) as journal:
        assert journal.last_seq == RECORDS
        assert journal.verify().ok
        return Built(path, RECORDS, journal.head.chain)


@pytest.fixture(scope="module")
def wal_only(tmp_path_factory: pytest.TempPathFactory) -> Built:
    path = tmp_path_factory.mktemp("wal") / "journal"
    proc = subprocess.Popen(
        [sys.executable, "-c", WAL_WRITER, str(path), str(WAL_RECORDS), str(WAL_BATCH)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    acked = proc.stdout.readline().split()
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert len(acked) == 2, f"the writer acknowledged nothing: {acked}"
    assert int(acked[0]) == WAL_RECORDS
    logs = [p for p in files(path, ".log") if p.stat().st_size > 0]
    assert len(logs) == 1 and logs[0].stat().st_size > 1_000_000, files(path, "")
    assert not files(path, ".sst"), "records reached an SST: the WAL is not their only copy"
    return Built(path, WAL_RECORDS, bytes.fromhex(acked[1]))


def copy(src: Built, tmp_path: Path) -> Path:
    dst = tmp_path / "damaged"
    shutil.copytree(src.path, dst)
    return dst


def flip(path: Path, offset: int) -> None:
    """Invert the low bit of the byte at ``offset``."""
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0x01]))


def the_wal(path: Path) -> Path:
    (log,) = [p for p in files(path, ".log") if p.stat().st_size > 0]
    return log


def largest_sst(path: Path) -> Path:
    return max(files(path, ".sst"), key=lambda p: p.stat().st_size)


def assert_cli_fails(path: Path, codes: tuple[int, ...], *words: str) -> int | None:
    """``exchange journal`` verify, audit and replay all exit with the same status, one of
    ``codes``, print one line (containing ``words``) and no traceback, and name the same
    seq; returns that seq (None if the message names none)."""
    named: set[int | None] = set()
    statuses: set[int] = set()
    for verb in ("verify", "audit", "replay"):
        proc = run_cli("journal", verb, str(path))
        text = proc.stdout + proc.stderr
        assert "Traceback" not in text, text
        lines = [line for line in text.splitlines() if line.strip()]
        assert len(lines) == 1, f"journal {verb}: not a one-line message: {text!r}"
        assert proc.returncode in codes, f"journal {verb} exited {proc.returncode}: {text!r}"
        for word in words:
            assert word in lines[0], f"journal {verb}: {word!r} not in {text!r}"
        found = re.search(r"corrupt at seq (\d+):", lines[0])
        named.add(int(found.group(1)) if found else None)
        statuses.add(proc.returncode)
    assert len(statuses) == 1, f"verify, audit and replay exit differently: {statuses}"
    assert len(named) == 1, f"verify, audit and replay name different seqs: {named}"
    seq = named.pop()
    if seq is not None:
        proc = run_cli("journal", "verify", "--json", str(path))
        data = json.loads(proc.stdout)
        assert proc.returncode == 1 and data["ok"] is False and data["bad_seq"] == seq, data
    return seq


def assert_open_refused(path: Path, seq: int, *, read_only: bool) -> JournalCorrupt:
    with pytest.raises(JournalCorrupt) as info:
        Journal.open(path, read_only=read_only)
    assert info.value.seq == seq, str(info.value)
    return info.value


def recovered_prefix(path: Path, tmp_path: Path) -> int:
    """How many records RocksDB itself recovers from the damaged store: open a copy
    without its anchor (read-only), check the prefix, return its length."""
    probe = tmp_path / "without-anchor"
    shutil.copytree(path, probe)
    (probe / "ORACLE-ANCHOR").unlink()
    with Journal.open(probe, read_only=True) as journal:
        assert journal.verify().ok
        return journal.last_seq


def assert_wal_loss_caught(path: Path, src: Built, tmp_path: Path) -> int:
    """The store lost its WAL tail; the anchor names exactly the first lost record, in the
    CLI and the API, read-only and as a writer, and a writer open does not heal it away."""
    kept = recovered_prefix(path, tmp_path)
    assert kept < src.last_seq, "the damage lost nothing: the test damaged the wrong bytes"
    assert kept % WAL_BATCH == 0, f"recovery kept a partial batch: {kept} records"
    first_lost = kept + 1
    words = ("acknowledged but are missing", f"records {first_lost}..{src.last_seq}")
    assert assert_cli_fails(path, (1,), *words) == first_lost
    assert_open_refused(path, first_lost, read_only=True)
    assert_open_refused(path, first_lost, read_only=False)  # RocksDB recovery ran here
    assert_open_refused(path, first_lost, read_only=True)
    with pytest.raises(JournalCorrupt) as info:
        Journal.open(path, create=True, genesis=GENESIS)  # a restarting writer
    assert info.value.seq == first_lost
    return first_lost


def test_wal_only_journal_is_sound_before_damage(wal_only: Built, tmp_path: Path) -> None:
    """Control: the undamaged WAL-only copy recovers every acknowledged record."""
    path = copy(wal_only, tmp_path)
    with Journal.open(path, read_only=True) as journal:
        assert journal.head.seq == wal_only.last_seq
        assert journal.head.chain == wal_only.chain
        report = journal.verify()
        assert report.ok and report.records == wal_only.last_seq and report.snapshots == 3
    proc = run_cli("journal", "audit", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_wal_truncated_in_the_middle(wal_only: Built, tmp_path: Path) -> None:
    """Truncate the WAL (the only copy of the records) to half its length, as a torn
    write or a lost tail of the log would. RocksDB recovers the batches before the cut;
    the anchor says 30,500 were acknowledged, so the journal is corrupt at the first
    lost seq (15001 for this journal), everywhere."""
    path = copy(wal_only, tmp_path)
    log = the_wal(path)
    os.truncate(log, log.stat().st_size // 2)
    first_lost = assert_wal_loss_caught(path, wal_only, tmp_path)
    assert 1 < first_lost < wal_only.last_seq


def test_wal_byte_flipped_in_the_middle(wal_only: Built, tmp_path: Path) -> None:
    """Flip one bit in the middle of the WAL. The entry's CRC fails, and point-in-time
    recovery stops there: every later batch is dropped with it. The anchor catches it
    and the journal is corrupt at the first dropped seq (15001 for this journal)."""
    path = copy(wal_only, tmp_path)
    log = the_wal(path)
    flip(log, log.stat().st_size // 2)
    first_lost = assert_wal_loss_caught(path, wal_only, tmp_path)
    assert 1 < first_lost < wal_only.last_seq


def test_wal_byte_flipped_near_the_end(wal_only: Built, tmp_path: Path) -> None:
    """Flip one bit 100 bytes before the end of the WAL, in its last entry: only the last
    batch is lost (records 30001..30500), and the journal is corrupt at 30001."""
    path = copy(wal_only, tmp_path)
    log = the_wal(path)
    flip(log, log.stat().st_size - 100)
    first_lost = assert_wal_loss_caught(path, wal_only, tmp_path)
    assert first_lost == 30_001


def test_wal_first_entry_flipped_is_reported_as_lost_records(
    wal_only: Built, tmp_path: Path
) -> None:
    """Flip a bit in the WAL's first entry (the batch that created the journal: format
    marker, genesis, empty head). Recovery keeps nothing, not even the format marker;
    the anchor still says records 1..30500 were acknowledged. That is damage at seq 1,
    and must be reported as such (exit 1, naming seq 1), not as "not a journal"."""
    path = copy(wal_only, tmp_path)
    flip(the_wal(path), 20)
    assert assert_cli_fails(path, (1,), "acknowledged but are missing") == 1
    assert_open_refused(path, 1, read_only=True)


def test_failed_writer_open_of_an_emptied_journal_changes_nothing(
    wal_only: Built, tmp_path: Path
) -> None:
    """Same damage (first WAL entry flipped: the store recovers empty). A writer open that
    fails must leave the store as it found it: afterwards the restarting writer, with the
    journal's real genesis, must still be told that records 1..30500 are missing, not
    that the journal "was created with a different configuration"."""
    path = copy(wal_only, tmp_path)
    flip(the_wal(path), 20)
    with pytest.raises(JournalCorrupt):
        Journal.open(path)  # e.g. an operator's tool: a writer open without genesis
    with pytest.raises(JournalCorrupt) as info:
        Journal.open(path, create=True, genesis=GENESIS)
    assert info.value.seq == 1


def test_sst_data_block_flipped(clean: Built, tmp_path: Path) -> None:
    """Flip one bit in the middle of the records SST (a data block) after a clean close.
    RocksDB opens the store (data blocks are read lazily); reading the block fails its
    checksum. verify/audit/replay exit 1 naming the first record of that block (seq 15066
    for this journal); every record before it still reads and matches the original."""
    path = copy(clean, tmp_path)
    sst = largest_sst(path)
    flip(sst, sst.stat().st_size // 2)
    bad = assert_cli_fails(path, (1,), "unreadable", "checksum mismatch")
    assert bad is not None and 1 < bad <= clean.last_seq
    for read_only in (True, False):
        with Journal.open(path, read_only=read_only) as journal:
            report = journal.verify()
            assert not report.ok and report.error is not None
            assert report.error.seq == bad and report.records == bad - 1
            with pytest.raises(JournalCorrupt) as info:
                list(journal.records())
            assert info.value.seq == bad
            with pytest.raises(JournalCorrupt):
                journal.read(bad)
            with pytest.raises(JournalCorrupt):
                rebuild(journal, TitanFactory())
            before = list(journal.records(1, bad - 1))
    with Journal.open(clean.path, read_only=True) as original:
        assert before == list(original.records(1, bad - 1))


def test_sst_truncated(clean: Built, tmp_path: Path) -> None:
    """Truncate the records SST to half its size. RocksDB's open checks every table file's
    size against the MANIFEST and refuses: the journal cannot be opened at all, so the
    CLI exits 1 (damage) with one line saying it is corrupt (no seq can be named); the API
    raises StorageError whichever way it is opened."""
    path = copy(clean, tmp_path)
    sst = largest_sst(path)
    os.truncate(sst, sst.stat().st_size // 2)
    for read_only in (True, False):
        with pytest.raises(StorageError, match="Corruption"):
            Journal.open(path, read_only=read_only)
    assert assert_cli_fails(path, (1,), "Corruption", sst.name) is None


def test_sst_index_block_flipped_is_not_reported_as_in_use(clean: Built, tmp_path: Path) -> None:
    """Flip one bit 2,000 bytes before the end of the records SST (its index block).
    RocksDB reads the index when it opens the table and fails with "block checksum
    mismatch". That is damage, and must be reported as damage: never as JournalInUse
    ("in use by another process"), which would send the operator looking for a process
    that does not exist."""
    path = copy(clean, tmp_path)
    sst = largest_sst(path)
    flip(sst, sst.stat().st_size - 2_000)
    for read_only in (True, False):
        try:
            with Journal.open(path, read_only=read_only) as journal:
                assert not journal.verify().ok
        except JournalError as exc:
            assert not isinstance(exc, JournalInUse), f"damage reported as in use: {exc}"
            assert "corrupt" in str(exc).lower(), str(exc)
    assert_cli_fails(path, (1,), "Corruption", "checksum mismatch")


def test_anchor_deleted_still_opens(clean: Built, tmp_path: Path) -> None:
    """Delete ORACLE-ANCHOR. The anchor is optional (a journal copied without it, or one
    written by a build before it): the journal opens, verifies, audits and replays."""
    path = copy(clean, tmp_path)
    (path / "ORACLE-ANCHOR").unlink()
    for verb in ("verify", "audit", "replay"):
        proc = run_cli("journal", verb, str(path))
        assert proc.returncode == 0, proc.stdout + proc.stderr
    with Journal.open(path, read_only=True) as journal:
        report = journal.verify()
        assert report.ok and report.records == clean.last_seq
        assert journal.head.chain == clean.chain


def _anchor_hash_flipped(path: Path) -> None:
    flip(path / "ORACLE-ANCHOR", 40)


def _anchor_truncated(path: Path) -> None:
    os.truncate(path / "ORACLE-ANCHOR", 20)


def _anchor_ahead(path: Path) -> None:
    anchor = path / "ORACLE-ANCHOR"
    seq, ts, chain = struct.unpack(">QQ32s", anchor.read_bytes())
    anchor.write_bytes(struct.pack(">QQ32s", seq + 5, ts, chain))


@pytest.mark.parametrize(
    ("damage", "seq", "says"),
    [
        # a bit of the acknowledged chain hash flipped: the last record is "not the one
        # acknowledged" (seq 30000)
        (_anchor_hash_flipped, RECORDS, "differs from the one acknowledged"),
        # cut to 20 of its 48 bytes: malformed, reported at the head (seq 30000)
        (_anchor_truncated, RECORDS, "anchor file is malformed"),
        # claims 5 more records than the store holds: 30001..30005 "missing"
        (_anchor_ahead, RECORDS + 1, "acknowledged but are missing"),
    ],
    ids=["hash-flipped", "truncated", "ahead"],
)
def test_anchor_corrupted(
    clean: Built, tmp_path: Path, damage: Callable[[Path], None], seq: int, says: str
) -> None:
    """A damaged anchor is never ignored: it is reported as corruption at a named seq."""
    path = copy(clean, tmp_path)
    damage(path)
    assert assert_cli_fails(path, (1,), says) == seq
    assert_open_refused(path, seq, read_only=True)
    assert_open_refused(path, seq, read_only=False)
