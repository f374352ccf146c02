"""Log lines: text (the default) or LOG_FORMAT=json, one JSON object a line, each naming the
request it was written for (`request_id`, as in the X-Request-ID header) when there is one."""

from __future__ import annotations

import contextvars
import logging
from datetime import UTC, datetime

import orjson

# Set by the error middleware for the request being handled (aiohttp runs each connection's
# requests in one task, so a line logged anywhere below the handler sees its request's id).
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Several processes write to one stream: each line says which.
TEXT_WITH_PID = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if request_id := REQUEST_ID.get():
            line["request_id"] = request_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def configure(level: str, log_format: str, *, with_pid: bool = False) -> None:
    """Text or json lines on stderr. A worker replaces the root logger's handlers (its lines
    name its pid); otherwise handlers already there (a test's log capture) are kept."""
    if log_format not in FORMATS:
        raise ValueError(f"LOG_FORMAT={log_format!r}: allowed {' or '.join(FORMATS)}")
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_WITH_PID if with_pid else TEXT))
    logging.basicConfig(force=with_pid, level=level, handlers=[handler])
