"""LHEH5: Les Houches events in HDF5 (the layout Sherpa writes and Pythia's ``LHAupH5v2`` reads).

Datasets (float64 rows, column names in each dataset's ``properties`` attribute):

* ``version`` (3,) int: 2, 6, 0 (the LHEH5 version pylhe writes, v2.6.0).
* ``init`` (10,): beamA, beamB, energyA, energyB, PDFgroupA, PDFgroupB, PDFsetA, PDFsetB,
  weightingStrategy (−4: weights in pb per trial, signs allowed), numProcesses (1).
* ``procInfo`` (1, 6): procId, npLO, npNLO, xSection, error, unitWeight (pb; σ̂ ± δσ̂ pooled
  over every call so far; unitWeight = the largest |weight|).
* ``events`` (k, 10): pid (1-based row of procInfo), nparticles, start (first row in
  ``particles``), trials (calls since the previous event), scale, fscale, rscale, aqed, aqcd,
  weight = e · w_max in pb per call (e = ±1, or ±|w|/w_max for overweights), so that
  Σ weight / Σ trials estimates σ: the normalisation Pythia (``normalize``) and pylhe use.
* ``particles`` (Σ nparticles, 13): id, status, mother1, mother2, color1, color2, px, py,
  pz, e, m (nominal), lifetime, spin.

Streaming: the datasets are resizable (chunked) and every chunk of events is written and the
file flushed, together with ``procInfo`` and the root attribute ``status`` (``running`` until
the end); between chunks nothing touches the file, so a killed run leaves a file h5py reads
with every completed chunk. The default (oldest) file format is used, whose superblock has no
"open for writing" flag that would make readers refuse a killed file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .writers import EventChunk, EventLayout, RunState

__all__ = ["EVENT_COLUMNS", "LHEH5Writer", "PARTICLE_COLUMNS"]

EVENT_COLUMNS = (
    "pid",
    "nparticles",
    "start",
    "trials",
    "scale",
    "fscale",
    "rscale",
    "aqed",
    "aqcd",
    "weight",
)
PARTICLE_COLUMNS = (
    "id",
    "status",
    "mother1",
    "mother2",
    "color1",
    "color2",
    "px",
    "py",
    "pz",
    "e",
    "m",
    "lifetime",
    "spin",
)
INIT_COLUMNS = (
    "beamA",
    "beamB",
    "energyA",
    "energyB",
    "PDFgroupA",
    "PDFgroupB",
    "PDFsetA",
    "PDFsetB",
    "weightingStrategy",
    "numProcesses",
)
PROC_COLUMNS = ("procId", "npLO", "npNLO", "xSection", "error", "unitWeight")


class LHEH5Writer:
    """Stream events to ``path`` (``.h5`` / ``.hdf5``); see the module docstring."""

    def __init__(self, path: str | os.PathLike, layout: EventLayout, metadata: dict[str, Any]):
        import h5py

        self.path = Path(path)
        self.layout = layout
        self.n_events = 0
        self.finalized = False
        self._max_weight = 0.0
        self._n_particles = 0
        f = self._h5 = h5py.File(self.path, "w")
        f.create_dataset("version", data=np.array([2, 6, 0], dtype=np.int64))
        (b1, b2), (e1, e2) = layout.beam_ids, layout.beam_energies
        init = np.array([b1, b2, e1, e2, 0, 0, 0, 0, -4, 1], dtype=np.float64)
        f.create_dataset("init", data=init).attrs["properties"] = list(INIT_COLUMNS)
        proc = f.create_dataset("procInfo", data=np.array([[1, 0, 0, 0.0, 0.0, 0.0]]))
        proc.attrs["properties"] = list(PROC_COLUMNS)
        n = layout.masses.size
        for name, columns, rows in (
            ("events", EVENT_COLUMNS, 1024),
            ("particles", PARTICLE_COLUMNS, 1024 * n),
        ):
            width = len(columns)
            ds = f.create_dataset(
                name,
                shape=(0, width),
                maxshape=(None, width),
                chunks=(rows, width),
                dtype=np.float64,
            )
            ds.attrs["properties"] = list(columns)
        for key, value in metadata.items():
            f.attrs[str(key)] = str(value)
        self._set_state(RunState(0.0, 0.0, 0.0, 0), "running")

    def _set_state(self, state: RunState, status: str) -> None:
        f = self._h5
        f["procInfo"][0, 3:] = (state.cross_section, state.error, self._max_weight)
        f.attrs["status"] = status
        f.attrs["events"] = self.n_events
        f.attrs["calls"] = int(state.calls)
        f.flush()

    def write(self, chunk: EventChunk, state: RunState) -> None:
        """Append one chunk's events (resizing the datasets) and flush."""
        lay, k = self.layout, chunk.weights.size
        if k:
            n = lay.masses.size
            weights = np.asarray(chunk.weights, dtype=np.float64) * state.w_max
            self._max_weight = max(self._max_weight, float(np.abs(weights).max()))
            ev = np.empty((k, len(EVENT_COLUMNS)))
            ev[:, 0] = 1
            ev[:, 1] = n
            ev[:, 2] = self._n_particles + n * np.arange(k)
            ev[:, 3] = chunk.trials
            ev[:, 4:7] = lay.scale
            ev[:, 7] = lay.alpha_qed
            ev[:, 8] = lay.alpha_qcd
            ev[:, 9] = weights
            parts = np.empty((k, n, len(PARTICLE_COLUMNS)))
            parts[:, :, 0] = chunk.pdg_ids
            parts[:, :, 1] = lay.status
            parts[:, :, 2:4] = lay.mothers
            parts[:, :, 4:6] = lay.colours
            parts[:, :, 6:9] = chunk.momenta[:, :, 1:4]
            parts[:, :, 9] = chunk.momenta[:, :, 0]
            parts[:, :, 10] = lay.masses
            parts[:, :, 11] = 0.0
            parts[:, :, 12] = 9.0
            self._append("events", ev)
            self._append("particles", parts.reshape(k * n, -1))
            self._n_particles += k * n
            self.n_events += k
        self._set_state(state, "running")

    def _append(self, name: str, rows: np.ndarray) -> None:
        ds = self._h5[name]
        old = ds.shape[0]
        ds.resize(old + rows.shape[0], axis=0)
        ds[old:] = rows

    def finalize(self, state: RunState, status: str) -> Path:
        """Final σ ± δσ and ``status``; close the file."""
        self._set_state(state, status)
        self._h5.close()
        self.finalized = True
        return self.path
