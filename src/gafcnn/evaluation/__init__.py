"""What the predictions are worth: metrics, bootstrap, backtest, selection bias, the
audit, walk-forward, the decision and the report."""
