"""Every payload that crosses a process boundary (HTTP bodies, NATS events).

Defined once here and imported by both sides. Each domain has its own module.
"""

from wheeldesk.schemas.common import ApiError, DataType, Event, Right, SecType, utcnow

__all__ = ["ApiError", "DataType", "Event", "Right", "SecType", "utcnow"]
