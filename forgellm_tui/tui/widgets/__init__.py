"""Widgets of the app; each holds one piece of data and is set by its screen."""

from .data_tables import SkippedTable, TotalsTable
from .dataset_tree import DatasetPane, DatasetTree, NodeInfo
from .file_preview import FilePreview
from .job_progress import JobProgress
from .model_select import ModelSelect
from .prepare_summary import PrepareSummary
from .status_bar import StatusBar

__all__ = ["DatasetPane", "DatasetTree", "FilePreview", "JobProgress", "ModelSelect", "NodeInfo", "PrepareSummary",
           "SkippedTable", "StatusBar", "TotalsTable"]
