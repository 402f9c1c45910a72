"""Train: configurations from the settings, the LSTM fitted and refit, the backtest against the statistical
comparators, the choice of model per series, conformal intervals, the --auto search, registration and the gate."""
