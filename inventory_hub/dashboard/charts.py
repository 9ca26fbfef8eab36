"""Plotly figures as plain dicts (drawn by static/js/charts.js), in the hub's fixed colours.

Plain dicts rather than plotly.graph_objects: validating a Figure costs milliseconds per chart,
and a partial must answer in tens of milliseconds. The colours match static/css/hub.css.
"""

from __future__ import annotations

from typing import Any

SYSTEM_COLOURS = {"wms": "#2563eb", "erp": "#7c3aed", "storefront": "#059669", "expected": "#0f172a"}
CLASS_COLOURS = {
    "in_flight": "#64748b",
    "stale": "#dc2626",
    "boundary": "#ea580c",
    "rule": "#c026d3",
    "drift": "#92400e",
}
HOP_COLOURS = {"wms_erp": "#7c3aed", "erp_storefront": "#059669", "wms_storefront": "#0f172a"}
FONT = {"family": 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif', "size": 12, "color": "#1c2430"}


def layout(*, height: int = 280, y_title: str = "", **overrides: Any) -> dict[str, Any]:
    """The hub's chart layout: white, compact, legend on top, times on the x axis."""
    base: dict[str, Any] = {
        "height": height,
        "margin": {"l": 48, "r": 16, "t": 8, "b": 36},
        "font": FONT,
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0, "xanchor": "left"},
        "xaxis": {"type": "date", "gridcolor": "#eef1f5", "linecolor": "#dde3ea"},
        "yaxis": {
            "title": {"text": y_title},
            "gridcolor": "#eef1f5",
            "zerolinecolor": "#c7d0db",
            "rangemode": "tozero",
        },
    }
    base.update(overrides)
    return base
