"""Markers for "argument not given", where None is itself a meaningful value."""

from __future__ import annotations

import enum
from typing import Final, Literal, TypeAlias


class _Missing(enum.Enum):
    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing.MISSING
"""Not given: leave the field alone (JSON null is a value, so None cannot mean this)."""
Missing: TypeAlias = Literal[_Missing.MISSING]


class _Default(enum.Enum):
    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Final = _Default.DEFAULT
"""Use the client's default (for timeouts, where None means "no deadline")."""
Default: TypeAlias = Literal[_Default.DEFAULT]
