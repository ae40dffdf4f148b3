"""Mark prices into the venue: the seeded simulated walk and the Binance conversion
(``prices``), the Binance USDⓈ-M websocket client (``binance``), the local server that
replays real recorded Binance frames with scripted faults (``replay_server``, also
``python -m exchange.feeds.replay_server``), and what the running source reports to the
metrics (``status``)."""
