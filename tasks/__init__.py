"""The pipeline stages, one folder each (ingest, train, forecast, monitor), the series code they share
(series) and the adapters to the outside world (adapters). See the README's layout."""
