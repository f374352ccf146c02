"""Reading GitHub's user records: the fast path agrees with the schema on every input."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from tests.fake_github import github_users
from userdir.schemas.github import GITHUB_USER_IN, load_github_user

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False),
    st.text(max_size=300),
    st.lists(st.integers(), max_size=2),
)
records = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.integers(min_value=-2, max_value=2**63 + 2), values),
        "login": st.one_of(st.text(max_size=260), values),
        "type": st.one_of(st.sampled_from(["User", "Organization", "", "x" * 33]), values),
        "avatar_url": st.one_of(st.text(max_size=5), values),
        "html_url": st.one_of(st.text(max_size=5), values),
        "site_admin": values,
    },
)


def outcome(load: Any, record: Any) -> tuple[str, Any]:
    try:
        return "ok", load(record)
    except ValidationError as exc:
        return "error", exc.messages


@settings(max_examples=300, deadline=None)
@given(st.one_of(records, values))
def test_fast_path_matches_the_schema(record: Any) -> None:
    assert outcome(load_github_user, record) == outcome(GITHUB_USER_IN.load, record)


def test_every_bundled_record_reads_the_same() -> None:
    for record in github_users():
        assert load_github_user(record) == GITHUB_USER_IN.load(record)
