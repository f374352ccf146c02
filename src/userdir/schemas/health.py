"""Service status on the wire."""

from __future__ import annotations

from marshmallow import Schema, fields


class LiveOut(Schema):
    status = fields.String(dump_only=True, metadata={"example": "ok"})


class ReadyOut(Schema):
    status = fields.String(dump_only=True, metadata={"example": "ok"})
    database = fields.String(
        dump_only=True, metadata={"example": "ok", "description": "ok or unavailable"}
    )
    cache = fields.String(
        dump_only=True,
        metadata={
            "example": "ok",
            "description": "ok, or degraded while Redis is skipped (still ready: responses "
            "then come from the database)",
        },
    )
    versions = fields.String(
        dump_only=True,
        metadata={
            "example": "live",
            "description": "live: cache hits need no query; per-request: the change channel "
            "is down and each cached GET reads its data version",
        },
    )
    replicas = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        dump_only=True,
        metadata={"description": "each read replica: in use, or skipped"},
    )


class ServiceOut(Schema):
    status = fields.String(dump_only=True, metadata={"example": "ok"})
    service = fields.String(dump_only=True, metadata={"example": "userdir"})
    version = fields.String(dump_only=True)


LIVE_OUT = LiveOut()
READY_OUT = ReadyOut()
SERVICE_OUT = ServiceOut()
