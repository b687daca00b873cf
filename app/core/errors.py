"""The one error domain operations raise for input a user can correct."""
from __future__ import annotations


class InvalidInput(Exception):
    """Raised by ``operations`` when a value is wrong: ``field`` names the form field or
    import column it belongs to, ``message`` (already translated) says how to fix it.
    Forms show it next to the field; imports report it against the row."""

    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field, self.message = field, message
