"""Ids typed in a URL's query (`?signal=`, `?list=`, `?scan=`), parsed one strict way.

`str.isdigit()` accepts `¹` (then `int()` raises: a 500) and `٣` (which `int()` reads as 3):
an id is 1 to 18 ASCII digits, anything else is no id (the page answers 404).
"""

from __future__ import annotations

import re

_ID = re.compile(r"[0-9]{1,18}", re.ASCII)


def strict_id(raw: str | None) -> int | None:
    """The id, or None when `raw` is not 1-18 ASCII digits."""
    if raw is None or not _ID.fullmatch(raw):
        return None
    return int(raw)
