"""Edge cases found in review: each pins a fix so that it cannot come back unnoticed."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest

from exchange.cli.main import main
from exchange.config.symbols import default_specs
from exchange.flow.synthetic import OrderFlow
from exchange.runtime.machines import TitanFactory, TitanMachine, titan_genesis
from exchange.runtime.recorder import Recorder, journal_commands
from oracle import AppendError, Journal, JournalError, Record, SnapshotError
from oracle.replay import audit, rebuild
from oracle.rocks import ANCHOR_FILE
from titan import Engine


def _journal(path: Path, n: int = 3_000, snapshot_every: int = 1_000) -> None:
    specs = default_specs()
    flow = OrderFlow(specs, seed=11)
    cmds = list(flow.opening())
    cmds += flow.take(n - len(cmds))
    with Journal.open(path, create=True, genesis=titan_genesis(specs)) as j:
        journal_commands(j, Engine(specs), cmds, batch_size=128, snapshot_every=snapshot_every)


def test_titan_journal_refuses_time_going_back_before_running(tmp_path: Path, capsys) -> None:
    cmds = tmp_path / "c.jsonl"
    line = {"cmd": "new", "symbol": "BTCUSDT", "account": 1, "side": "SELL", "qty": "0.010",
            "price": "50000.0"}  # fmt: skip
    cmds.write_text(
        json.dumps({**line, "ts": 100}) + "\n" + json.dumps({**line, "ts": 50}) + "\n",
        encoding="utf-8",
    )
    assert main(["titan", str(cmds), "--journal", str(tmp_path / "j")]) == 2
    out = capsys.readouterr()
    assert "command 2: ts 50 is before the previous command's 100" in out.err
    assert out.out == ""  # nothing was executed, so nothing printed
    assert not (tmp_path / "j").exists()


def test_a_refused_batch_stays_queued_in_the_recorder() -> None:
    journal = Journal.memory(titan_genesis(default_specs()))
    rec = Recorder(journal, TitanMachine(Engine(default_specs())), batch_size=10)
    rec.add(1, 10, ["SetMarkPrice", [1, 10, "BTCUSDT", 1]], [])
    rec.add(2, 5, ["SetMarkPrice", [2, 5, "BTCUSDT", 1]], [])  # time goes back
    with pytest.raises(AppendError):
        rec.flush()
    assert journal.last_seq == 0 and len(rec._pending) == 2


def test_an_abandoned_iterator_does_not_keep_the_journal_locked(tmp_path: Path) -> None:
    _journal(tmp_path / "j", 500, 0)
    j = Journal.open(tmp_path / "j")
    it = j.records()
    next(it)
    j.close()
    j.close()  # idempotent
    with pytest.raises(JournalError, match="closed"):
        j.append([])  # an empty batch on a closed journal is still refused
    with Journal.open(tmp_path / "j") as again:
        assert again.last_seq == 500
    with pytest.raises(JournalError, match="closed while it was being read"):
        next(it)


def test_rebuild_skips_a_snapshot_that_cannot_be_restored(tmp_path: Path, capsys) -> None:
    path = tmp_path / "j"
    _journal(path)
    with Journal.open(path) as j:
        junk = b"not a titan state"
        j.save_snapshot(2_500, hashlib.sha256(junk).hexdigest(), junk)
    with Journal.open(path, read_only=True) as j:
        built = rebuild(j, TitanFactory(), 2_700)
        assert built.snapshot_seq == 2_000 and built.replayed == 700
        assert any("snapshot 2500 cannot be restored" in why for why in built.skipped)
        full = rebuild(j, TitanFactory(), 2_700, use_snapshots=False)
        assert built.machine.state_hash() == full.machine.state_hash()
        # the audit does not accept it either: its state hash is not the machine's
        d = audit(j, TitanFactory()).divergence
        assert d is not None and (d.seq, d.what) == (2_500, "snapshot")
    assert main(["journal", "replay", str(path), "--seq", "2700"]) == 0
    assert "skipped bad snapshot: snapshot 2500 cannot be restored" in capsys.readouterr().out


def test_audit_checks_snapshot_blobs_not_only_their_headers(tmp_path: Path, capsys) -> None:
    path = tmp_path / "j"
    _journal(path)
    with Journal.open(path) as j:
        snap = j.load_snapshot(1_000)
        assert snap is not None
        blob = bytearray(snap.blob)
        blob[len(blob) // 2] ^= 0x40
        # written under the real header, as damage on disk would leave it
        from oracle.backend import SNAPSHOTS
        from oracle.chain import seq_key
        from oracle.codec import encode_snapshot

        batch = j._backend.new_batch()
        batch.put_in(SNAPSHOTS, seq_key(1_000), encode_snapshot(snap._replace(blob=bytes(blob))))
        j._backend.write(batch, True)
    with Journal.open(path, read_only=True) as j:
        with pytest.raises(SnapshotError) as exc:
            audit(j, TitanFactory())
        assert exc.value.seq == 1_000
    assert main(["journal", "audit", str(path)]) == 1
    assert "snapshot 1000 fails its state hash" in capsys.readouterr().err


def test_async_anchor_never_leads_the_fsync(tmp_path: Path) -> None:
    j = Journal.open(tmp_path / "j", create=True, durability="async", fsync_interval=3600)
    j.append([Record(1, 1, "a", [])])
    anchor = tmp_path / "j" / ANCHOR_FILE
    assert anchor.read_bytes() == b""  # written, not yet fsynced: no claim made
    j.sync()
    assert struct.unpack(">QQ32s", anchor.read_bytes())[0] == 1
    j.close()


def test_genesis_less_and_foreign_directories_get_clear_messages(tmp_path: Path, capsys) -> None:
    Journal.open(tmp_path / "bare", create=True).close()
    assert main(["journal", "audit", str(tmp_path / "bare")]) == 2
    assert "no machine description" in capsys.readouterr().err
    from rocksdict import Options, Rdict

    db = Rdict(str(tmp_path / "foreign"), Options(raw_mode=True))
    db[b"k"] = b"v"
    db.close()
    assert main(["journal", "verify", str(tmp_path / "foreign")]) == 2
    assert "is a RocksDB database but not a journal" in capsys.readouterr().err
    with pytest.raises(JournalError, match="unknown durability"):
        Journal.open(tmp_path / "new", create=True, durability="fast")
    assert not (tmp_path / "new").exists()
