"""Built-in integrands and processes."""

from . import functions

__all__ = ["functions"]
