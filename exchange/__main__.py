"""``python -m exchange`` runs the CLI."""

from exchange.cli import main

raise SystemExit(main())
