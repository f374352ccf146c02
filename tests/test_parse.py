"""Query strings are loaded once per distinct string: a repeated one (a page or a menu polled by
many clients) is a dictionary lookup, its errors as complete as the first time."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from userdir import parse
from userdir.directory import UsersQuery
from userdir.errors import BadRequest
from userdir.schemas.menu import MenuQuery, menu_query_schema
from userdir.schemas.users import USERS_QUERY


def test_a_repeated_query_string_is_loaded_once() -> None:
    schema = menu_query_schema(5)
    first = parse.query(schema, make_mocked_request("GET", "/x?depth=2&format=flat"), MenuQuery)
    again = parse.query(schema, make_mocked_request("GET", "/x?depth=2&format=flat"), MenuQuery)
    other = parse.query(schema, make_mocked_request("GET", "/x?depth=3"), MenuQuery)
    assert first is again  # the stored value, frozen, shared
    assert (first.depth, first.format) == (2, "flat")
    assert (other.depth, other.format) == (3, "nested")


def test_the_same_query_string_under_another_schema_is_loaded_by_that_schema() -> None:
    request = make_mocked_request("GET", "/x?depth=4")
    assert parse.query(menu_query_schema(5), request, MenuQuery).depth == 4
    with pytest.raises(BadRequest) as refused:
        parse.query(menu_query_schema(3), request, MenuQuery)
    assert refused.value.errors[0]["parameter"] == "depth"


def test_a_repeated_bad_query_string_is_refused_alike_each_time() -> None:
    raised = []
    for _ in range(2):
        with pytest.raises(BadRequest) as refused:
            parse.query(USERS_QUERY, make_mocked_request("GET", "/u?pagination=0"), UsersQuery)
        raised.append(refused.value)
    assert raised[0] is not raised[1]  # a fresh error each time: no shared traceback
    assert raised[0].errors == raised[1].errors
    assert [e["parameter"] for e in raised[0].errors] == ["pagination"]
