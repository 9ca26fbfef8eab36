"""CSV and XLSX writers that take rows one at a time, so a report never sits in memory (no ORM here).

Both write to a file path. Cells are str, int, float, bool, date/datetime (aware, in UTC) or None.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

Cell = str | int | float | bool | dt.datetime | dt.date | None

# A spreadsheet program runs a cell that starts with one of these as a formula ("CSV injection"):
# free text from external systems and users (notes, explanations, reasons) must never run.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_ROWS = 1_048_576  # Excel's limit per sheet, header included


class RowWriter(Protocol):
    def write(self, row: Sequence[Cell]) -> None: ...

    def close(self) -> None: ...

    def discard(self) -> None: ...


def _utc_naive(value: dt.datetime) -> dt.datetime:
    # Excel has no time zones; every report time is UTC and its column header says so.
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.replace(microsecond=0)


def csv_cell(value: Cell) -> str | int | float:
    """One value as CSV text: times as 'YYYY-MM-DD HH:MM:SS' (UTC), text defused against formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return _utc_naive(value).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value  # the usual defusing: spreadsheets show the text, not a formula
    return value


class CsvRowWriter:
    """UTF-8 with a byte-order mark, so Excel reads the arrows and accents in names right."""

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        self._file: IO[str] = path.open("w", newline="", encoding="utf-8-sig")
        self._csv = csv.writer(self._file)
        self._csv.writerow(header)

    def write(self, row: Sequence[Cell]) -> None:
        # Most cells are numbers or plain text, passed through without a call: this loop runs
        # once per cell, 15 million times for a million-row report.
        self._csv.writerow(
            [
                value
                if (kind := type(value)) is int
                or kind is float
                or (kind is str and not value.startswith(FORMULA_PREFIXES))
                else csv_cell(value)
                for value in row
            ]
        )

    def close(self) -> None:
        self._file.close()

    def discard(self) -> None:
        self._file.close()  # the caller removes the partial file


class XlsxRowWriter:
    """openpyxl's write-only workbook: rows go to a temporary file as they come, zipped on close.

    The temporary file is the sheet's uncompressed XML, in TMPDIR: several times the final size.

    A report past Excel's row limit continues on a second sheet ("… (2)") with the header again.
    """

    def __init__(self, path: Path, header: Sequence[str], *, title: str, widths: Sequence[int] = ()) -> None:
        self._path = path
        self._header = list(header)
        self._title = title[:28]  # sheet titles are at most 31 characters; room for " (n)"
        self._widths = widths
        self._workbook = Workbook(write_only=True)
        self._sheets = 0
        self._rows_in_sheet = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        self._sheets += 1
        title = self._title if self._sheets == 1 else f"{self._title} ({self._sheets})"
        self._sheet: Any = self._workbook.create_sheet(title=title)
        for column, width in enumerate(self._widths, start=1):
            self._sheet.column_dimensions[get_column_letter(column)].width = width
        self._sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        cells = []
        for name in self._header:
            cell = WriteOnlyCell(self._sheet, value=name)
            cell.font = bold
            cells.append(cell)
        self._sheet.append(cells)
        self._rows_in_sheet = 1

    def _cell(self, value: Cell) -> Any:
        if isinstance(value, dt.datetime):
            return _utc_naive(value)
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters make openpyxl refuse the cell
            if value.startswith("=") or value in ERROR_CODES:
                # A plain string would be stored as a formula (or an error code): force text.
                cell = WriteOnlyCell(self._sheet, value=value)
                cell.data_type = "s"
                return cell
        return value

    def write(self, row: Sequence[Cell]) -> None:
        if self._rows_in_sheet >= XLSX_MAX_ROWS:
            self._new_sheet()
        self._sheet.append([self._cell(value) for value in row])
        self._rows_in_sheet += 1

    def close(self) -> None:
        self._workbook.save(self._path)

    def discard(self) -> None:
        """Stop without saving: each sheet's temporary XML file (in TMPDIR) is removed."""
        for sheet in self._workbook.worksheets:
            writer = getattr(sheet, "_writer", None)
            if writer is None:
                continue
            with contextlib.suppress(Exception):
                if sheet._rows is not None:
                    sheet._rows.close()
                writer.close()
            with contextlib.suppress(OSError, ValueError):
                writer.cleanup()


def row_writer_open(
    *, format: str, path: Path, header: Sequence[str], title: str, widths: Sequence[int] = ()
) -> RowWriter:
    """A writer of the given format ('csv' or 'xlsx') to `path`, with the header written."""
    if format == "csv":
        return CsvRowWriter(path, header)
    if format == "xlsx":
        return XlsxRowWriter(path, header, title=title, widths=widths)
    raise ValueError(f"Unknown report format {format!r}.")
