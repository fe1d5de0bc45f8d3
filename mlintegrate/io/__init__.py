"""Files: checkpoints of trained proposals, event files (one factory for every format)."""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .writers import SUFFIXES, open_event_writer

__all__ = ["SUFFIXES", "CheckpointError", "load_checkpoint", "open_event_writer", "save_checkpoint"]
