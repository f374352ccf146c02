"""The error envelope on the wire: RFC 9457 problem details, as `errors.problem` writes them."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields


class ProblemErrorOut(Schema):
    """One bad input. Only `detail` is always there; the rest depends on what went wrong."""

    class Meta:
        # Entries may carry more keys than these (the location of a bad body field, say).
        unknown = INCLUDE

    parameter = fields.String(
        dump_only=True, metadata={"optional": True, "description": "The query parameter."}
    )
    field = fields.String(
        dump_only=True,
        metadata={
            "optional": True,
            "description": "The request body field, as a dotted path (`items.0.name`), or "
            "`body` for the whole body.",
        },
    )
    detail = fields.String(dump_only=True)
    path = fields.List(
        fields.Raw(),
        dump_only=True,
        metadata={
            "optional": True,
            "description": "On a 409: the chain of items (ids, or a document's keys) that "
            "would close a cycle or exceed the maximum depth.",
        },
    )
    allowed = fields.List(
        fields.Raw(),
        dump_only=True,
        metadata={"optional": True, "description": "Allowed values or ranges (`low..high`)."},
    )
    did_you_mean = fields.String(
        dump_only=True, metadata={"optional": True, "description": "The closest allowed value."}
    )


class ProblemOut(Schema):
    type = fields.String(dump_only=True, metadata={"example": "about:blank"})
    title = fields.String(dump_only=True, metadata={"description": "The HTTP status phrase."})
    status = fields.Integer(dump_only=True)
    detail = fields.String(dump_only=True)
    instance = fields.String(dump_only=True, metadata={"description": "The request's path."})
    request_id = fields.String(
        dump_only=True, metadata={"description": "Also in the `X-Request-ID` response header."}
    )
    errors = fields.List(fields.Nested(ProblemErrorOut), dump_only=True)
