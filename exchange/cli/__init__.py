"""The ``exchange`` command line: one module per subcommand, and what they share.

Each subcommand module (``run``, ``simulate``, ``titan``, ``lobster``, ``journal``,
``liquidation_price``, ``replay``, ``hash``, ``inspect``) has ``NAME`` (the subcommand),
``register(sub)`` (adds its parser to the subparsers) and ``run(args) -> int`` (the exit
status); :mod:`exchange.cli.main` builds the parser from that list, dispatches and turns
errors into one line on stderr. :mod:`exchange.cli.args` holds the argument types and
the ``--journal`` options, :mod:`exchange.cli.progress` the progress line.

Rules
-----
- The top of the import graph: only ``exchange.__main__`` (and the console script)
  imports it, and a subcommand module never imports another one.
- Argparse and printing live here; what is computed or formatted lives below
  (:mod:`exchange.audit`, :mod:`exchange.runtime`, :mod:`exchange.lobster`, ...).
- User errors raise (``UserError``, ``ConfigError``, ...); :func:`exchange.cli.main.main`
  alone decides the message and the exit status.
"""
