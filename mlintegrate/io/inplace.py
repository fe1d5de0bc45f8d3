"""A text file that is valid after every append: fixed-size head, growing body, closing tail.

Layout on disk: ``head | body | tail``. :meth:`InPlaceFile.append` writes ``new body + tail``
over the old tail in one ``pwrite`` and truncates, then rewrites the head (same length, padded
by the caller) in one ``pwrite``: between two appends the file is complete (a reader sees the
events of every finished chunk, closed by the tail), and a kill between the two writes leaves
the previous head, which is still true of the events it counts. ``.gz`` names store the head
as an uncompressed (level-0) gzip member, whose size depends on its length only, so it can be
rewritten in place too; each body append and the tail are their own members (a multi-member
gzip file reads as one stream).

Offsets returned by :meth:`append` count *uncompressed* bytes, so a caller can patch
fixed-width fields of the body afterwards (:meth:`patch`, in place for plain files, by one
streamed rewrite for ``.gz``).
"""

from __future__ import annotations

import gzip
import mmap
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

__all__ = ["InPlaceFile"]


def _member(data: bytes, level: int) -> bytes:
    return gzip.compress(data, compresslevel=level, mtime=0)


class InPlaceFile:
    """``head | body | tail`` on disk, kept valid after every :meth:`append`."""

    def __init__(self, path: str | os.PathLike, head: bytes, tail: bytes):
        self.path = Path(path)
        self.gz = self.path.name.lower().endswith(".gz")
        self.head_size = len(head)
        self.tail = tail
        self.body_size = 0  # uncompressed bytes of body so far
        flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC
        self._fd: int | None = os.open(self.path, flags, 0o666)  # the user's umask applies
        first = self._encode_head(head)
        self._tail_bytes = self._encode(tail, 6)
        self._tail_at = len(first)  # file offset where the tail starts
        os.pwrite(self._fd, first + self._tail_bytes, 0)

    def _encode(self, data: bytes, level: int) -> bytes:
        return _member(data, level) if self.gz else data

    def _encode_head(self, head: bytes) -> bytes:
        if len(head) != self.head_size:
            raise ValueError(f"head must keep its size {self.head_size}, got {len(head)}")
        return self._encode(head, 0)

    def append(self, body: bytes, head: bytes) -> int:
        """Append ``body`` (may be empty), rewrite ``head``; return body's uncompressed offset."""
        assert self._fd is not None, "file already closed"
        offset = self.head_size + self.body_size
        if body:
            assert self._tail_at >= 0, "no appends after a patch of a .gz file"
            encoded = self._encode(body, 6)
            os.pwrite(self._fd, encoded + self._tail_bytes, self._tail_at)
            self._tail_at += len(encoded)
            os.ftruncate(self._fd, self._tail_at + len(self._tail_bytes))
            self.body_size += len(body)
        os.pwrite(self._fd, self._encode_head(head), 0)
        return offset

    def patch(self, offsets: np.ndarray, fields: list[bytes]) -> None:
        """Overwrite fixed-width fields at uncompressed ``offsets`` (sorted ascending)."""
        assert self._fd is not None, "file already closed"
        if not len(offsets):
            return
        if not self.gz:
            with mmap.mmap(self._fd, 0) as mm:
                for at, field in zip(offsets.tolist(), fields, strict=True):
                    mm[at : at + len(field)] = field
            return
        self._rewrite_gz(offsets, fields)

    def _rewrite_gz(self, offsets: np.ndarray, fields: list[bytes]) -> None:
        """Patched copy: the head again as its own level-0 member, then body and tail."""
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as raw, gzip.open(self.path, "rb") as src:
                raw.write(_member(src.read(self.head_size), 0))
                with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as dst:
                    for block in _patched_blocks(src, offsets - self.head_size, fields):
                        dst.write(block)
            os.chmod(tmp, os.stat(self.path).st_mode & 0o777)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR)
        self._tail_at = -1  # body and tail are one member now: no further appends

    def close(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None


def _patched_blocks(
    src, offsets: np.ndarray, fields: list[bytes], block: int = 1 << 22
) -> Iterator[bytes]:
    """The stream ``src`` in blocks with ``fields`` written at ``offsets``."""
    pos, k = 0, 0
    while True:
        data = bytearray(src.read(block))
        if not data:
            return
        end = pos + len(data)
        # a field straddling the block end: read on to its end
        while k < len(offsets) and offsets[k] < end:
            stop = int(offsets[k]) + len(fields[k])
            if stop > end:
                more = src.read(stop - end)
                data += more
                end += len(more)
            at = int(offsets[k]) - pos
            data[at : at + len(fields[k])] = fields[k]
            k += 1
        yield bytes(data)
        pos = end
