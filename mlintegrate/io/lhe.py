"""Les Houches Event files (LHEF 3.0, hep-ph/0609017) written so that they are always valid.

Events are appended to a side file as they come; :meth:`LHEWriter.finalize` writes the whole
file — header, ``<init>`` with the final σ, δσ and maximum weight, the events, the closing tag —
to a temporary file and renames it onto the target, so the target is at every moment either
absent or a complete, readable file. ``finalize`` is called on normal completion *and* on
interruption (the header then says so, with the number of events written).

Weights: IDWTUP = 3 (unit-weight events). XWGTUP is the event's weight in units of w_max:
±1, or ±|w|/w_max > 1 for the rare overweight events; XMAXUP is the largest |XWGTUP|.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..processes.process import Process

__all__ = ["LHEWriter"]


def _num(x: float) -> str:
    return f"{x: .16e}"


class LHEWriter:
    """Stream events of ``process`` to ``path`` (``.lhe`` or ``.lhe.gz``)."""

    def __init__(self, path: str | os.PathLike, process: Process, metadata: dict[str, Any]):
        if getattr(process, "particles", None) is None:
            raise ValueError(
                f"{getattr(process, 'name', 'this integrand')} has no particle content "
                "(PDG ids): LHE output needs a physics process; write .npz instead"
            )
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise ValueError(f"cannot write {self.path}: folder {self.path.parent} does not exist")
        self.process = process
        self.metadata = dict(metadata)
        self.n_events = 0
        self.max_weight = 0.0
        fd, body = tempfile.mkstemp(
            prefix=self.path.name + ".", suffix=".events", dir=self.path.parent
        )
        self._body_path = Path(body)
        self._body: IO[str] | None = os.fdopen(fd, "w")
        self._colours = process.particles.colour_lines()
        n_in = len(process.incoming)
        n_total = n_in + len(process.outgoing_masses)
        self._status = np.array([-1] * n_in + [1] * (n_total - n_in))
        # outgoing particles come from the incoming ones (1, 2) or from the decaying one (1, 1)
        mothers = np.zeros((n_total, 2), dtype=np.int64)
        mothers[n_in:] = (1, n_in)
        self._mothers = mothers

    def write(self, momenta: np.ndarray, weights: np.ndarray, pdg_ids: np.ndarray) -> None:
        """Append events: momenta (k, N, 4), weights (k,), pdg_ids (k, N)."""
        assert self._body is not None, "writer already finalized"
        particles = self.process.particles
        scale = self.process.sqrt_s
        lines = []
        for p, w, ids in zip(momenta, weights, pdg_ids, strict=True):
            n = p.shape[0]
            lines.append("<event>")
            lines.append(
                f" {n} 1 {_num(w)} {_num(scale)} {_num(particles.alpha_qed)} "
                f"{_num(particles.alpha_qcd)}"
            )
            m2 = p[:, 0] ** 2 - np.sum(p[:, 1:] ** 2, axis=1)
            mass = np.sqrt(np.clip(m2, 0.0, None))
            for i in range(n):
                mothers, colours = self._mothers[i], self._colours[i]
                lines.append(
                    f" {ids[i]:>8d} {self._status[i]:>2d} {mothers[0]} {mothers[1]}"
                    f" {colours[0]} {colours[1]}"
                    f" {_num(p[i, 1])} {_num(p[i, 2])} {_num(p[i, 3])} {_num(p[i, 0])}"
                    f" {_num(mass[i])} 0.0 9.0"
                )
            lines.append("</event>")
        self._body.write("\n".join(lines) + "\n")
        self._body.flush()
        self.n_events += len(weights)
        if len(weights):
            self.max_weight = max(self.max_weight, float(np.max(np.abs(weights))))

    def finalize(self, cross_section: float, error: float, status: str) -> Path:
        """Write the complete file (atomically) with the final σ ± δσ and ``status``."""
        if self._body is not None:
            self._body.close()
            self._body = None
        proc = self.process
        if len(proc.incoming) == 2:
            beam_ids = proc.particles.pdg_ids[:2]
            energies = [float(e) for e in proc.incoming_momenta[:, 0]]
        else:
            beam_ids, energies = (proc.particles.pdg_ids[0], 0), [proc.sqrt_s, 0.0]
        meta = {**self.metadata, "events": self.n_events, "status": status}
        header = "\n".join(f"  {k} = {v}" for k, v in meta.items())
        head = (
            '<LesHouchesEvents version="3.0">\n<header>\n<mlintegrate>\n'
            f"{header}\n</mlintegrate>\n</header>\n<init>\n"
            f" {beam_ids[0]} {beam_ids[1]} {_num(energies[0])} {_num(energies[1])} 0 0 0 0 3 1\n"
            f" {_num(cross_section)} {_num(error)} {_num(max(self.max_weight, 1.0))} 1\n"
            "</init>\n"
        )
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        opener = gzip.open if self.path.suffix == ".gz" else open
        try:
            with opener(tmp, "wt") as out, open(self._body_path) as body:
                out.write(head)
                shutil.copyfileobj(body, out)
                out.write("</LesHouchesEvents>\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._body_path.unlink(missing_ok=True)
        return self.path
