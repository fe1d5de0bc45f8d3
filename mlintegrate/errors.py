"""The package's error classes: every user mistake raises a subclass of :class:`MLIntegrateError`.

The command line catches exactly this base class and prints its one-line message; anything
else is an internal bug and keeps its traceback. Each subclass is a ``ValueError`` so that
code written against earlier versions (``except ValueError``) still catches it.
"""

from __future__ import annotations

__all__ = ["CheckpointError", "ConfigError", "IntegrandError", "MLIntegrateError"]


class MLIntegrateError(ValueError):
    """Base class of the errors a user can cause (bad input, bad file, bad integrand)."""


class IntegrandError(MLIntegrateError):
    """The integrand returned something that cannot be integrated."""


class CheckpointError(MLIntegrateError):
    """A file that is not a readable mlintegrate checkpoint, or one made for something else."""


class ConfigError(MLIntegrateError):
    """A configuration value out of range: the message names the parameter, value and fix."""
