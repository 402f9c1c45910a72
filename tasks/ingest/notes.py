"""What the ingest report says about how a file was read: the columns it left out and why, and
what its timestamps were taken to mean."""

from __future__ import annotations

from tasks.ingest.sniff import Layout
from tasks.ingest.timestamps import fiscal_note


def layout_notes(layout: Layout) -> list[str]:
    """The report's notes on ``layout`` (none for a plain file)."""
    notes = [f"left out, unnamed and mostly empty: {', '.join(layout.left_out)}"] if layout.left_out else []
    notes += [f"a table of months by years; left out beside it: {', '.join(layout.beside)}"] if layout.beside else []
    notes += [f"left out, text with no role: {', '.join(layout.text)}"] if layout.text else []
    notes += [f"left out, parts of the timestamp: {', '.join(layout.derived)}"] if layout.derived else []
    return notes + fiscal_note(layout.time_format, layout.column_months)
