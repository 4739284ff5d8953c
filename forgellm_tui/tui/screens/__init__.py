"""The four top-level screens (app modes) and the help screen."""

from .chat import ChatScreen
from .checkpoints import CheckpointsScreen
from .datasets import DatasetsScreen
from .training import TrainingScreen

MODE_SCREENS = {
    "datasets": DatasetsScreen,
    "training": TrainingScreen,
    "chat": ChatScreen,
    "checkpoints": CheckpointsScreen,
}
"""Mode name -> screen class, in key order (1–4)."""

__all__ = ["ChatScreen", "CheckpointsScreen", "DatasetsScreen", "MODE_SCREENS", "TrainingScreen"]
