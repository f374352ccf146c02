"""Users on the wire: the directory's query string and its rows."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from userdir.schemas.query import BIGINT_MAX, Text

USER_FIELDS = ("id", "username", "type", "image_url", "profile_url")
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 25
# page_number * pagination must stay a valid SQL OFFSET on every backend.
MAX_PAGE_NUMBER = 2**31 - 1


class UserOut(Schema):
    id = fields.Integer(dump_only=True)
    username = fields.String(dump_only=True)
    type = fields.String(dump_only=True)
    image_url = fields.String(dump_only=True)
    profile_url = fields.String(dump_only=True)


class UsersQuery(Schema):
    """GET /users: exact-match filters on any field, one ordering field, page-number paging."""

    id = fields.Integer(strict=False, validate=validate.Range(-BIGINT_MAX, BIGINT_MAX))
    username = Text()
    type = Text()
    image_url = Text()
    profile_url = Text()
    order_by = fields.String(load_default="id", validate=validate.OneOf(USER_FIELDS))
    pagination = fields.Integer(
        load_default=DEFAULT_PAGE_SIZE, validate=validate.Range(1, MAX_PAGE_SIZE)
    )
    page_number = fields.Integer(load_default=1, validate=validate.Range(1, MAX_PAGE_NUMBER))


USER_OUT = UserOut()
USERS_OUT = UserOut(many=True)
USERS_QUERY = UsersQuery()
