"""HepMC3 ASCII event files through ``pyhepmc``, valid after every chunk.

pyhepmc's ``WriterAscii`` formats the events into memory; each chunk is appended to the file
in place together with the closing ``HepMC::Asciiv3-END_EVENT_LISTING`` line
(:class:`~mlintegrate.io.inplace.InPlaceFile`), so a killed run leaves a file the HepMC3
reader accepts, holding every completed chunk.

Conventions: one vertex, incoming particles status 4 (beams, or the decaying particle),
outgoing status 1, nominal masses, GeV and mm. Event weight ``Default`` = e · w_max, in pb
per integrand call, with e = ±1 or ±|w|/w_max for overweights, and the event attribute
``trials`` = integrand calls since the previous event: Σ weights / Σ trials estimates σ
(trial-normalised, like LHEH5). Each event carries ``GenCrossSection`` = the pooled
σ̂ ± δσ̂ over all calls up to its chunk (accepted = events so far, attempted = calls so far),
so the last event's holds the final value, as HepMC readers (Rivet) expect; Rivet's
normalisation σ/Σw then makes the weights' scale irrelevant. The run-info attribute
``status`` (``running``, ``complete``, ``interrupted``, ``failed: ...``) is kept up to date
in place.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from .inplace import InPlaceFile
from .writers import EventChunk, EventLayout, RunState

__all__ = ["HepMCWriter"]

_FOOTER = b"HepMC::Asciiv3-END_EVENT_LISTING\n\n"
_STATUS_WIDTH = 60


def _status_field(status: str) -> bytes:
    text = status.replace("\n", " ")[:_STATUS_WIDTH]
    return text.ljust(_STATUS_WIDTH).encode()


class HepMCWriter:
    """Stream events to ``path`` (``.hepmc``, HepMC3 ASCII); see the module docstring."""

    def __init__(self, path: str | os.PathLike, layout: EventLayout, metadata: dict[str, Any]):
        import pyhepmc

        self._hep = pyhepmc
        self.path = Path(path)
        self.layout = layout
        self.n_events = 0
        self.finalized = False
        self._run = pyhepmc.GenRunInfo()
        self._run.weight_names = ["Default"]
        self._run.tools = [
            pyhepmc.GenRunInfo.ToolInfo("mlintegrate", str(metadata.get("version", "")), "")
        ]
        for key, value in metadata.items():
            self._run.attributes[str(key)] = str(value)
        self._run.attributes["status"] = _status_field("running").decode()
        self._buffer = io.BytesIO()
        self._stream = pyhepmc.io.pyiostream(self._buffer)
        self._writer = pyhepmc.io.WriterAscii(self._stream, self._run)
        self._head = self._take()  # version and start lines: never change
        self._file = InPlaceFile(self.path, self._head, _FOOTER)
        self._status_at: int | None = None
        self._status = np.where(np.arange(layout.masses.size) < layout.n_in, 4, 1).astype(np.int32)

    def _take(self) -> bytes:
        self._stream.flush()
        data = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return data

    def _event(self, number: int, p: np.ndarray, ids: np.ndarray, weight: float, trials: int):
        """One GenEvent from a HEPEVT-like record: incoming (status 4) → one vertex → outgoing."""
        hep, lay = self._hep, self.layout
        event = hep.GenEvent(hep.Units.GEV, hep.Units.MM)
        event.from_hepevt(
            number,
            p[:, 1],
            p[:, 2],
            p[:, 3],
            p[:, 0],
            lay.masses,
            ids.astype(np.int32),
            self._status,
            parents=lay.mothers,
        )
        event.run_info = self._run
        event.weights = [weight]
        event.attributes["trials"] = int(trials)
        return event

    def write(self, chunk: EventChunk, state: RunState) -> None:
        """Append one chunk's events; the file ends with the closing line again."""
        k = chunk.weights.size
        if k:
            xs = self._hep.GenCrossSection()
            xs.set_cross_section(
                state.cross_section, state.error, self.n_events + k, int(state.calls)
            )
            weights = np.asarray(chunk.weights, dtype=np.float64) * state.w_max
            for j in range(k):
                event = self._event(
                    self.n_events + j,
                    chunk.momenta[j],
                    chunk.pdg_ids[j],
                    weights[j],
                    chunk.trials[j],
                )
                event.cross_section = xs
                self._writer.write(event)
        body = self._take()
        start = self._file.append(body, self._head)
        if self._status_at is None and body:
            at = body.find(_status_field("running"))
            self._status_at = start + at if at >= 0 else None
        self.n_events += k

    def finalize(self, state: RunState, status: str) -> Path:
        """Write the status into the run info; the file is complete."""
        if self._status_at is not None:
            self._file.patch(np.array([self._status_at]), [_status_field(status)])
        self._file.close()
        self.finalized = True
        return self.path
