"""Public market data: L1 ticker, L2, L3 and trades, built from engine events."""
