"""Modal dialogs; each returns its answer through ``dismiss``."""

from .commands import CommandsDialog
from .confirm import ConfirmDialog
from .error import ErrorDialog
from .path import PathDialog
from .prepare import PrepareChoice, PrepareDialog
from .publish import PublishDialog, PublishRequest

__all__ = ["CommandsDialog", "ConfirmDialog", "ErrorDialog", "PathDialog", "PrepareChoice", "PrepareDialog",
           "PublishDialog", "PublishRequest"]
