"""The assembled exchange: configuration, order-flow sources, and the ``exchange`` CLI."""
