"""The journal policy: which records carry a checkpoint, which are snapshot points."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oracle.policy import JournalPolicy, Mark


@given(
    batch=st.integers(1, 10_000),
    checkpoint_every=st.integers(0, 50),
    snapshot_every=st.integers(0, 50),
    seq=st.integers(1, 100_000),
)
def test_mark_follows_the_rule(
    batch: int, checkpoint_every: int, snapshot_every: int, seq: int
) -> None:
    mark = JournalPolicy(batch, checkpoint_every, snapshot_every).mark(seq)
    snapshot = snapshot_every > 0 and seq % snapshot_every == 0
    checkpoint = checkpoint_every > 0 and seq % checkpoint_every == 0
    if snapshot:
        assert mark is Mark.SNAPSHOT  # a snapshot record always carries its hash
    elif checkpoint:
        assert mark is Mark.CHECKPOINT
    else:
        assert mark is Mark.NONE


def test_zero_turns_marks_off() -> None:
    policy = JournalPolicy(checkpoint_every=0, snapshot_every=0)
    assert {policy.mark(seq) for seq in range(1, 1_000)} == {Mark.NONE}


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"batch": 0}, "batch"),
        ({"checkpoint_every": -1}, "checkpoint_every"),
        ({"snapshot_every": -5}, "snapshot_every"),
        ({"batch": 2.5}, "batch"),
        ({"checkpoint_every": "10"}, "checkpoint_every"),
    ],
)
def test_bad_values_are_refused_by_name(kwargs: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        JournalPolicy(**kwargs)  # type: ignore[arg-type]
