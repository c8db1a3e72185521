"""Trading: one position engine (how a decision opens, holds, closes and pays costs) and
the figures of its trades, run by the backtest, `gafcnn paper` and the service alike."""
