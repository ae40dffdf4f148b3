"""Sentinel: clearing, margin and liquidation modelled on Binance USDⓈ-M futures.

Pure and deterministic like Titan (integers, no I/O, no clock). ``Venue`` composes Titan
and Sentinel: ``Venue(contracts).apply(command) -> events``.
"""
