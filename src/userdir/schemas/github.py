"""GitHub's list-users records, read into userdir's user columns."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from userdir.schemas.query import BIGINT_MAX


class GitHubUserIn(Schema):
    """One record of `GET /users` in GitHub's REST API; unknown fields are ignored."""

    class Meta:
        unknown = EXCLUDE

    id = fields.Integer(required=True, strict=True, validate=validate.Range(1, BIGINT_MAX))
    username = fields.String(data_key="login", required=True, validate=validate.Length(1, 255))
    type = fields.String(required=True, validate=validate.Length(1, 32))
    image_url = fields.String(data_key="avatar_url", required=True)
    profile_url = fields.String(data_key="html_url", required=True)


GITHUB_USER_IN = GitHubUserIn()
GITHUB_USERS_IN = GitHubUserIn(many=True)

# (field in GitHub's record, column, longest length or None): what GitHubUserIn declares.
_STRINGS = (
    ("login", "username", 255),
    ("type", "type", 32),
    ("avatar_url", "image_url", None),
    ("html_url", "profile_url", None),
)


def load_github_user(record: Any) -> dict[str, Any]:
    """GITHUB_USER_IN.load, with a fast path for the well-formed records that are the norm.

    Seeding validates every record of every page; marshmallow costs ~30 µs a record, which
    alone would cap seeding near 30,000 users/s. Records the fast path does not plainly accept
    go to the schema, which decides and words the error.
    """
    if type(record) is dict:
        uid = record.get("id")
        if type(uid) is int and 1 <= uid <= BIGINT_MAX:
            row: dict[str, Any] = {"id": uid}
            for key, column, longest in _STRINGS:
                value = record.get(key)
                if type(value) is not str or (longest and not 1 <= len(value) <= longest):
                    break
                row[column] = value
            else:
                return row
    loaded: dict[str, Any] = GITHUB_USER_IN.load(record)
    return loaded
