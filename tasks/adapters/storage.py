"""Storage adapter: every path under one fsspec root; Parquet/JSON I/O with atomic commits.

Writes go to a hidden temporary file in the destination folder and are then moved over the
final name, so a reader sees either the previous file or the new one, never a partial file
(readers such as pyarrow.dataset skip names starting with '.' or '_').
"""

from __future__ import annotations

import json
import posixpath
import uuid
from pathlib import Path
from typing import Any

import fsspec


class Storage:
    def __init__(self, root: str) -> None:
        self.url = root
        self.fs, self.root = fsspec.core.url_to_fs(root)

    @property
    def is_local(self) -> bool:
        return _is_local(self.fs)

    def local_root(self) -> Path:
        if not self.is_local:
            raise ValueError(f"storage {self.url!r} is not a local folder")
        return Path(self.root).resolve()

    def path(self, rel: str) -> str:
        return posixpath.join(self.root, rel)

    def uri(self, rel: str) -> str:
        """A user-facing location: a local path, or the URL for remote storage."""
        return str(self.local_root() / rel) if self.is_local else self.fs.unstrip_protocol(self.path(rel))

    def exists(self, rel: str) -> bool:
        return self.fs.exists(self.path(rel))

    def write_bytes_atomic(self, rel: str, payload: bytes) -> str:
        final = self.path(rel)
        folder = posixpath.dirname(final)
        self.fs.makedirs(folder, exist_ok=True)
        tmp = posixpath.join(folder, f".tmp-{uuid.uuid4().hex}-{posixpath.basename(final)}")
        try:
            with self.fs.open(tmp, "wb") as f:
                f.write(payload)
            self.fs.mv(tmp, final)
        finally:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)
        return final

    def write_json(self, rel: str, obj: Any) -> str:
        return self.write_bytes_atomic(rel, json.dumps(obj, indent=1, default=str).encode())

    def read_json(self, rel: str, default: Any = None) -> Any:
        if not self.exists(rel):
            return default
        with self.fs.open(self.path(rel), "rb") as f:
            return json.load(f)

    def glob(self, pattern: str) -> list[str]:
        return sorted(self.fs.glob(self.path(pattern)))


INPUT_SUFFIXES = (
    *(f"{kind}{packed}" for kind in (".csv", ".tsv") for packed in ("", ".gz", ".bz2", ".xz", ".zip")),
    *(".xlsx", ".xlsm"),  # a workbook: its active sheet
)


def discover(input_path: str) -> list[str]:
    """A file, a folder (its CSV files and workbooks, recursively: ``INPUT_SUFFIXES``, any case) or a
    glob -> sorted file URLs."""
    fs, root = fsspec.core.url_to_fs(input_path)
    if any(ch in input_path for ch in "*?["):
        found = fs.glob(root)
    elif fs.isdir(root):
        found = [p for p in fs.find(root) if p.lower().endswith(INPUT_SUFFIXES)]
    elif fs.exists(root):
        found = [root]
    else:
        raise FileNotFoundError(f"input {input_path!r} does not exist")
    files = sorted(p for p in found if fs.isfile(p))
    return [fs.unstrip_protocol(p) if not _is_local(fs) else p for p in files]


def _is_local(fs: fsspec.AbstractFileSystem) -> bool:
    proto = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in proto
