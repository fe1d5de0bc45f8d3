"""Les Houches Event files (LHEF 3.0, hep-ph/0609017), valid at every moment of a run.

The file is written in place (:class:`~mlintegrate.io.inplace.InPlaceFile`): after every chunk
the new events and the closing ``</LesHouchesEvents>`` are appended and the padded header and
``<init>`` are rewritten with σ ± δσ of every integrand call so far and ``status = running``;
the end of the run writes the final numbers and ``status = complete`` (or ``interrupted``,
``failed: reason``). A killed run leaves a file that pylhe and Pythia read, holding every
completed chunk, whose XSECUP is the pooled estimate over the calls made up to that chunk.

Weights (``weights=``, the CLI's ``--lhe-weights``). An event of the sample carries
e = sign(w)·max(1, |w|/w_max), and σ̂ is the pooled estimate over all N calls; for K events
the per-event weight in pb whose file mean equals σ̂ exactly is

    XWGTUP_i = e_i · C,   C = σ̂ · K / Σ_j e_j        (so ⟨XWGTUP⟩ = σ̂ = XSECUP),

which needs the final σ̂ and Σe: each chunk is written with C of the run so far (fixed-width
fields) and the end of the run rewrites every XWGTUP in place with the final C (a killed
file keeps the provisional C, its mean then differs from XSECUP by less than the statistical
error). XMAXUP is max |XWGTUP|. In a ``.lhe.gz`` file that final rewrite recompresses the file
once through a temporary ``<name>.*.tmp`` beside it (removed on any error; only a SIGKILL at
that moment leaves it); a ``.lhe`` file is patched in place. For that rewrite the writer keeps
each event's e and the file offset of its XWGTUP (16 bytes an event).

* ``auto`` (default): XWGTUP in pb as above; IDWTUP = 3 if every event has e = +1 (then all
  XWGTUP = σ̂), else IDWTUP = −4 (Pythia keeps each event's weight, overweights and signs).
* ``pb``: the same weights, IDWTUP = −4 always.
* ``unit``: IDWTUP = 3, XWGTUP = 1: overweights and signs are flattened (counted in
  ``flattened`` and the header); only right when the sample has unit weights.
* ``signed``: IDWTUP = −3, XWGTUP = ±1: signs kept, overweights flattened.

Each event is ``<event trials="n">`` with n the integrand calls since the previous kept event
(Σ n = the calls up to the last event). Masses are the nominal ones of the process (0 for
massless partons), SCALUP its ``scale`` (default √s), AQEDUP / AQCDUP its couplings (−1 where
it has none, as LHEF asks).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from .inplace import InPlaceFile
from .writers import EventChunk, EventLayout, RunState

__all__ = ["LHEWriter"]

_PAD = 4096  # spare header bytes for the numbers and status written later
_IDWTUP = {"unit": 3, "signed": -3, "pb": -4}


def _num(x: float) -> str:
    """Fixed width (23 characters) so a number can be rewritten in place; |x| < 1e-99 is
    written as 0 (a three-digit exponent would change the width)."""
    if not abs(x) < 1e99:
        raise ValueError(f"cannot write {x!r} as an LHE number (|x| < 1e99 and finite)")
    return f"{x if abs(x) >= 1e-99 else 0.0: .16e}"


class LHEWriter:
    """Stream events to ``path`` (``.lhe`` or ``.lhe.gz``); see the module docstring."""

    def __init__(
        self,
        path: str | os.PathLike,
        layout: EventLayout,
        metadata: dict[str, Any],
        weights: str = "auto",
    ):
        self.path = Path(path)
        self.layout = layout
        self.metadata = dict(metadata)
        self.mode = weights
        self.n_events = 0
        self.flattened = 0  # events whose weight ``unit``/``signed`` could not keep
        self.finalized = False
        self._sum_e = 0.0
        self._max_e = 0.0
        self._all_unit = True
        self._e: list[np.ndarray] = []
        self._offsets: list[np.ndarray] = []
        self._state = RunState(0.0, 0.0, 0.0, 0)
        self._status = "running"
        self._head_size = len(self._head_text().encode()) + _PAD
        self._file = InPlaceFile(self.path, self._head(), b"</LesHouchesEvents>\n")

    # ------------------------------------------------------------------ header
    def _scale(self) -> float:
        """C: pb per unit of event weight, from the run so far (module docstring)."""
        if self.mode in ("unit", "signed"):
            return 1.0
        if self._sum_e != 0.0:
            return self._state.cross_section * self.n_events / self._sum_e
        return self._state.w_max

    def idwtup(self) -> int:
        if self.mode == "auto":
            return 3 if self._all_unit else -4
        return _IDWTUP[self.mode]

    def _head_text(self) -> str:
        lay, st = self.layout, self._state
        xmax = 1.0 if self.mode in ("unit", "signed") else self._scale() * self._max_e
        info = {
            **self.metadata,
            "status": self._status,
            "events": self.n_events,
            "calls": st.calls,
            "cross_section_pb": st.cross_section,
            "error_pb": st.error,
            "lhe_weights": f"{self.mode} (IDWTUP = {self.idwtup()})",
        }
        if self.flattened:
            info["flattened"] = f"{self.flattened} events written with |XWGTUP| = 1"
        lines = "\n".join(f"  {k} = {escape(str(v))}" for k, v in info.items())
        (b1, b2), (e1, e2) = lay.beam_ids, lay.beam_energies
        return (
            '<LesHouchesEvents version="3.0">\n<header>\n<mlintegrate>\n'
            f"{lines}\n</mlintegrate>\n"
            "<!--PAD-->\n</header>\n<init>\n"
            f" {b1} {b2} {_num(e1)} {_num(e2)} 0 0 0 0 {self.idwtup()} 1\n"
            f" {_num(st.cross_section)} {_num(st.error)} {_num(xmax)} 1\n"
            "</init>\n"
        )

    def _head(self) -> bytes:
        """The header and <init>, padded to the fixed size in bytes (UTF-8)."""
        text = self._head_text()
        while len(text.encode()) > self._head_size:  # a very long status: shorten it
            if len(self._status) <= 13:
                raise ValueError("LHE header metadata outgrew its padding")
            self._status = self._status[: max(len(self._status) - 64, 10)] + "..."
            text = self._head_text()
        spare = self._head_size - len(text.encode())
        return text.replace("<!--PAD-->", "<!--" + " " * (spare + 3) + "-->", 1).encode()

    # ------------------------------------------------------------------ events
    def _template(self) -> str:
        """One %-format per event: trials, XWGTUP, then (id, px, py, pz, E) per particle."""
        lay, n = self.layout, self.layout.masses.size
        lines = [
            '<event trials="%d">\n',
            f" {n} 1 % .16e {_num(lay.scale)} {_num(lay.alpha_qed)} {_num(lay.alpha_qcd)}\n",
        ]
        for i in range(n):
            lines.append(
                f" %8d {lay.status[i]:>2d} {lay.mothers[i, 0]} {lay.mothers[i, 1]}"
                f" {lay.colours[i, 0]} {lay.colours[i, 1]}"
                f" % .16e % .16e % .16e % .16e {_num(lay.masses[i])} 0.0 9.0\n"
            )
        lines.append("</event>\n")
        return "".join(lines)  # the constant parts hold no '%'

    def _body(self, chunk: EventChunk, c: float) -> tuple[str, np.ndarray]:
        """The events' text and the offset of each XWGTUP field in it (fixed width 23)."""
        e = np.asarray(chunk.weights, dtype=np.float64)
        if self.mode == "unit":
            xw = np.ones_like(e)
        elif self.mode == "signed":
            xw = np.sign(e)
        else:
            xw = e * c
        p = np.asarray(chunk.momenta, dtype=np.float64)
        k, n = p.shape[:2]
        if not np.all(np.abs(p) < 1e99) or not np.all(np.abs(xw) < 1e99):
            raise ValueError("cannot write momenta or weights ≥ 1e99 (or NaN) to an LHE file")
        p = np.where(np.abs(p) < 1e-99, 0.0, p)  # keep the exponent at two digits
        xw = np.where(np.abs(xw) < 1e-99, 0.0, xw)
        values = np.empty((k, 2 + 5 * n))
        values[:, 0] = chunk.trials
        values[:, 1] = xw
        per = values[:, 2:].reshape(k, n, 5)
        per[:, :, 0] = chunk.pdg_ids
        per[:, :, 1:4] = p[:, :, 1:4]
        per[:, :, 4] = p[:, :, 0]
        template = self._template()
        texts = [template % tuple(row) for row in values.tolist()]
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=k)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        # '<event trials="' (15) + digits + '">\n' (3) + f" {n} 1 " (4 + digits of n)
        digits = np.char.str_len(np.asarray(chunk.trials, dtype=np.int64).astype(str))
        offsets = starts + 15 + digits + 3 + 4 + len(str(n))
        return "".join(texts), offsets

    def write(self, chunk: EventChunk, state: RunState) -> None:
        """Append one chunk's events and refresh the header (the file stays valid)."""
        e = np.asarray(chunk.weights, dtype=np.float64)
        saved = (self._state, self.n_events, self._sum_e, self._max_e, self._all_unit)
        saved += (self.flattened,)
        self._state = state
        self.n_events += e.size
        self._sum_e += float(e.sum())
        if e.size:
            self._max_e = max(self._max_e, float(np.abs(e).max()))
            self._all_unit &= bool(np.all(e == 1.0))
            if self.mode == "unit":
                self.flattened += int(np.count_nonzero(e != 1.0))
            elif self.mode == "signed":
                self.flattened += int(np.count_nonzero(np.abs(e) != 1.0))
        try:
            body, offsets = self._body(chunk, self._scale()) if e.size else ("", None)
            start = self._file.append(body.encode(), self._head())
        except BaseException:  # the file still holds the previous chunks: so do the counts
            (self._state, self.n_events, self._sum_e, self._max_e, self._all_unit) = saved[:5]
            self.flattened = saved[5]
            raise
        if offsets is not None and self.mode in ("auto", "pb"):
            self._e.append(e)
            self._offsets.append(offsets + start)

    def finalize(self, state: RunState, status: str) -> Path:
        """Final XWGTUP (pb modes), σ ± δσ and ``status``; the file is complete."""
        self._state, self._status = state, status
        if self._e and self.mode in ("auto", "pb"):
            c = self._scale()
            e = np.concatenate(self._e)
            fields = [_num(x).encode() for x in (e * c).tolist()]
            self._file.patch(np.concatenate(self._offsets), fields)
        self._file.append(b"", self._head())
        self._file.close()
        self.finalized = True
        return self.path
