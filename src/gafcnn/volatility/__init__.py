"""The size of the next move: realized volatility per decision time, the HAR-RV
forecast, the scores volatility forecasts are judged by, and the position size a
forecast gives."""
