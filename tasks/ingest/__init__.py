"""Ingest: CSV files sniffed, parsed block by block, key-checked, bad rows quarantined, committed to the
curated Delta table, which is compacted as it grows."""
