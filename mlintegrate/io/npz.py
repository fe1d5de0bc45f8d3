"""Unweighted events as a numpy ``.npz`` file for analysis, written atomically at the end
(or on interruption, with ``status`` saying so)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["NPZEventWriter", "read_events"]


class NPZEventWriter:
    """Collects events and writes ``momenta (k,N,4), weights (k,), pdg_ids (k,N)`` + metadata."""

    def __init__(self, path: str | os.PathLike, metadata: dict[str, Any]):
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise ValueError(f"cannot write {self.path}: folder {self.path.parent} does not exist")
        self.metadata = dict(metadata)
        self._parts: dict[str, list[np.ndarray]] = {"momenta": [], "weights": [], "pdg_ids": []}

    def write(
        self, momenta: np.ndarray | None, weights: np.ndarray, pdg_ids: np.ndarray | None
    ) -> None:
        self._parts["weights"].append(np.asarray(weights))
        if momenta is not None:
            self._parts["momenta"].append(np.asarray(momenta))
        if pdg_ids is not None:
            self._parts["pdg_ids"].append(np.asarray(pdg_ids))

    def finalize(self, cross_section: float, error: float, status: str) -> Path:
        arrays = {k: np.concatenate(v) for k, v in self._parts.items() if v}
        arrays.setdefault("weights", np.empty(0))
        meta = {
            **self.metadata,
            "cross_section": cross_section,
            "error": error,
            "status": status,
            "events": int(arrays["weights"].size),
        }
        arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez_compressed(fh, **arrays)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.path


def read_events(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metadata, arrays) of an events ``.npz`` file; never unpickles."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(arrays.pop("metadata").tobytes().decode())
    return meta, arrays
