"""Proposals behind the one :class:`Backend` contract, by name, and the parts they are made of.

Named backends (``get(name, dim, **settings)``): ``uniform``, ``vegas``, ``flow``,
``bvae``, ``multichannel`` (which also takes the integrand's ``channels=``, see
:func:`with_channels`). Wrappers that
are backends too: :class:`Mixture` (q = Σ α_k q_k) and :class:`Mapped` (a proposal in the
pre-image of a :class:`~.bijections.Bijection`). :func:`build` rebuilds any of them, nested,
from ``backend.spec()``. Every class loads on first use, so ``import mlintegrate`` and the command
line's ``--help`` import neither torch nor numba, and ``list`` never imports torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .base import Backend

if TYPE_CHECKING:
    from .bijections import Bijection, BreitWignerMap, DietMap, LogMap, VegasMap
    from .bvae import BVAE, BVAEConfig
    from .channels import AntennaChannel, PairingChannel
    from .flow import Flow, FlowConfig
    from .mapped import Mapped
    from .mixture import Mixture
    from .modes import ModeConfig
    from .multichannel import MultiChannel, MultiChannelConfig
    from .uniform import Uniform
    from .vegas import Vegas, VegasConfig

__all__ = [
    "BVAE",
    "BVAEConfig",
    "Backend",
    "Bijection",
    "BreitWignerMap",
    "DietMap",
    "Flow",
    "FlowConfig",
    "LogMap",
    "Mapped",
    "Mixture",
    "ModeConfig",
    "MultiChannel",
    "MultiChannelConfig",
    "AntennaChannel",
    "PairingChannel",
    "Uniform",
    "Vegas",
    "VegasConfig",
    "VegasMap",
    "build",
    "config_class",
    "get",
    "names",
    "needs_channels",
    "with_channels",
]

#: named backends: "module:class", imported on first use
_REGISTRY = {
    "uniform": "mlintegrate.backends.uniform:Uniform",
    "vegas": "mlintegrate.backends.vegas:Vegas",
    "flow": "mlintegrate.backends.flow:Flow",
    "bvae": "mlintegrate.backends.bvae:BVAE",
    "multichannel": "mlintegrate.backends.multichannel:MultiChannel",
}
#: named backends built only with the integrand's channels (``channels=``)
_NEEDS_CHANNELS = frozenset({"multichannel"})
_CONFIGS = {
    "vegas": "mlintegrate.backends.vegas:VegasConfig",
    "flow": "mlintegrate.backends.flow:FlowConfig",
    "bvae": "mlintegrate.backends.bvae:BVAEConfig",
    "multichannel": "mlintegrate.backends.multichannel:MultiChannelConfig",
}
_LAZY = {
    "BVAE": "mlintegrate.backends.bvae:BVAE",
    "BVAEConfig": "mlintegrate.backends.bvae:BVAEConfig",
    "Flow": "mlintegrate.backends.flow:Flow",
    "FlowConfig": "mlintegrate.backends.flow:FlowConfig",
    "Bijection": "mlintegrate.backends.bijections:Bijection",
    "BreitWignerMap": "mlintegrate.backends.bijections:BreitWignerMap",
    "DietMap": "mlintegrate.backends.bijections:DietMap",
    "LogMap": "mlintegrate.backends.bijections:LogMap",
    "VegasMap": "mlintegrate.backends.bijections:VegasMap",
    "Mapped": "mlintegrate.backends.mapped:Mapped",
    "Mixture": "mlintegrate.backends.mixture:Mixture",
    "ModeConfig": "mlintegrate.backends.modes:ModeConfig",
    "MultiChannel": "mlintegrate.backends.multichannel:MultiChannel",
    "MultiChannelConfig": "mlintegrate.backends.multichannel:MultiChannelConfig",
    "AntennaChannel": "mlintegrate.backends.channels:AntennaChannel",
    "PairingChannel": "mlintegrate.backends.channels:PairingChannel",
    "Uniform": "mlintegrate.backends.uniform:Uniform",
    "Vegas": "mlintegrate.backends.vegas:Vegas",
    "VegasConfig": "mlintegrate.backends.vegas:VegasConfig",
}


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return _load(_LAZY[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def names() -> list[str]:
    """Names of the named backends (no import of their modules)."""
    return sorted(_REGISTRY)


def _check_name(name: str) -> None:
    if name not in _REGISTRY:
        raise ConfigError(f"unknown backend {name!r}; valid backends: {', '.join(names())}")


def needs_channels(name: str) -> bool:
    """Whether the named backend is built with the integrand's channels (``multichannel``)."""
    return name in _NEEDS_CHANNELS


def with_channels(name: str, integrand: Any) -> dict[str, Any]:
    """``{"channels": ...}`` of ``integrand`` for a backend that needs them, else ``{}``;
    a one-line ConfigError when it needs them and the integrand declares none."""
    if not needs_channels(name):
        return {}
    from .multichannel import channels_of

    return {"channels": channels_of(integrand)}


def config_class(name: str) -> type | None:
    """The settings dataclass of the named backend (None: it has no settings)."""
    _check_name(name)
    return _load(_CONFIGS[name]) if name in _CONFIGS else None


def get(name: str, dim: int, **settings: Any) -> Backend:
    """Build the backend called ``name`` in dimension ``dim`` with its ``settings``."""
    _check_name(name)
    return _load(_REGISTRY[name])(dim=dim, **settings)


def build(spec: dict[str, Any]) -> Backend:
    """Rebuild a backend, nested wrappers included, from ``Backend.spec()`` (untrained)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
        raise ConfigError(f"a backend spec is {{'backend': name, 'config': {{...}}}}, got {spec!r}")
    name, config = spec.get("backend"), dict(spec["config"])
    if name == "mixture":
        from .mixture import Mixture

        return Mixture(
            [build(c) for c in config["components"]],
            config["weights"],
            config.get("learn_weights", False),
            config.get("floor", 0.0),
            config.get("moment", 2.0),
            config.get("select", False),
            config.get("select_batches", 10),
            config.get("optional", ()),
        )
    if name == "pooled_vegas":
        from .pooled_vegas import PooledVegas

        return PooledVegas(**config)
    if name == "mapped":
        from .bijections import build_bijection
        from .mapped import Mapped

        return Mapped(
            build(config["inner"]),
            build_bijection(config["bijection"]),
            config.get("adapt_map_batches", 0),
        )
    if name == "learned":
        raise ConfigError(
            "a bare learned proposal has no saved model builder; save the Flow (or other named "
            "backend) that holds it"
        )
    _check_name(name)
    dim = config.pop("dim", None)
    try:
        return get(name, dim=dim, **config)
    except TypeError as exc:
        raise ConfigError(f"backend {name!r}: bad settings ({exc})") from exc
