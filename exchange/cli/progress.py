"""The progress line the long audit commands draw on stderr (``replay``, ``hash``).

Rules
-----
- Drawn with ``\\r`` only when stderr is a terminal (after a short delay, so quick runs
  do not flicker) or once a run has lasted a couple of seconds; redrawn at most ten
  times a second; cleared at the end on a terminal, ended with a newline elsewhere.
- It is the :class:`exchange.audit.views.Phases` the audit functions report to; it never
  writes to stdout.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """A ``\\r`` progress line on stderr for long runs.

    Drawn only when the stream is a terminal (after ``tty_after`` seconds, so quick runs
    do not flicker) or once a run has lasted ``after`` seconds; redrawn at most every
    ``interval`` seconds. :meth:`close` clears it on a terminal, ends it with a newline
    elsewhere.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        after: float = 2.0,
        tty_after: float = 0.3,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty()) if callable(isatty) else False
        self.tty = tty
        self.clock = clock
        self.interval = interval
        self.started = clock()
        self.after = tty_after if tty else after
        self.label = ""
        self.total = 0
        self.width = 0
        self.last_draw = -1.0

    def phase(self, label: str, total: int) -> Callable[[int], None]:
        """Start a phase of ``total`` records (0: no count, just the label); returns the
        callback that reports the seq reached."""
        self.label, self.total = label, total
        self.last_draw = -1.0  # a new phase draws at once (when visible)
        self(0)
        return self

    def __call__(self, done: int) -> None:
        now = self.clock()
        if now - self.started < self.after or now - self.last_draw < self.interval:
            return
        self.last_draw = now
        line = self.label
        if self.total:
            line += f": {done:,}/{self.total:,} records ({100 * done / self.total:.0f}%)"
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = max(self.width, len(line))

    def close(self) -> None:
        """Clear (terminal) or end (elsewhere) the line, if one was drawn."""
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r" if self.tty else "\n")
            self.stream.flush()
            self.width = 0


__all__ = ["Progress"]
