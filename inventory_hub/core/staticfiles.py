"""Serve vendored JavaScript from the pinned Python packages that ship it, not from copies in git.

plotly.js comes with the `plotly` package (requirements/base.txt), so the chart library and the
Python side that builds figures can never drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

# static path → file inside an installed package
VENDORED = {"vendor/plotly.min.js": Path(plotly.__file__).parent / "package_data" / "plotly.min.js"}


class VendorFinder(BaseFinder):
    """Finds exactly the files in VENDORED (so collectstatic copies them like any other)."""

    def check(self, **kwargs: Any) -> list[Any]:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> str | list[str] | None:
        source = VENDORED.get(path)
        if source is None or not source.exists():
            return [] if find_all else None
        return [str(source)] if find_all else str(source)

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        for path, source in VENDORED.items():
            # A storage rooted where the file is, named as its static path's folder expects.
            storage = FileSystemStorage(location=str(source.parent))
            storage.prefix = str(Path(path).parent)
            yield source.name, storage
