"""Auditing a journal: records in words, the state at a seq, verification and reports.

:mod:`exchange.audit.records` decodes and shows records (kinds, ISO times, amounts as
decimals, filters, counts); :mod:`exchange.audit.views` rebuilds the state after a
record and shows its positions, balances, open orders, insurance fund and marks;
:mod:`exchange.audit.verify` verifies a journal (integrity, re-execution, the rebuilt
state) and makes the reports of ``exchange replay`` and ``exchange hash``.

Rules
-----
- Journals are only read. Nothing here prints or parses arguments: that is
  :mod:`exchange.cli` (``replay``, ``hash``, ``inspect``, ``journal show``), which
  imports this package, never the other way.
- Imports go one way: records <- views <- verify; below them only
  :mod:`exchange.runtime.machines`, :mod:`oracle`, :mod:`venue`, :mod:`sentinel` and
  :mod:`titan`.
"""
