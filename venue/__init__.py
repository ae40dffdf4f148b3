"""The venue: Titan (matching) and Sentinel (margin) composed, with no I/O.

Imports point one way: ``titan`` <- ``sentinel`` <- ``venue`` <- ``exchange``. Inside
the package, :mod:`venue.venue` (the :class:`~venue.venue.Venue`) uses
:mod:`venue.invariants`, which uses :mod:`venue.state`; :mod:`venue.venue` and
:mod:`venue.wire` use :mod:`venue.types` (the command and event unions); none imports
:mod:`venue.venue` back.
"""
