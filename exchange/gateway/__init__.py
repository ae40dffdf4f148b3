"""The Binance USDⓈ-M-compatible REST and WebSocket API."""
