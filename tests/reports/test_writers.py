from __future__ import annotations

import csv
import datetime as dt

import openpyxl

from inventory_hub.reports import writers
from inventory_hub.reports.writers import csv_cell, row_writer_open


def test_csv_cells_are_utc_text_and_formula_like_text_is_defused():
    chicago = dt.timezone(dt.timedelta(hours=-6))

    assert csv_cell(dt.datetime(2026, 3, 10, 6, 0, 5, 999, tzinfo=chicago)) == "2026-03-10 12:00:05"
    assert csv_cell(dt.date(2026, 3, 10)) == "2026-03-10"
    assert csv_cell(None) == ""
    assert csv_cell(-3) == -3  # numbers are not text: a negative gap stays a number
    assert csv_cell("=1+1") == "'=1+1"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("SKU-1") == "SKU-1"


def test_xlsx_keeps_formula_and_error_like_text_as_text_and_drops_control_characters(tmp_path):
    path = tmp_path / "out.xlsx"
    writer = row_writer_open(format="xlsx", path=path, header=["a", "b", "c"], title="T")

    writer.write(["=SUM(A1:A2)", "#N/A", "bell\x07 rang"])
    writer.close()

    sheet = openpyxl.load_workbook(path).active
    assert [cell.value for cell in sheet[2]] == ["=SUM(A1:A2)", "#N/A", "bell rang"]
    assert [cell.data_type for cell in sheet[2]] == ["s", "s", "s"]
    assert sheet.freeze_panes == "A2"


def test_xlsx_past_the_sheet_row_limit_continues_on_a_second_sheet_with_the_header(tmp_path, monkeypatch):
    monkeypatch.setattr(writers, "XLSX_MAX_ROWS", 3)
    path = tmp_path / "out.xlsx"
    writer = row_writer_open(format="xlsx", path=path, header=["n"], title="Discrepancies")

    for n in range(5):
        writer.write([n])
    writer.close()

    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Discrepancies", "Discrepancies (2)", "Discrepancies (3)"]
    assert [[row[0] for row in sheet.iter_rows(values_only=True)] for sheet in workbook] == [
        ["n", 0, 1],
        ["n", 2, 3],
        ["n", 4],
    ]


def test_csv_has_a_byte_order_mark_for_excel(tmp_path):
    path = tmp_path / "out.csv"
    writer = row_writer_open(format="csv", path=path, header=["Hop"], title="T")

    writer.write(["WMS → ERP"])
    writer.close()

    assert path.read_bytes().startswith(b"\xef\xbb\xbfHop\r\n")
    with path.open(encoding="utf-8-sig", newline="") as file:
        assert list(csv.reader(file)) == [["Hop"], ["WMS → ERP"]]
