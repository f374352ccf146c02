"""GitHub's list-users records, read into userdir's user columns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict, cast

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


class GitHubUserRow(TypedDict):
    """One user as GitHubUserIn loads it: the columns of the users table."""

    id: int
    username: str
    type: str
    image_url: str
    profile_url: str


GITHUB_USER_IN = GitHubUserIn()
GITHUB_USERS_IN = GitHubUserIn(many=True)


def load_github_user(record: object) -> GitHubUserRow:
    """GITHUB_USER_IN.load, with a fast path for the well-formed records that are the norm.

    Seeding validates every record of every page; marshmallow costs ~30 µs a record, which
    alone would cap seeding near 30,000 users/s. Records the fast path does not plainly accept
    go to the schema, which decides and words the error. The bounds are GitHubUserIn's.
    """
    if type(record) is dict:
        uid, login, kind = record.get("id"), record.get("login"), record.get("type")
        image_url, profile_url = record.get("avatar_url"), record.get("html_url")
        if (
            type(uid) is int
            and 1 <= uid <= BIGINT_MAX
            and type(login) is str
            and 1 <= len(login) <= 255
            and type(kind) is str
            and 1 <= len(kind) <= 32
            and type(image_url) is str
            and type(profile_url) is str
        ):
            return {
                "id": uid,
                "username": login,
                "type": kind,
                "image_url": image_url,
                "profile_url": profile_url,
            }
    # Every other JSON value too: the schema refuses what is not a mapping, in its own words.
    loaded: GitHubUserRow = GITHUB_USER_IN.load(cast(Mapping[str, object], record))
    return loaded
