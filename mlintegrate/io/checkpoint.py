"""Checkpoints as ``.npz`` files that load without executing anything.

A checkpoint holds numpy arrays (the backend's ``state_dict`` and anything else the caller
adds) and one JSON document of metadata, stored as a uint8 array so that no pickle is ever
needed: the file is read with ``allow_pickle=False``. The metadata carries a format tag and
version; a corrupt, truncated or foreign file raises :class:`CheckpointError` saying which.
Writes go to a temporary file that replaces the target atomically, so an interrupted save
leaves the previous checkpoint intact; the file gets the permissions of any new file
(0666 less the umask), not the temporary file's 0600.

On load every array is checked to be finite (a NaN parameter is a corrupt state, refused
here rather than blamed on the integrand later), and :func:`check_integrator_meta` checks
every field of the integrator's metadata, so a valid file with bad content raises a
:class:`CheckpointError` naming the field, never a ``KeyError`` or ``TypeError``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError

__all__ = [
    "FORMAT",
    "VERSION",
    "CheckpointError",
    "check_integrator_meta",
    "load_checkpoint",
    "save_checkpoint",
    "saved_generator",
]

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
        if value.dtype.kind in "fc" and not np.isfinite(value).all():
            # a file that load_checkpoint would refuse must not replace a good one
            raise CheckpointError(
                f"not saving {str(path)!r}: array {key!r} holds NaN or inf (a diverged "
                "training?); the file there, if any, is left as it was"
            )
    payload[_META_KEY] = np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **payload)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    """The process's umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
    for key, value in arrays.items():
        if value.dtype.kind in "fc" and not np.isfinite(value).all():
            bad = int(np.count_nonzero(~np.isfinite(value)))
            raise CheckpointError(
                f"{str(path)!r}: array {key!r} holds {bad} non-finite value(s) (NaN or inf): "
                "the saved state is corrupt (a diverged training?); retrain, or load an "
                "earlier checkpoint"
            )
    return meta, arrays


# ---------------------------------------------------------------------- integrator metadata
#: the bit generators a saved rng state may name (numpy's own)
_BIT_GENERATORS = ("MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64")
_FINGERPRINT = {"name": (str, type(None)), "dim": int, "seed": int, "values": list}


def _typed(value: Any, kind: Any) -> bool:
    """JSON types: an int is no bool, a float may be an int."""
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, kind)


def _record(doc: Any, fields: dict[str, Any], where: str, bad: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise bad(f"{where} must be an object, got {type(doc).__name__}")
    for key, kind in fields.items():
        if key not in doc:
            raise bad(f"{where} lacks {key!r}")
        if not _typed(doc[key], kind):
            raise bad(f"{where}.{key} has the wrong type ({doc[key]!r})")
    return doc


def check_integrator_meta(meta: dict[str, Any], path: str | os.PathLike) -> dict[str, Any]:
    """Check the fields ``Integrator.save`` writes; return them, or raise CheckpointError.

    Required: ``backend`` (str), ``config`` (object). Optional: ``history`` (an object, whose
    iterations ``TrainingHistory.from_dict`` checks), ``rng_state`` (object with ``bit_generator``),
    ``fingerprint`` (name, dim, seed, values: absent in files written before it existed).
    """

    def bad(text: str) -> CheckpointError:
        return CheckpointError(f"checkpoint {str(path)!r} is damaged: {text}")

    if not isinstance(meta.get("backend"), str):
        raise bad(f"'backend' must be a backend name, got {meta.get('backend')!r}")
    config = meta.get("config")
    if not isinstance(config, dict):
        raise bad(f"'config' must be an object of constructor arguments, got {config!r}")
    history = meta.get("history", {"time_s": 0.0, "iterations": []})
    if not isinstance(history, dict):  # its iterations: TrainingHistory.from_dict checks them
        raise bad(f"'history' must be an object, got {history!r:.80}")
    state = meta.get("rng_state")
    if state is not None and not (
        isinstance(state, dict) and isinstance(state.get("bit_generator"), str)
    ):
        raise bad(f"'rng_state' must be a numpy bit-generator state, got {state!r:.80}")
    fp = meta.get("fingerprint")
    if fp is not None:
        _record(fp, _FINGERPRINT, "fingerprint", bad)
        if (
            fp["dim"] < 1
            or not fp["values"]
            or not all(_typed(v, float) and math.isfinite(v) for v in fp["values"])
        ):
            raise bad("'fingerprint' needs dim ≥ 1 and a list of finite values")
    return {
        "backend": meta["backend"],
        "config": config,
        "history": history,
        "rng_state": state,
        "fingerprint": fp,
    }


def saved_generator(state: dict) -> np.random.Generator:
    """A Generator continuing ``bit_generator.state`` as saved; ValueError if it is not one."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise ValueError(
            f"rng_state names bit generator {name!r}; known: {', '.join(_BIT_GENERATORS)}"
        )
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = state
    except (KeyError, IndexError, TypeError, ValueError, OverflowError) as exc:
        raise ValueError(
            f"rng_state is not a valid {name} state ({type(exc).__name__}: {exc})"
        ) from exc
    return np.random.Generator(bit_generator)
