"""Monitor: earlier forecasts scored against the actuals that arrived since; a degrading champion flagged."""
