"""Verification of a journal and the reports of ``exchange replay`` and ``exchange hash``.

:func:`verify` checks the integrity of the *whole* journal (``Journal.verify``: keys,
gaps, hash chain, decoding, time order, head, anchor, snapshots), then re-executes every
input of records 1..N from genesis and compares every event, checkpoint and snapshot
hash (``oracle.replay.audit``). :func:`replay_state` runs that (when asked), rebuilds the
state after record N from the newest valid snapshot plus the tail and counts the inputs;
:func:`replay_report` adds the last check, that the state rebuilt from the snapshot
equals the re-executed one, and gives the report as JSON (:func:`replay_lines`: as
text). :func:`hash_report` compares a rebuilt state's hash with the checkpoint its
record carries.

Rules
-----
- The re-execution stops at the state shown (that state is what is proven); damage
  anywhere in the journal still fails the verification, and the re-execution then
  stops before the damaged record.
- The first problem found is *the* divergence, ``{seq, what, detail, ...}``; ``what``
  is ``integrity`` for journal damage, ``events``/``checkpoint``/``snapshot``/``input``
  from the re-execution, ``journal`` when the re-execution hit damage, ``rebuild`` when
  the snapshot-built state differs. Problems without a seq sort last.
- ``verified`` is true only when the verification ran and nothing failed; without it
  the report says false and looks for no divergence.
- Damage found while rebuilding the state after a verification is reported (``error``),
  not raised; without a verification it is raised (:class:`oracle.JournalCorrupt`,
  :class:`oracle.SnapshotError`).
- Progress goes to a :class:`exchange.audit.views.Phases`; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from exchange.audit.records import PROGRESS_EVERY, Counts, Wire, count_records
from exchange.audit.views import STATE_KEYS, Phases, rebuild_state, state_lines, state_view
from oracle import Journal, JournalCorrupt, SnapshotError, VerifyReport
from oracle.replay import AuditReport, MachineFactory, Rebuilt, audit

# -- verification -----------------------------------------------------------------------


class Verification(NamedTuple):
    """What ``--verify`` found. ``divergence`` is the first problem (None: verified)."""

    integrity: VerifyReport
    audit: AuditReport | None
    audited_to: int
    divergence: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return self.divergence is None

    def to_json(self) -> dict[str, Any]:
        i, a = self.integrity, self.audit
        return {
            "integrity": {
                "ok": i.ok,
                "records": i.records,
                "checkpoints": i.checkpoints,
                "snapshots": i.snapshots,
                "seconds": round(i.seconds, 3),
                "error": None if i.error is None else str(i.error),
            },
            "audit": None
            if a is None
            else {
                "ok": a.ok,
                "records": a.records,
                "events": a.events,
                "checkpoints": a.checkpoints,
                "snapshots": a.snapshots,
                "seconds": round(a.seconds, 3),
                "state_hash": a.state_hash or None,
            },
            "audited_to": self.audited_to,
        }


def _first(problems: Iterable[dict[str, Any] | None]) -> dict[str, Any] | None:
    found = [p for p in problems if p is not None]
    if not found:
        return None
    return min(found, key=lambda p: (p["seq"] is None, p["seq"] or 0))


def verify(
    journal: Journal, factory: MachineFactory, target: int, progress: Phases
) -> Verification:
    """Integrity of the whole journal, then re-execution of records 1..``target``."""
    progress.phase(f"checking the integrity of {journal.last_seq:,} records", 0)
    integrity = journal.verify()
    problem = None
    stop = target
    if integrity.error is not None:
        bad = integrity.error.seq
        problem = {"seq": bad, "what": "integrity", "detail": str(integrity.error)}
        if bad is not None:
            stop = min(stop, bad - 1)  # re-execute what precedes the damage
    report: AuditReport | None = None
    found = None
    try:
        report = audit(
            journal,
            factory,
            stop=stop,
            progress=progress.phase("re-executing", stop),
            progress_every=PROGRESS_EVERY,
        )
    except (JournalCorrupt, SnapshotError) as exc:
        found = {"seq": exc.seq, "what": "journal", "detail": str(exc)}
    if report is not None and report.divergence is not None:
        d = report.divergence
        found = {
            "seq": d.seq,
            "what": d.what,
            "event": d.event,
            "detail": d.describe(),
            "expected": d.expected,
            "actual": d.actual,
        }
    return Verification(integrity, report, stop, _first([problem, found]))


# -- exchange replay --------------------------------------------------------------------


class ReplayState(NamedTuple):
    """What :func:`replay_state` found: the rebuilt state and the counts (None when
    damage stopped them), the verification (None when not asked) and the damage."""

    built: Rebuilt | None
    counts: Counts | None
    checked: Verification | None
    errors: list[str]


def replay_state(
    journal: Journal, factory: MachineFactory, target: int, *, check: bool, progress: Phases
) -> ReplayState:
    """Verify records 1..``target`` (if ``check``), rebuild the state after ``target``
    and count the inputs of records 1..``target``."""
    checked: Verification | None = None
    built: Rebuilt | None = None
    counts: Counts | None = None
    errors: list[str] = []
    if check:
        checked = verify(journal, factory, target, progress)
    try:
        built = rebuild_state(journal, factory, target, progress)
        counts = count_records(journal, target, progress.phase("counting", target))
    except (JournalCorrupt, SnapshotError) as exc:
        if checked is None:
            raise
        errors.append(str(exc))
    return ReplayState(built, counts, checked, errors)


def replay_report(
    path: str, journal: Journal, wire: Wire, target: int, state: ReplayState
) -> dict[str, Any]:
    """The JSON report of ``exchange replay`` on the journal at ``path``."""
    built, checked = state.built, state.checked
    divergence = checked.divergence if checked is not None else None
    if (
        checked is not None
        and checked.ok
        and built is not None
        and checked.audit is not None
        and checked.audited_to == target
        and checked.audit.state_hash != built.machine.state_hash()
    ):
        divergence = {
            "seq": target,
            "what": "rebuild",
            "detail": f"seq {target}: the state rebuilt from snapshot "
            f"{built.snapshot_seq} hashes to {built.machine.state_hash()}, "
            f"re-execution gives {checked.audit.state_hash}",
        }
    verified = checked is not None and divergence is None and not state.errors
    data = _replay_data(path, journal, wire, target, built, state.counts, checked, divergence)
    data["verified"] = verified
    data["error"] = state.errors[0] if state.errors else None
    return data


def _replay_data(
    path: str,
    journal: Journal,
    wire: Wire,
    target: int,
    built: Rebuilt | None,
    counts: Counts | None,
    checked: Verification | None,
    divergence: dict[str, Any] | None,
) -> dict[str, Any]:
    state = state_view(built.machine) if built is not None else None
    ts = counts.ts if counts is not None else None
    return {
        "journal": path,
        "machine": wire.machine,
        "symbols": list(wire.specs),
        "verified": False,
        "records": journal.last_seq,
        "last_seq": target,
        "ts": ts,
        "time": None if ts is None else wire.time(ts),
        "state_hash": None if built is None else built.machine.state_hash(),
        "snapshot_seq": None if built is None else built.snapshot_seq,
        "replayed": None if built is None else built.replayed,
        "skipped_snapshots": [] if built is None else built.skipped,
        "first_divergence": None if divergence is None else divergence["seq"],
        "divergence": divergence,
        "verification": None if checked is None else checked.to_json(),
        "inputs_by_kind": None if counts is None else counts.inputs_by_kind,
        "liquidations": None if counts is None else counts.liquidations,
        **(state if state is not None else dict.fromkeys(STATE_KEYS)),
    }


def replay_lines(data: dict[str, Any], state: ReplayState) -> list[str]:
    """The text of a :func:`replay_report`."""
    built, checked = state.built, state.checked
    when = f" ({data['time']})" if data["time"] else ""
    lines = [
        f"journal {data['journal']}: {data['machine']} over {', '.join(data['symbols'])}; "
        f"state after seq {data['last_seq']} of {data['records']}{when}"
    ]
    if built is not None:
        start = f"snapshot {built.snapshot_seq}" if built.snapshot_seq else "genesis"
        lines.append(
            f"  rebuilt from {start} + {built.replayed:,} records in {built.seconds:.2f} s"
        )
        lines += [f"  skipped bad snapshot: {why}" for why in built.skipped]
        lines.append(f"  state hash {data['state_hash']}")
    if data["error"]:
        lines.append(f"  state not available: {data['error']}")
    kinds = data["inputs_by_kind"]
    if kinds is not None:
        parts = [f"{n:,} {k.replace('_', ' ')}" for k, n in kinds.items() if n or k != "other"]
        lines.append(f"  inputs: {', '.join(parts)}; {data['liquidations']:,} liquidations")
    if data["open_orders"] is not None:
        lines += state_lines(data, data["machine"])
    if checked is not None:
        lines += _verification_lines(data, checked)
    return lines


def _verification_lines(data: dict[str, Any], checked: Verification) -> list[str]:
    i, a = checked.integrity, checked.audit
    d = data["divergence"]
    lines = []
    if data["verified"]:
        assert a is not None
        lines.append(
            f"  verified: OK: integrity of {i.records:,} records, {i.checkpoints:,} checkpoints "
            f"and {i.snapshots} snapshots; records 1..{checked.audited_to:,} re-executed, "
            f"{a.events:,} events, {a.checkpoints:,} checkpoints and {a.snapshots} snapshots "
            f"matched in {i.seconds + a.seconds:.2f} s"
        )
    elif d is not None:
        lines.append(f"  verification FAILED: first divergence at seq {d['seq']}: {d['detail']}")
    else:
        lines.append(f"  verification FAILED: {data['error']}")
    return lines


# -- exchange hash ----------------------------------------------------------------------


def hash_report(journal: Journal, seq: int, built: Rebuilt) -> dict[str, Any]:
    """The state hash after record ``seq`` (``built``: that state) and the checkpoint
    the record carries (None for the genesis state or a record without one);
    ``checkpoint_matches`` is None when there is nothing to compare."""
    state_hash = built.machine.state_hash()
    checkpoint = journal.read(seq).checkpoint if seq else None
    matches = None if checkpoint is None else checkpoint == state_hash
    return {
        "seq": seq,
        "state_hash": state_hash,
        "checkpoint": checkpoint,
        "checkpoint_matches": matches,
        "snapshot_seq": built.snapshot_seq,
        "replayed": built.replayed,
    }


def hash_lines(data: dict[str, Any]) -> list[str]:
    """The text of a :func:`hash_report`."""
    seq, checkpoint = data["seq"], data["checkpoint"]
    lines = [f"seq {seq}: state hash {data['state_hash']}"]
    if checkpoint is None:
        lines.append(f"  no checkpoint in record {seq}" if seq else "  genesis state")
    elif data["checkpoint_matches"]:
        lines.append(f"  matches the checkpoint in record {seq}")
    else:
        lines.append(f"  MISMATCH: record {seq}'s checkpoint is {checkpoint}")
    return lines


__all__ = [
    "ReplayState",
    "Verification",
    "hash_lines",
    "hash_report",
    "replay_lines",
    "replay_report",
    "replay_state",
    "verify",
]
