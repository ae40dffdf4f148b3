"""``python -m exchange`` runs the CLI."""

from exchange.cli.main import main

raise SystemExit(main())
