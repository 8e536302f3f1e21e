"""Views: engine data made visible. Each has `_repr_mimebundle_` (text, plain HTML, and
Markdown where it carries no image), most have `.to_frame()` (pandas) and `.widget()`
(ipywidgets, imported lazily). Module imports here are stdlib only."""

from .build import BuildReport
from .dashboard import Dashboard
from .diff import LayerDiff
from .images import ImageTable
from .inspect import Inspect
from .live import LiveDisplay, WithWidget
from .monitor import Monitor
from .namespaces import NamespaceTable
from .progress import Progress
from .ps import ContainerTable
from .run import RunReport
from .stats import StatsTable, stats_frame
from .tables import DiskUsageTable, HistoryTable, ProcessTable, VolumeTable

__all__ = ["BuildReport", "ContainerTable", "Dashboard", "DiskUsageTable", "HistoryTable", "ImageTable", "Inspect",
           "LayerDiff",
           "LiveDisplay", "Monitor", "NamespaceTable", "ProcessTable", "Progress", "RunReport", "StatsTable",
           "VolumeTable", "WithWidget", "stats_frame"]
