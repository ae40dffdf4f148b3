"""When a record carries a checkpoint and when a snapshot is stored: one rule for every writer.

Rules
-----
- Record ``seq`` is a *snapshot point* when ``snapshot_every`` is not 0 and divides it:
  the machine's state is encoded, stored as a snapshot once the record is durable, and
  the record carries the snapshot's SHA-256 as its checkpoint (the hash is computed
  anyway, so a snapshot record is always checked).
- Otherwise record ``seq`` is a *checkpoint* when ``checkpoint_every`` is not 0 and
  divides it: the record carries the machine's state hash.
- ``batch`` is the most records committed in one atomic, durable write (a group commit).
- 0 turns checkpoints or snapshots off; a negative interval or a batch below 1 is refused.

The platform's sequencer and the CLI's recorder both ask :meth:`JournalPolicy.mark`, so
a journal's checkpoints and snapshots sit at the same seqs whichever wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

DEFAULT_BATCH = 8192
DEFAULT_CHECKPOINT_EVERY = 10_000
DEFAULT_SNAPSHOT_EVERY = 100_000


class Mark(IntEnum):
    """What record ``seq`` carries besides its input and events."""

    NONE = 0
    CHECKPOINT = 1  # the state hash
    SNAPSHOT = 2  # the state hash, and the encoded state is stored as a snapshot


@dataclass(frozen=True, slots=True)
class JournalPolicy:
    """Group-commit size and the checkpoint and snapshot intervals of a journal writer."""

    batch: int = DEFAULT_BATCH
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    snapshot_every: int = DEFAULT_SNAPSHOT_EVERY

    def __post_init__(self) -> None:
        for name in ("batch", "checkpoint_every", "snapshot_every"):
            value = getattr(self, name)
            if type(value) is not int:
                raise ValueError(f"{name} must be an integer, not {value!r}")
        if self.batch < 1:
            raise ValueError(f"batch must be >= 1, not {self.batch}")
        if self.checkpoint_every < 0 or self.snapshot_every < 0:
            raise ValueError(
                f"checkpoint_every ({self.checkpoint_every}) and snapshot_every "
                f"({self.snapshot_every}) must be >= 0"
            )

    def mark(self, seq: int) -> Mark:
        """What record ``seq`` carries (see the module rules)."""
        every = self.snapshot_every
        if every and seq % every == 0:
            return Mark.SNAPSHOT
        every = self.checkpoint_every
        if every and seq % every == 0:
            return Mark.CHECKPOINT
        return Mark.NONE
