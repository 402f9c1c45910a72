"""The curated Delta table as other engines see it: one row per key after appends, a history rewrite,
duplicates and a re-ingest; time travel; an older parts-and-manifest storage converted in place."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

from tasks.adapters.curated import Curated, read_curated
from tasks.adapters.settings import IngestSettings
from tasks.adapters.storage import Storage
from tasks.ingest.stage import ingest_files


def long_file(path: Path, rows: list[tuple[str, str, float]]) -> Path:
    path.write_text("unique_id,ds,y\n" + "".join(f"{u},{d},{y}\n" for u, d, y in rows))
    return path


def days(uid: str, start: str, n: int, value: float) -> list[tuple[str, str, float]]:
    return [(uid, str(d.date()), value + i) for i, d in enumerate(pd.date_range(start, periods=n, freq="D"))]


def as_stored(root: Path, version: int | None = None) -> pd.DataFrame:
    """The table read by deltalake alone (no project code), as DuckDB, polars or Spark would."""
    df = DeltaTable(str(root / "curated"), version=version).to_pandas()
    df = df.drop(columns=["bucket", "bucket_group"]).sort_values(["unique_id", "ds"], ignore_index=True)
    df["ds"] = df["ds"].astype("datetime64[ns]")
    return df


def test_other_engines_read_exactly_the_rows_read_curated_returns(tmp_path):
    st = Storage(str(tmp_path / "st"))
    raw = tmp_path / "raw"
    raw.mkdir()
    versions = []

    def ingest(name: str, rows, **cfg) -> dict:
        summary = ingest_files(str(long_file(raw / name, rows)), st, IngestSettings(**cfg))
        versions.append(summary.curated_version)
        (report,) = summary.files
        return report

    assert ingest("a.csv", days("a", "2020-01-01", 30, 0) + days("b", "2020-01-01", 30, 100))["status"] == "ingested"
    assert ingest("c.csv", days("c", "2020-01-01", 10, 200))["status"] == "ingested"  # an append
    assert ingest("a2.csv", days("a", "2020-01-31", 5, 30))["status"] == "ingested"  # new days of a
    rewrite = ingest("fix.csv", days("b", "2020-01-10", 5, 1000))  # history rewrite (MERGE)
    assert rewrite["status"] == "ingested" and rewrite["replaced"] == 5
    dup = ingest("dup.csv", days("d", "2020-01-01", 3, 0) + [("d", "2020-01-02", 99.0)])  # duplicates: last kept
    assert dup["duplicates"] == 1
    assert ingest("fix.csv", days("b", "2020-01-10", 5, 1000))["status"] == "unchanged"  # the same content again
    rejected = ingest("fix2.csv", days("b", "2020-01-10", 2, -1), on_overlap="reject")
    assert rejected["status"] == "rejected" and "rewrites_history" in rejected["reason"]
    same = ingest("again.csv", days("c", "2020-01-01", 12, 200), on_overlap="reject")  # same values + 2 new
    assert same["status"] == "ingested" and same["replaced"] == 0

    ours = read_curated(st.url)
    theirs = as_stored(tmp_path / "st")
    pd.testing.assert_frame_equal(theirs, ours)
    assert not ours.duplicated(["unique_id", "ds"]).any() and len(ours) == 30 + 5 + 30 + 12 + 3
    b = ours[ours["unique_id"] == "b"].set_index("ds")["y"]
    assert b[pd.Timestamp("2020-01-10")] == 1000 and b[pd.Timestamp("2020-01-09")] == 108
    assert ours.loc[(ours["unique_id"] == "d") & (ours["ds"] == "2020-01-02"), "y"].item() == 99.0

    # time travel: the version before the rewrite, by the project's reader and by deltalake alone
    earlier = read_curated(st.url, version=versions[2])
    assert earlier[earlier["unique_id"] == "b"].set_index("ds")["y"][pd.Timestamp("2020-01-10")] == 109
    pd.testing.assert_frame_equal(as_stored(tmp_path / "st", versions[2]), earlier)
    assert len(DeltaTable(str(tmp_path / "st" / "curated")).history()) == versions[-1] + 1


def test_an_older_parts_and_manifest_storage_is_converted_in_place(tmp_path):
    root = tmp_path / "st"
    parts = root / "curated" / "parts"
    parts.mkdir(parents=True)
    first = pa.table(
        {
            "unique_id": ["a", "a", "b"],
            "ds": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-01"]),
            "y": [1.0, 2.0, 3.0],
        }
    )
    second = pa.table({"unique_id": ["a"], "ds": pd.to_datetime(["2020-01-02"]), "y": [20.0]})  # the latest part wins
    pq.write_table(first, parts / "00000001-x.parquet")
    pq.write_table(second, parts / "00000002-y.parquet")
    source = long_file(tmp_path / "old.csv", [("a", "2020-01-01", 1.0)])
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    Storage(str(root)).write_json(
        "curated/_manifest.json",
        {
            "format": 1,
            "columns": ["y"],
            "seq": 2,
            "files": {sha: {"file": str(source), "rows": 1}},
            "parts": [{"name": "00000001-x.parquet", "rows": 3}, {"name": "00000002-y.parquet", "rows": 1}],
        },
    )

    df = Curated(Storage(str(root))).read()
    assert df[["unique_id", "y"]].values.tolist() == [["a", 1.0], ["a", 20.0], ["b", 3.0]]
    assert (root / "curated" / "_delta_log").is_dir() and not (root / "curated" / "_manifest.json").exists()
    assert (root / "curated" / "_legacy" / "parts" / "00000001-x.parquet").exists()  # kept, never deleted
    summary = ingest_files(str(source), Storage(str(root)), IngestSettings())
    assert summary.files[0]["status"] == "unchanged"  # the manifest's files are known to the table
    pd.testing.assert_frame_equal(as_stored(root), df)


def test_two_compactions_at_once_never_duplicate_a_row(tmp_path):
    """delta-rs lets two OPTIMIZE commits read at one version both land, each re-adding the rows of the
    files they both removed; the writers' app transaction makes the second one refuse and skip."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from tasks.ingest.commit import maintain

    for rep in range(4):
        st = Storage(str(tmp_path / f"st{rep}"))
        cfg = IngestSettings(compact_min_files=100)  # the ingests themselves never compact
        for k in range(6):
            ingest_files(
                str(
                    long_file(
                        tmp_path / f"f{rep}-{k}.csv",
                        [r for i in range(20) for r in days(f"s{i}", f"2020-0{k + 1}-01", 5, k)],
                    )
                ),
                st,
                cfg,
            )
        before = as_stored(st.local_root())
        barrier = Barrier(2)

        def compact(barrier: Barrier = barrier, st: Storage = st) -> dict:
            barrier.wait()
            return maintain(Curated(st), retention_hours=168, min_files=2)

        with ThreadPoolExecutor(2) as pool:
            outs = list(pool.map(lambda _: compact(), range(2)))
        after = as_stored(st.local_root())
        assert not after.duplicated(["unique_id", "ds"]).any(), outs
        pd.testing.assert_frame_equal(after, before)
        assert any(o["compacted"] for o in outs)


def test_the_ingests_own_maintenance_removes_a_killed_writers_files_in_time(tmp_path):
    """Without ``force``: a full vacuum every VACUUM_EVERY versions finds files no commit lists."""
    import os
    import time

    from tasks.ingest.commit import VACUUM_EVERY

    st = Storage(str(tmp_path / "st"))
    cfg = IngestSettings(compact_min_files=2, vacuum_retention_hours=1)
    ingest_files(str(long_file(tmp_path / "f0.csv", days("s0", "2020-01-01", 5, 0))), st, cfg)
    orphan = next((tmp_path / "st" / "curated").glob("bucket_group=*")) / "part-killed-c000.zstd.parquet"
    pq.write_table(pa.table({"x": [1]}), orphan)
    old = time.time() - 2 * 3600
    os.utime(orphan, (old, old))
    for k in range(1, VACUUM_EVERY + 8):
        ingest_files(
            str(
                long_file(
                    tmp_path / f"f{k}.csv",
                    days("s0", f"2021-01-{k % 28 + 1:02d}", 1, k) + days("s1", "2020-01-01", 1, k),
                )
            ),
            st,
            cfg,
        )
        if not orphan.exists():
            break
    assert not orphan.exists()
    assert DeltaTable(str(tmp_path / "st" / "curated")).version() >= 2
