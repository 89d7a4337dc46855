"""URL converters."""

from __future__ import annotations

MAX_ID = 2**63 - 1  # the largest primary key (a signed 64-bit integer)


class IdConverter:
    """A database id, 1..2**63-1. A larger number does not match the URL (a 404), so no view
    ever hands the database a number it cannot compare."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 0 < number <= MAX_ID:
            raise ValueError("not a database id")
        return number

    def to_url(self, value: int) -> str:
        return str(value)
