"""Bounded read-ahead for pyarrow's streaming CSV reader, which reads up to 32 blocks ahead in
the background: with this file wrapper its buffers stay within a few blocks."""

from __future__ import annotations

import threading
from typing import BinaryIO


class ReadAhead:
    """A binary file whose reads wait while ``ahead`` bytes or more were read beyond the blocks
    taken: the CSV reader reads ahead in the background, and this bounds its buffers."""

    def __init__(self, f: BinaryIO, ahead: int) -> None:
        self._f, self._ahead, self._read, self._taken = f, ahead, 0, 0
        self._cv = threading.Condition()
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        with self._cv:
            self._cv.wait_for(lambda: self._read - self._taken < self._ahead)
        data = self._f.read(n)
        with self._cv:
            self._read += len(data)
        return data

    def taken(self, n: int | None) -> None:
        """The consumer took ``n`` more bytes (None: all; stop waiting)."""
        with self._cv:
            self._taken = float("inf") if n is None else self._taken + n
            self._cv.notify_all()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True
