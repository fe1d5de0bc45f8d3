"""Checkpoints as ``.npz`` files that load without executing anything.

A checkpoint holds numpy arrays (the backend's ``state_dict`` and anything else the caller
adds) and one JSON document of metadata, stored as a uint8 array so that no pickle is ever
needed: the file is read with ``allow_pickle=False``. The metadata carries a format tag and
version; a corrupt, truncated or foreign file raises :class:`CheckpointError` saying which.
Writes go to a temporary file that replaces the target atomically, so an interrupted save
leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError

__all__ = ["FORMAT", "VERSION", "CheckpointError", "load_checkpoint", "save_checkpoint"]

FORMAT = "mlintegrate-checkpoint"
VERSION = 1
_META_KEY = "__meta__"


def save_checkpoint(path: str | os.PathLike, meta: dict[str, Any], arrays: dict[str, Any]) -> Path:
    """Write ``arrays`` and the JSON-able ``meta`` to ``path`` atomically; return the path."""
    path = Path(path)
    if _META_KEY in arrays:
        raise ValueError(f"array name {_META_KEY!r} is reserved")
    doc = {"format": FORMAT, "version": VERSION, **meta}
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    for key, value in payload.items():
        if value.dtype == object:
            raise ValueError(f"array {key!r} has dtype object; checkpoints hold numeric arrays")
    payload[_META_KEY] = np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a checkpoint: (metadata, arrays). Never unpickles."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    unreadable = (
        f"{str(path)!r} is not a readable mlintegrate checkpoint (corrupt, truncated or "
        "another format)"
    )
    if not zipfile.is_zipfile(path):
        raise CheckpointError(unreadable)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        # numpy's own message may suggest allow_pickle=True: never pass that advice on
        raise CheckpointError(f"{unreadable}: {type(exc).__name__}") from exc
    raw = arrays.pop(_META_KEY, None)
    if raw is None:
        raise CheckpointError(f"{str(path)!r} is an .npz file but not an mlintegrate checkpoint")
    try:
        meta = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{str(path)!r}: its metadata is corrupt ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not an mlintegrate checkpoint")
    if meta.get("version") != VERSION:
        raise CheckpointError(
            f"{str(path)!r} has checkpoint version {meta.get('version')!r}; this mlintegrate "
            f"reads version {VERSION}"
        )
    return meta, arrays
