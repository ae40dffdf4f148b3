"""NASDAQ LOBSTER data through Titan: the message and orderbook file parsers (``parse``),
the static translation of messages into Titan commands (``translate``), and the replay
that compares Titan's book with the orderbook file after every message (``replay``)."""
