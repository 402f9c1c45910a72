"""Files in the encodings and line ends ordinary tools write: Excel's "Unicode text" (UTF-16,
tab-delimited), Windows PowerShell's UTF-16 without a mark, a classic Mac export's bare \\r."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tasks.adapters.curated import Curated
from tasks.adapters.settings import IngestSettings
from tasks.adapters.storage import Storage
from tasks.ingest.stage import ingest_files

ROWS = ["store\tmonth\tsales"] + [
    f"{s}\t2020-{m:02d}\t{m}{',5' if s == 'Müller' else ''}" for s in ("Nord", "Müller") for m in range(1, 13)
]


@pytest.mark.parametrize(
    ("encoding", "end"),
    [("utf-16", "\r\n"), ("utf-16-le", "\r\n"), ("utf-8", "\r"), ("latin-1", "\r"), ("utf-16", "\r")],
)
def test_a_file_in_an_ordinary_encoding_or_with_bare_cr_lines_reads_the_same(tmp_path, encoding, end):
    rows = list(ROWS)
    rows[5] = rows[5].replace("\t5", "\tfive")  # a bad value on line 6
    path = tmp_path / "sales.csv"
    path.write_bytes((end.join(rows) + end).encode(encoding))
    before = path.read_bytes()
    storage = Storage(str(tmp_path / "storage"))
    (report,) = ingest_files(str(path), storage, IngestSettings()).files
    assert report["status"] == "ingested" and report["rows"] == 23 and report["series"] == 2
    df = Curated(storage).read().sort_values(["unique_id", "ds"])
    assert sorted(df["unique_id"].unique()) == ["Müller", "Nord"]
    assert df.loc[df["unique_id"] == "Müller", "y"].tolist() == [m + 0.5 for m in range(1, 13)]
    assert pd.Timestamp(df["ds"].max()) == pd.Timestamp("2020-12-01")
    quarantined = [json.loads(p.read_text()) for p in (Path(storage.root) / "quarantine").glob("*.json")]
    assert [(r["line"], r["code"]) for q in quarantined for r in q["rows"]] == [(6, "bad_value")]
    assert path.read_bytes() == before
