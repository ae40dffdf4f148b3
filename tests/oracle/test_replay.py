"""Replay and audit, proven with Titan on real LOBSTER data and on the synthetic flow.

A journal written while the engine ran must rebuild, from genesis or from any snapshot,
the very state an in-memory run had at the same seq; the audit must re-create every
journaled event and checkpoint; and one altered byte, a lying writer, a wrong checkpoint
or a wrong snapshot must each be reported at their own seq.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from helpers.paths import LOBSTER as DATA
from rocksdict import Options, Rdict

from exchange.config.symbols import default_specs
from exchange.flow.synthetic import OrderFlow
from exchange.lobster.replay import replay
from exchange.lobster.translate import build_commands
from exchange.runtime.machines import TitanFactory, TitanMachine, factory_for, titan_genesis
from exchange.runtime.recorder import Recorder, journal_commands
from oracle import Journal, JournalCorrupt, Record
from oracle.chain import seq_key
from oracle.replay import audit, rebuild, rebuild_at_time
from titan import Engine, NewOrder, Side
from titan.commands import Command
from titan.wire import command_to_wire, events_to_wire

MSG_HOUR = DATA / "AAPL_2012-06-21_0930-1030_message.csv"
OB_HOUR = DATA / "AAPL_2012-06-21_0930-1030_orderbook_1.csv"
MSG999 = DATA / "AAPL_2012-06-21_first999_message.csv"
OB999 = DATA / "AAPL_2012-06-21_first999_orderbook_10.csv"
FAMILIES = ("records", "snapshots", "meta")
PROBES = (1, 777, 9_999, 10_000, 10_001, 23_456, 29_999)


def _synthetic(n: int, seed: int = 7) -> list[Command]:
    flow = OrderFlow(default_specs(), seed=seed)
    cmds = list(flow.opening())
    return cmds + flow.take(n - len(cmds))


def _hashes_at(specs: list, commands: list[Command], seqs: tuple[int, ...]) -> dict[int, str]:
    """State hashes of a plain in-memory run (no journal) after each seq in ``seqs``."""
    engine = Engine(specs)
    out = {}
    for cmd in commands:
        engine.apply(cmd)
        if cmd.seq in seqs:
            out[cmd.seq] = engine.state_hash()
    return out


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Command], str]:
    """30,000 synthetic commands journaled to RocksDB with checkpoints and snapshots."""
    path = tmp_path_factory.mktemp("synthetic") / "journal"
    specs = default_specs()
    commands = _synthetic(30_000)
    engine = Engine(specs)
    with Journal.open(path, create=True, genesis=titan_genesis(specs)) as journal:
        journal_commands(
            journal, engine, commands, batch_size=500, checkpoint_every=1_000, snapshot_every=10_000
        )
    return path, commands, engine.state_hash()


def test_synthetic_audit_regenerates_every_event_and_checkpoint(synthetic) -> None:
    path, commands, final = synthetic
    with Journal.open(path, read_only=True) as journal:
        assert journal.last_seq == len(commands)
        report = audit(journal, factory_for(journal.genesis))
        assert report.ok, report.divergence
        assert report.records == len(commands)
        assert report.checkpoints == 30 and report.snapshots == 3
        assert report.events > report.records
        assert report.state_hash == final


def test_rebuild_at_any_seq_equals_an_in_memory_run(synthetic) -> None:
    path, commands, _ = synthetic
    expected = _hashes_at(default_specs(), commands, PROBES)
    with Journal.open(path, read_only=True) as journal:
        factory = TitanFactory()
        for seq in PROBES:
            full = rebuild(journal, factory, seq, use_snapshots=False)
            fast = rebuild(journal, factory, seq)
            assert full.snapshot_seq == 0 and full.replayed == seq
            assert fast.snapshot_seq == (seq // 10_000) * 10_000
            assert fast.replayed == seq - fast.snapshot_seq
            assert full.machine.state_hash() == fast.machine.state_hash() == expected[seq]
        empty = rebuild(journal, factory, 0)
        assert empty.machine.state_hash() == Engine(default_specs()).state_hash()


def test_rebuild_at_time_is_the_state_after_the_last_record_at_or_before(synthetic) -> None:
    path, commands, _ = synthetic
    target = commands[23_455]  # seq 23,456
    expected = _hashes_at(default_specs(), commands, (23_456,))[23_456]
    with Journal.open(path, read_only=True) as journal:
        built = rebuild_at_time(journal, TitanFactory(), target.ts)
        assert built.seq == 23_456 and built.snapshot_seq == 20_000
        assert built.machine.state_hash() == expected
        before = rebuild_at_time(journal, TitanFactory(), commands[0].ts - 1)
        assert before.seq == 0


def _flip_stored_byte(path: Path, seq: int, offset: int) -> None:
    """Flip one byte of record ``seq``'s stored value, behind the journal's back."""
    opts = {name: Options(raw_mode=True) for name in FAMILIES}
    db = Rdict(str(path), Options(raw_mode=True), column_families=opts)
    records = db.get_column_family("records")
    value = bytearray(records[seq_key(seq)])
    value[offset] ^= 0x01
    records[seq_key(seq)] = bytes(value)
    records.close()
    db.close()
    del records, db


def test_one_altered_byte_fails_verify_and_audit_at_that_record(tmp_path: Path) -> None:
    specs = default_specs()
    commands = _synthetic(5_000, seed=3)
    path = tmp_path / "j"
    with Journal.open(path, create=True, genesis=titan_genesis(specs)) as journal:
        journal_commands(journal, Engine(specs), commands, batch_size=256, snapshot_every=0)
    _flip_stored_byte(path, 3_210, offset=20)
    with Journal.open(path, read_only=True) as journal:
        report = journal.verify()
        assert not report.ok and report.error is not None
        assert report.error.seq == 3_210
        assert "hash chain" in str(report.error)
        with pytest.raises(JournalCorrupt) as exc:
            audit(journal, factory_for(journal.genesis))
        assert exc.value.seq == 3_210
        # everything before the damage is still usable
        assert rebuild(journal, TitanFactory(), 3_209).seq == 3_209


def _lying_journal(mutate: str) -> Journal:
    """A journal whose chain is intact but whose content a buggy writer got wrong."""
    specs = default_specs()
    journal = Journal.memory(titan_genesis(specs))
    engine = Engine(specs)
    machine = TitanMachine(engine)
    records = []
    for cmd in _synthetic(2_000, seed=5):
        events = events_to_wire(engine.apply(cmd))
        checkpoint = machine.state_hash() if cmd.seq % 500 == 0 else None
        if cmd.seq == 1_234 and mutate == "events":
            events = events[:-1] if len(events) > 1 else events + events
        if cmd.seq == 1_500 and mutate == "checkpoint":
            checkpoint = "0" * 64
        records.append(Record(cmd.seq, cmd.ts, command_to_wire(cmd), events, checkpoint))
    journal.append(records)
    if mutate == "snapshot":
        blob = TitanMachine(Engine(specs)).snapshot()  # a valid state, but the wrong one
        journal.save_snapshot(1_000, hashlib.sha256(blob).hexdigest(), blob)
    return journal


@pytest.mark.parametrize(
    ("mutate", "seq", "what"),
    [
        ("events", 1_234, "events"),
        ("checkpoint", 1_500, "checkpoint"),
        ("snapshot", 1_000, "snapshot"),
    ],
)
def test_audit_names_the_first_divergence(mutate: str, seq: int, what: str) -> None:
    journal = _lying_journal(mutate)
    assert journal.verify().ok  # the chain cannot see a writer's lie ...
    report = audit(journal, factory_for(journal.genesis))
    assert not report.ok and report.divergence is not None  # ... re-execution does
    assert (report.divergence.seq, report.divergence.what) == (seq, what)
    assert report.records == seq - (what == "events")
    assert str(seq) in report.divergence.describe()


def test_audit_reports_the_differing_event_precisely() -> None:
    specs = default_specs()
    journal = Journal.memory(titan_genesis(specs))
    engine = Engine(specs)
    a = NewOrder(1, 10, "BTCUSDT", 1, 1, Side.SELL, 5, 300_000)
    b = NewOrder(2, 20, "BTCUSDT", 2, 2, Side.BUY, 5, 300_000)
    wire_a = events_to_wire(engine.apply(a))
    wire_b = [list(e) for e in events_to_wire(engine.apply(b))]
    wire_b[1] = [wire_b[1][0], list(wire_b[1][1])]
    wire_b[1][1][5] += 1  # the trade's quantity
    journal.append(
        [
            Record(1, 10, command_to_wire(a), wire_a),
            Record(2, 20, command_to_wire(b), wire_b),
        ]
    )
    d = audit(journal, TitanFactory()).divergence
    assert d is not None and (d.seq, d.what, d.event) == (2, "events", 1)
    assert d.expected[0] == d.actual[0] == "Trade"
    assert d.expected[1][5] == d.actual[1][5] + 1


def test_audit_reports_an_input_the_machine_cannot_read() -> None:
    journal = Journal.memory(titan_genesis(default_specs()))
    journal.append([Record(1, 1, ["NoSuchCommand", [1, 1]], [])])
    d = audit(journal, TitanFactory()).divergence
    assert d is not None and (d.seq, d.what) == (1, "input")
    assert "NoSuchCommand" in d.describe()


@pytest.mark.data(MSG_HOUR, OB_HOUR)
def test_lobster_hour_journaled_replayed_and_audited(tmp_path: Path) -> None:
    """The 09:30-10:30 AAPL file: journal the replay, then rebuild and audit it."""
    path = tmp_path / "hour"

    def recorder(spec, engine: Engine) -> Recorder:
        journal = Journal.open(path, create=True, genesis=titan_genesis([spec]))
        return Recorder(
            journal, TitanMachine(engine), checkpoint_every=5_000, snapshot_every=25_000
        )

    report = replay(MSG_HOUR, OB_HOUR, 1, recorder)
    assert report.rows_identical / report.rows_compared >= 0.999
    flow = build_commands(MSG_HOUR, OB_HOUR)
    n = len(flow.seed) + len(flow.commands)
    with Journal.open(path, read_only=True) as journal:
        assert journal.last_seq == n
        assert journal.verify().ok
        result = audit(journal, factory_for(journal.genesis))
        assert result.ok, result.divergence
        assert result.records == n and result.checkpoints == n // 5_000
        assert result.state_hash == report.state_hash
        rebuilt = rebuild(journal, TitanFactory())
        assert rebuilt.snapshot_seq == (n // 25_000) * 25_000
        assert rebuilt.machine.state_hash() == report.state_hash


@pytest.mark.data(MSG999, OB999)
def test_lobster_first999_rebuild_at_every_thousandth_seq(tmp_path: Path) -> None:
    flow = build_commands(MSG999, OB999)
    commands = list(flow.seed) + list(flow.commands)
    specs = [flow.spec]
    path = tmp_path / "j"
    with Journal.open(path, create=True, genesis=titan_genesis(specs)) as journal:
        journal_commands(journal, Engine(specs), commands, batch_size=64, snapshot_every=300)
    probes = tuple(range(1, len(commands) + 1, 97))
    expected = _hashes_at(specs, commands, probes)
    with Journal.open(path, read_only=True) as journal:
        for seq in probes:
            assert rebuild(journal, TitanFactory(), seq).machine.state_hash() == expected[seq]
