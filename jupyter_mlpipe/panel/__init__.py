"""The run panel: a live graph of a pipeline run (anywidget), step details, metrics, run comparison.

Importing this package is cheap: the widget module (anywidget, ipywidgets) is
imported on first use of `RunPanel`, `show_plan`, `runs_table_widget` or
`make_display_listener`. The layout and the panel's state are pure Python
(`panel.layout`, `panel.state`).
"""

from __future__ import annotations

from ..lazy import lazy_names

__all__ = [
    "RunPanel",
    "RunsTable",
    "PanelListener",
    "show_plan",
    "runs_table_widget",
    "make_display_listener",
    "widgets_can_render",
    "layout_graph",
    "graph_from_plan",
]

_LAZY = {
    "RunPanel": ".widget",
    "RunsTable": ".widget",
    "PanelListener": ".widget",
    "show_plan": ".widget",
    "runs_table_widget": ".widget",
    "make_display_listener": ".widget",
    "widgets_can_render": ".widget",
    "layout_graph": ".layout",
    "graph_from_plan": ".layout",
}


__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY, __all__)
