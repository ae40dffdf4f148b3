"""The sequencer on a real RocksDB journal: stamping, group commit, durability order,
backpressure, checkpoints, snapshots, stop-and-drain, and a journal that fails.

The inputs are the seeded venue stream of tests/helpers/streams.py (it trades,
liquidates and refuses) with seq and ts cleared: the sequencer must stamp them, and the
journal it writes must audit clean (re-executing every record gives the same events and
state hashes) and hold exactly those inputs in submission order.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from helpers.streams import SEED, command_stream
from helpers.venue import make_contracts

from exchange.runtime.machines import VenueFactory, venue_genesis
from exchange.runtime.sequencer import Committed, IntakeClosed, Sequencer, SequencerFailed
from oracle import Journal
from oracle.backend import SNAPSHOTS, MemoryBackend
from oracle.chain import seq_key
from oracle.replay import audit, rebuild
from titan.commands import NewOrder
from venue.venue import Venue
from venue.wire import command_from_wire

N = 3_000


def _unstamped(n: int = N) -> list[Any]:
    return [c._replace(seq=0, ts=0) for c in command_stream(SEED, n)]


class _Clock:
    """A clock that steps back now and then (the sequencer must not follow it)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        base = 1_700_000_000_000 + self.calls * 3
        return base - 50 if self.calls % 5 == 0 else base


def _run(seq: Sequencer, feed: Any) -> None:
    async def main() -> None:
        task = asyncio.create_task(seq.run())
        await feed(seq)
        seq.stop()
        await task

    asyncio.run(main())


def _open(path: Any) -> tuple[Venue, Journal]:
    contracts = make_contracts()
    return Venue(contracts), Journal.open(path, create=True, genesis=venue_genesis(contracts))


def test_stamps_journals_and_audits(tmp_path: Any) -> None:
    venue, journal = _open(tmp_path / "j")
    seq = Sequencer(venue, journal, max_batch=64, checkpoint_every=250, snapshot_every=1_000)
    seq._clock = _Clock()
    seen: list[Committed] = []
    acks: list[tuple[int, int]] = []  # (acked seq, journal head when acked)
    seq.subscribe(seen.extend)
    inputs = _unstamped()

    async def feed(s: Sequencer) -> None:
        for cmd in inputs:
            await s.submit(cmd, lambda n, ev: acks.append((n, journal.last_seq)))

    _run(seq, feed)
    assert seq.durable_seq == N == journal.last_seq
    records = list(journal.records())
    stamped = [command_from_wire(r.input) for r in records]
    # the journal holds exactly the inputs, in order, stamped 1..N; order ids are the seq
    for i, (cmd, original) in enumerate(zip(stamped, inputs, strict=True), 1):
        assert cmd.seq == i
        # the stream numbers its orders by their seq, as the sequencer does
        assert cmd._replace(seq=0, ts=0) == original
        if type(cmd) is NewOrder:
            assert cmd.order_id == i
    ts = [r.ts for r in records]
    assert ts == sorted(ts) and all(t == c.ts for t, c in zip(ts, stamped, strict=True))
    # every ack came after its record was durable, once, in seq order
    assert [n for n, _ in acks] == list(range(1, N + 1))
    assert all(head >= n for n, head in acks)
    # subscribers saw every durable record once, in order, with the journaled events
    assert [c.seq for c in seen] == list(range(1, N + 1))
    assert [c.command for c in seen] == stamped
    checkpoints = [r.seq for r in records if r.checkpoint]
    assert checkpoints == list(range(250, N + 1, 250))
    snaps = [s.seq for s in journal.snapshots()]
    assert snaps == [1_000, 2_000, 3_000]  # 3_000 is also the final one
    report = audit(journal, VenueFactory())
    assert report.ok, report.divergence and report.divergence.describe()
    assert report.state_hash == venue.state_hash()
    assert seq.stats.batches > 1 and seq.stats.committed == N
    journal.close()


def test_final_snapshot_at_stop_and_resume(tmp_path: Any) -> None:
    venue, journal = _open(tmp_path / "j")
    seq = Sequencer(venue, journal, checkpoint_every=0, snapshot_every=0)
    inputs = _unstamped(700)

    async def feed(s: Sequencer) -> None:
        for cmd in inputs[:500]:
            await s.submit(cmd)

    _run(seq, feed)
    assert [s.seq for s in journal.snapshots()] == [500]
    hash_500 = venue.state_hash()
    journal.close()
    # a restart rebuilds from that snapshot alone and continues at seq 501
    journal = Journal.open(tmp_path / "j", genesis=venue_genesis(make_contracts()))
    built = rebuild(journal, VenueFactory())
    assert built.snapshot_seq == 500 and built.replayed == 0
    assert built.machine.state_hash() == hash_500
    venue2 = built.machine.venue  # type: ignore[attr-defined]
    seq2 = Sequencer(venue2, journal, checkpoint_every=0, snapshot_every=0)

    async def feed2(s: Sequencer) -> None:
        for cmd in inputs[500:]:
            await s.submit(cmd)

    _run(seq2, feed2)
    assert journal.last_seq == 700
    assert audit(journal, VenueFactory()).ok
    # the same 700 inputs through one venue give the same state
    one = Venue(make_contracts())
    for rec in journal.records():
        one.apply(command_from_wire(rec.input))
    assert one.state_hash() == venue2.state_hash()
    journal.close()


def test_offer_refuses_when_full_and_submit_waits(tmp_path: Any) -> None:
    venue, journal = _open(tmp_path / "j")
    seq = Sequencer(venue, journal, queue_size=8, max_batch=8, max_pending=8)
    inputs = _unstamped(200)[:200]
    refused = []

    async def main() -> None:
        # not running yet: the intake fills up and then refuses, counting each refusal
        taken = [seq.offer(cmd) for cmd in inputs[:12]]
        refused.extend(i for i, ok in enumerate(taken) if not ok)
        task = asyncio.create_task(seq.run())
        for cmd in inputs[8:]:
            await seq.submit(cmd)  # waits for room; never refused
        seq.stop()
        await task
        with pytest.raises(IntakeClosed):
            await seq.submit(inputs[0])
        assert seq.offer(inputs[0]) is False

    asyncio.run(main())
    assert refused == [8, 9, 10, 11]
    assert seq.stats.refused_full == 5  # the four above and the offer after stop
    assert journal.last_seq == 200
    assert [command_from_wire(r.input).seq for r in journal.records()] == list(range(1, 201))
    journal.close()


class _FailingBackend(MemoryBackend):
    """An I/O boundary that fails its n-th write (as a full disk would)."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.writes = 0
        self.fail_at = fail_at

    def write(self, batch: Any, sync: bool) -> None:
        self.writes += 1
        if self.writes == self.fail_at:
            raise OSError(28, "No space left on device")
        super().write(batch, sync)


def test_failed_commit_acknowledges_nothing_more() -> None:
    contracts = make_contracts()
    backend = _FailingBackend(fail_at=4)  # write 1 creates the journal
    journal = Journal(backend, genesis=venue_genesis(contracts))
    seq = Sequencer(Venue(contracts), journal, max_batch=50)
    acked: list[int] = []

    async def main() -> None:
        task = asyncio.create_task(seq.run())
        try:
            for cmd in _unstamped(1_000):
                await seq.submit(cmd, lambda n, ev: acked.append(n))
                if len(acked) % 7 == 0:
                    await asyncio.sleep(0)
        except IntakeClosed:
            pass
        seq.stop()
        with pytest.raises(SequencerFailed, match="No space left"):
            await task

    asyncio.run(main())
    # every acknowledged input is in the journal; nothing after the failed batch was acked
    assert acked == list(range(1, journal.last_seq + 1))
    assert journal.last_seq < seq.last_seq
    assert seq.closed


def test_request_returns_events_after_durability(tmp_path: Any) -> None:
    venue, journal = _open(tmp_path / "j")
    seq = Sequencer(venue, journal)
    inputs = _unstamped(40)[:20]

    async def main() -> list[tuple[int, list[Any], int]]:
        task = asyncio.create_task(seq.run())
        out = []
        for cmd in inputs:
            n, events = await seq.request(cmd)
            out.append((n, events, journal.last_seq))
        seq.stop()
        await task
        return out

    results = asyncio.run(main())
    assert [n for n, _, _ in results] == list(range(1, 21))
    assert all(head >= n for n, _, head in results)
    fresh = Venue(make_contracts())
    for (n, events, _), rec in zip(results, journal.records(), strict=True):
        assert events == fresh.apply(command_from_wire(rec.input))
        assert rec.seq == n
    journal.close()


def test_a_raising_subscriber_or_ack_is_logged_and_the_rest_goes_on(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    venue, journal = _open(tmp_path / "j")
    seq = Sequencer(venue, journal, max_batch=16)
    seen: list[int] = []

    def broken(batch: list[Committed]) -> None:
        if batch[0].seq < 40:
            raise BrokenPipeError("stdout closed")

    def bad_ack(n: int, events: list[Any]) -> None:
        raise ValueError("client went away")

    seq.subscribe(broken)
    seq.subscribe(lambda batch: seen.extend(c.seq for c in batch))
    inputs = _unstamped(300)[:300]

    async def feed(s: Sequencer) -> None:
        for i, cmd in enumerate(inputs):
            await s.submit(cmd, bad_ack if i % 50 == 0 else None)
            if i % 10 == 0:
                await asyncio.sleep(0)

    _run(seq, feed)
    assert seen == list(range(1, 301))  # the other subscriber saw everything
    assert journal.last_seq == 300
    messages = [r.getMessage() for r in caplog.records]
    acks = [m for m in messages if m.startswith("an acknowledgement failed")]
    subs = [m for m in messages if m.startswith("a subscriber failed")]
    assert len(acks) == 6 and len(subs) >= 1  # inputs 0, 50, ..., 250; batches below 40
    assert seq.stats.callback_errors == len(acks) + len(subs)
    journal.close()


def test_request_fails_when_its_batch_cannot_be_written() -> None:
    contracts = make_contracts()
    journal = Journal(_FailingBackend(fail_at=2), genesis=venue_genesis(contracts))
    seq = Sequencer(Venue(contracts), journal)

    async def main() -> None:
        task = asyncio.create_task(seq.run())
        with pytest.raises(SequencerFailed, match="No space left"):
            await seq.request(_unstamped(5)[0])
        with pytest.raises(IntakeClosed):
            await seq.request(_unstamped(5)[1])
        with pytest.raises(SequencerFailed):
            await task

    asyncio.run(main())
    assert journal.last_seq == 0


def test_an_engine_error_keeps_what_executed_before_it(tmp_path: Any) -> None:
    from titan.commands import SetMarkPrice  # Titan's own mark: not a venue input

    venue, journal = _open(tmp_path / "j")
    seq = Sequencer(venue, journal)
    inputs = _unstamped(200)[:200]
    acked: list[int] = []

    async def main() -> None:
        task = asyncio.create_task(seq.run())
        for cmd in inputs[:100]:
            seq.offer(cmd, lambda n, ev: acked.append(n))
        seq.offer(SetMarkPrice(0, 0, "BTCUSDT", 1))
        for cmd in inputs[100:]:
            seq.offer(cmd, lambda n, ev: acked.append(n))
        with pytest.raises(SequencerFailed, match="raised on input seq 101"):
            await task

    asyncio.run(main())
    assert journal.last_seq == 100 and acked == list(range(1, 101))
    assert [s.seq for s in journal.snapshots()] == []  # no snapshot of a state it doubts
    assert audit(journal, VenueFactory()).ok
    journal.close()


class _SnapshotsFail(MemoryBackend):
    """An I/O boundary whose snapshot writes fail (the disk fills as a snapshot lands)."""

    def write(self, batch: Any, sync: bool) -> None:
        if any(family == SNAPSHOTS for family, _, _ in batch.puts):
            raise OSError(28, "No space left on device")
        super().write(batch, sync)


def test_a_snapshot_that_cannot_be_stored_costs_no_acknowledged_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    contracts = make_contracts()
    journal = Journal(_SnapshotsFail(), genesis=venue_genesis(contracts))
    seq = Sequencer(Venue(contracts), journal, snapshot_every=50, max_batch=16)
    results: list[tuple[int, int]] = []

    async def main() -> None:
        task = asyncio.create_task(seq.run())
        for cmd in _unstamped(200)[:120]:
            n, _ = await seq.request(cmd)
            results.append((n, journal.last_seq))
        seq.stop()
        await task  # no failure: the records are durable, only the snapshots are missing

    asyncio.run(main())
    assert [n for n, _ in results] == list(range(1, 121))
    assert all(head >= n for n, head in results)
    assert journal.last_seq == seq.durable_seq == 120
    assert seq.stats.snapshots == 0 and seq.stats.snapshot_errors == 3  # 50, 100, final 120
    assert "snapshot at seq 50 not stored" in caplog.text


def test_stop_replaces_a_damaged_snapshot_at_the_last_seq(tmp_path: Any) -> None:
    venue, journal = _open(tmp_path / "j")
    seq = Sequencer(venue, journal, checkpoint_every=0, snapshot_every=0)
    inputs = _unstamped(300)[:300]

    async def feed(s: Sequencer) -> None:
        for cmd in inputs[:200]:
            await s.submit(cmd)

    _run(seq, feed)
    journal.close()
    # damage the final snapshot (seq 200) behind the journal's back
    from rocksdict import Options, Rdict

    from oracle.backend import FAMILIES

    opts = {name: Options(raw_mode=True) for name in FAMILIES}
    db = Rdict(str(tmp_path / "j"), Options(raw_mode=True), column_families=opts)
    snaps = db.get_column_family(SNAPSHOTS)
    key = seq_key(200)
    value = bytearray(snaps[key])
    value[len(value) // 2] ^= 0xFF
    snaps[key] = bytes(value)
    snaps.close()
    db.close()
    del snaps, db
    # resume (the damaged snapshot is skipped), stop with no new input: a good one replaces it
    journal = Journal.open(tmp_path / "j", genesis=venue_genesis(make_contracts()))
    built = rebuild(journal, VenueFactory())
    assert built.snapshot_seq == 0 and built.skipped  # it was damaged
    seq2 = Sequencer(built.machine.venue, journal)  # type: ignore[attr-defined]

    async def nothing(s: Sequencer) -> None:
        return None

    _run(seq2, nothing)
    snap = journal.load_snapshot(200)
    assert snap is not None and snap.seq == 200
    assert snap.state_hash == built.machine.state_hash()
    journal.close()
