"""Service status on the wire."""

from __future__ import annotations

from marshmallow import Schema, fields


class HealthOut(Schema):
    status = fields.String(dump_only=True, metadata={"example": "ok"})
    database = fields.String(dump_only=True, metadata={"example": "ok"})


class ServiceOut(Schema):
    status = fields.String(dump_only=True, metadata={"example": "ok"})
    service = fields.String(dump_only=True, metadata={"example": "userdir"})
    version = fields.String(dump_only=True)


HEALTH_OUT = HealthOut()
SERVICE_OUT = ServiceOut()
