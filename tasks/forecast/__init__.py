"""Forecast: every series by the model chosen for it (the pyfunc the registry serves), sharded and written."""
