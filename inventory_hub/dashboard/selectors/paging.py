"""One page of a long, filtered list whose total is counted only up to a cap."""

from __future__ import annotations

import dataclasses
from typing import Generic, TypeVar

# Counting every match of a broad filter on a large table costs more than the page itself:
# count up to this many and say "more than" beyond it.
COUNT_CAP = 10_000

Row = TypeVar("Row")


@dataclasses.dataclass(frozen=True)  # not slots: CappedPage[Row](...) then fails with a TypeError
class CappedPage(Generic[Row]):
    rows: tuple[Row, ...]
    number: int
    per_page: int
    total: int  # capped at COUNT_CAP + 1
    has_next: bool

    @property
    def total_capped(self) -> bool:
        return self.total > COUNT_CAP

    @property
    def first(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0

    @property
    def has_previous(self) -> bool:
        return self.number > 1
