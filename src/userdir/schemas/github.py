"""GitHub's list-users records, read into userdir's user columns."""

from __future__ import annotations

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
