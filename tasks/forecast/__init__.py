"""Forecast: every series by the model chosen for it (the pyfunc the registry serves), sharded and
written; the future values of future-known covariates, checked and stored."""
