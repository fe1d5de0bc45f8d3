"""Configuration dataclasses: frozen, validated on construction, nested, JSON through ``asdict``.

A backend's knobs live in a small tree of frozen dataclasses (e.g. ``FlowConfig`` holding a
``CouplingConfig`` and a ``TrainingConfig``). Each class validates its own fields in
``__post_init__``; this module adds what every such class shares:

- ``to_dict()`` / ``from_dict(doc)``: the JSON form stored in checkpoints and results (unknown
  keys are refused, so a typo or a foreign file never passes silently);
- ``with_values(**changes)``: a copy with some fields changed, each named by its field, by its
  dotted path (``"training.loss"``), or by its bare name when that is unique in the tree
  (``loss=...``), so ``Flow(d, loss="kl")`` keeps working without a flat list of keywords;
- ``with_text("training.loss", "kl")``: the same from text, typed from the field's annotation
  (the command line's ``--set KEY=VALUE``).

>>> from mlintegrate.backends import VegasConfig
>>> VegasConfig().with_values(ninc=64).ninc, VegasConfig().with_text("alpha", "0.7").alpha
(64, 0.7)
>>> VegasConfig.from_dict({"ninc": 32}).to_dict()
{'ninc': 32, 'alpha': 0.5}
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Self

from .errors import ConfigError

__all__ = ["Config", "parse_assignment"]


def parse_assignment(text: str) -> tuple[str, str]:
    """'a.b=value' → ('a.b', 'value'), or a ConfigError showing the expected form."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. flow.training.loss=kl")
    return key.strip(), value.strip()


def _convert(path: str, annotation: Any, text: str) -> Any:
    """``text`` as a value of the type ``annotation`` (int, float, str, bool, optional)."""
    args = set(typing.get_args(annotation)) if _is_union(annotation) else {annotation}
    if type(None) in args and text.lower() in ("none", "null"):
        return None
    args.discard(type(None))
    for kind in (bool, int, float, str):
        if kind not in args:
            continue
        if kind is bool:
            if text.lower() in ("true", "1", "yes", "false", "0", "no"):
                return text.lower() in ("true", "1", "yes")
            continue
        try:
            return kind(text)
        except ValueError:
            continue
    names = " or ".join(sorted(getattr(a, "__name__", str(a)) for a in args))
    raise ConfigError(f"{path}={text!r}: expected {names}")


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


class Config:
    """Mixin of the configuration dataclasses (see the module docstring)."""

    @classmethod
    def _hints(cls) -> dict[str, Any]:
        return typing.get_type_hints(cls)

    @classmethod
    def _nested(cls) -> dict[str, type[Config]]:
        """The fields that hold a nested Config, by name."""
        return {
            k: t for k, t in cls._hints().items() if isinstance(t, type) and issubclass(t, Config)
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form: ``dataclasses.asdict``."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, doc: dict[str, Any], where: str = "") -> Self:
        """Rebuild from ``to_dict()``'s form; missing keys take their defaults."""
        if not isinstance(doc, dict):
            raise ConfigError(f"{where or cls.__name__} must be a mapping, got {doc!r}")
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(doc) - names)
        if unknown:
            raise ConfigError(
                f"unknown setting {where + unknown[0]!r} for {cls.__name__}; "
                f"valid: {', '.join(sorted(names))}"
            )
        nested = cls._nested()
        values = {
            k: nested[k].from_dict(v, f"{where}{k}.") if k in nested and isinstance(v, dict) else v
            for k, v in doc.items()
        }
        return cls(**values)

    def paths(self) -> list[str]:
        """Every leaf setting's dotted path."""
        out = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, Config):
                out += [f"{f.name}.{p}" for p in value.paths()]
            else:
                out.append(f.name)
        return out

    def _resolve(self, key: str) -> str:
        """A field name, dotted path or unique bare leaf name → its dotted path."""
        paths = self.paths()
        if key in paths or key in self._nested():
            return key
        matches = [p for p in paths if p.rsplit(".", 1)[-1] == key]
        if len(matches) == 1:
            return matches[0]
        raise ConfigError(
            f"unknown setting {key!r} for {type(self).__name__}; valid: {', '.join(paths)}"
        )

    def _set(self, path: str, value: Any) -> Self:
        head, _, rest = path.partition(".")
        if rest:
            inner = getattr(self, head)
            return dataclasses.replace(self, **{head: inner._set(rest, value)})  # type: ignore[type-var]
        nested = self._nested()
        if head in nested and isinstance(value, dict):
            value = nested[head].from_dict(value, f"{head}.")
        return dataclasses.replace(self, **{head: value})  # type: ignore[type-var]

    def with_values(self, **changes: Any) -> Self:
        """A validated copy with ``changes`` (keys: field, dotted path or unique leaf name)."""
        out = self
        for key, value in changes.items():
            out = out._set(self._resolve(key), value)
        return out

    def with_text(self, key: str, text: str) -> Self:
        """``with_values`` from text, typed from the field's annotation."""
        path = self._resolve(key)
        owner: Any = self
        *heads, leaf = path.split(".")
        for head in heads:
            owner = getattr(owner, head)
        annotation = typing.get_type_hints(type(owner))[leaf]
        return self._set(path, _convert(path, annotation, text))
