"""Adapters: settings (the one source of defaults), storage, Delta tables, the curated table, locks, MLflow,
plots, progress bars and the local servers. An adapter never imports a stage."""
