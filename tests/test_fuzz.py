"""Schemathesis against a real server: every documented operation, all checks, bounded.

Zero failures means no 5xx, and every status, header, media type and body matching
/openapi.json. Runs once on SQLite and once on PostgreSQL with the sample data loaded.
"""

from __future__ import annotations

import inspect
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
import pytest
import requests
import schemathesis
from aiohttp.web_protocol import RequestHandler
from hypothesis import HealthCheck, settings
from schemathesis.config import ChecksConfig
from schemathesis.core.parameters import ParameterLocation

from tests.conftest import API_TOKEN
from tests.live import serve_in_thread
from userdir.app import create_app
from userdir.config import Settings
from userdir.openapi.spec import build_spec
from userdir.sample import MENUS

WRITES = ["POST", "PUT", "PATCH", "DELETE"]
LINK = "/restaurant/{restaurant_id}/item/{item_id}/modifiers/{modifier_id}"
DEFAULT_CHECKS = ChecksConfig()
# A fixed seed and a fixed budget per operation keep every run the same and short.
FUZZ_CONFIG = {
    "seed": 20260406,
    "generation": {"max-examples": 100, "database": "none"},
    "checks": {
        "enabled": True,
        # A body past the server's size limit is refused before it is read: a rejection too.
        "negative_data_rejection": {
            "expected-statuses": [*DEFAULT_CHECKS.negative_data_rejection.expected_statuses, "413"]
        },
    },
    # Writes need a token; the ignored_auth check still tries each secured operation without it.
    "headers": {"Authorization": f"Bearer {API_TOKEN}"},
    "operations": [
        # The users query has some sixty parameters (operators, ordering, paging, count,
        # format): it gets a larger share of the budget.
        {"include-name": "GET /users", "generation": {"max-examples": 300}},
        # Linking is where the graph's invariants are enforced (201 new, 200 updated, 409 a
        # cycle or another restaurant's item): it gets enough examples to reach each. (The
        # first entry naming an operation sets its budget: this one before the next.)
        {"include-name": f"PUT {LINK}", "generation": {"max-examples": 60}},
        # Other writes have a few fields each, and each example is a transaction: fewer
        # suffice.
        {"include-method": WRITES, "generation": {"max-examples": 25}},
        # A menu document names its items by keys that other parts of it refer to, and its
        # links must form no cycle: JSON Schema cannot say so, and a schema-valid document
        # may still be refused with 422 (a dangling or repeated key) or 409 (a cycle).
        {
            "include-name": "PUT /restaurant/{restaurant_id}/menu",
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": [
                        *DEFAULT_CHECKS.positive_data_acceptance.expected_statuses,
                        "422",
                    ]
                }
            },
        },
    ],
}


# Built without a server so that pytest can collect one test per operation; `live_url`
# checks that the server serves this very document.
DOCUMENT = build_spec(create_app(Settings()))


@pytest.fixture
def live_url(settings: Settings, sample: None) -> Iterator[str]:
    with serve_in_thread(create_app(settings)) as url:
        with urllib.request.urlopen(f"{url}/openapi.json", timeout=10) as response:
            assert orjson.loads(response.read()) == orjson.loads(orjson.dumps(DOCUMENT))
        yield url


schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict(FUZZ_CONFIG))

# `after`/`before` are valid only as the server signed them for the same query, which no
# generator can produce: a schema-valid cursor is still a 400, and so is any page_number beside
# it. Rather than tolerating 400s for positive data (which would hide real rejections of the
# other parameters, or of a cursor-free query), positive queries are sent without cursors, so
# every one of them must be accepted and reach the database. Negative queries keep them: a
# cursor that breaks its documented shape must still be rejected.
CURSORS = ("after", "before")
# aiohttp refuses longer URLs in its HTTP parser, before the application (and so before the
# problem+json middleware) sees the request. Each parameter's documented maxLength fits, but
# a query of some forty long filters at once may not: such requests test the HTTP layer's
# limit, not the API, and are not sent.
MAX_URL_BYTES: int = inspect.signature(RequestHandler).parameters["max_line_size"].default


if TYPE_CHECKING:
    from schemathesis.specs.openapi.schemas import OpenApiCase as Case


Hook = TypeVar("Hook", bound=Callable[..., object])


def applied(name: str, **applies_to: str) -> Callable[[Hook], Hook]:
    """`@schema.hook(name).apply_to(...)`, typed: registers the hook for the operations
    `applies_to` selects."""
    hook: Any = schema.hook(name)  # schemathesis types the decorator as a bare Callable
    register: Callable[[Hook], Hook] = hook.apply_to(**applies_to)
    return register


@schema.hook("filter_case")
def fits_the_request_line(context: schemathesis.HookContext, case: Case) -> bool:
    request = requests.Request(case.method, f"http://host{case.formatted_path}", params=case.query)
    return len(request.prepare().path_url) <= MAX_URL_BYTES


def text_parameters(document: Mapping[str, Any]) -> frozenset[str]:
    """The query parameters of GET /users whose values (or items) are text."""
    operation = document["paths"]["/users"]["get"]
    components = document["components"]["parameters"]
    names = set()
    for parameter in operation["parameters"]:
        if "$ref" in parameter:
            parameter = components[parameter["$ref"].rsplit("/", 1)[1]]
        schema = parameter["schema"]
        if schema.get("type") == "string" or schema.get("items", {}).get("type") == "string":
            names.add(parameter["name"])
    return frozenset(names)


TEXT_PARAMETERS = text_parameters(DOCUMENT)


def is_text_on_the_wire(name: str, value: object) -> bool:
    """Whether a value drawn as a type violation still reaches the server as acceptable text.

    A query string has no types: an object is flattened or dropped by the form serializer,
    and a boolean or number drawn for a text parameter arrives as its text, which that
    parameter accepts. Such a case is not negative once it is a URL.
    """
    if isinstance(value, dict):
        return True
    values = value if isinstance(value, list) else [value]
    return name in TEXT_PARAMETERS and any(not isinstance(v, str) for v in values)


@applied("filter_case", method="GET", path="/users")
def negative_queries_stay_negative_as_urls(context: schemathesis.HookContext, case: Case) -> bool:
    negative = case.meta is not None and case.meta.is_negative_at(ParameterLocation.QUERY)
    return not negative or not any(
        is_text_on_the_wire(name, value) for name, value in (case.query or {}).items()
    )


@applied("map_case", method="GET", path="/users")
def positive_queries_carry_no_cursor(context: schemathesis.HookContext, case: Case) -> Case:
    negative = case.meta is not None and case.meta.is_negative_at(ParameterLocation.QUERY)
    if case.query and not negative and any(name in case.query for name in CURSORS):
        case.query = {k: v for k, v in case.query.items() if k not in CURSORS}
    return case


# The sample data's ids, as load_sample_data assigns them: restaurant n (from 1) holds the
# item ids of its menu, numbered on from the previous one's.
MENU_SIZES = [len(menu) for menu in MENUS.values()]
FIRST_ITEMS = [1 + sum(MENU_SIZES[:n]) for n in range(len(MENU_SIZES))]


def fold(value: int, size: int) -> int:
    return 1 + (value - 1) % size


@applied("map_case", path_regex="^/restaurant/{restaurant_id}")
def positive_ids_reach_the_sample_data(context: schemathesis.HookContext, case: Case) -> Case:
    # Drawn ids spread over 1..2**31-1 would almost all name nothing. Positive ones are folded
    # onto the sample data: a restaurant onto 1..4 (4: none), an item onto its restaurant's
    # menu, a modifier onto that menu and the one id past it (the next restaurant's first
    # item, or none). So most examples reach real rows (items changed, links created,
    # updated, refused as cycles or across restaurants) and some still name nothing (404).
    negative = case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH)
    ids = case.path_parameters or {}
    if negative or not all(isinstance(v, int) and v > 0 for v in ids.values()):
        return case
    folded = dict(ids)
    restaurant = folded["restaurant_id"] = fold(ids["restaurant_id"], len(MENU_SIZES) + 1)
    if restaurant <= len(MENU_SIZES):
        first, size = FIRST_ITEMS[restaurant - 1], MENU_SIZES[restaurant - 1]
        if "item_id" in ids:
            folded["item_id"] = first - 1 + fold(ids["item_id"], size)
        if "modifier_id" in ids:
            folded["modifier_id"] = first - 1 + fold(ids["modifier_id"], size + 1)
    case.path_parameters = folded
    return case


@applied("map_case", method="PUT", path_regex="/modifiers/")
def positive_links_keep_their_bounds_in_order(
    context: schemathesis.HookContext, case: Case
) -> Case:
    # max_select >= min_select relates two fields, which JSON Schema cannot express (the
    # document says it in words). Positive bodies get their bounds in order, so that each one
    # must be accepted; negative bodies are sent as generated.
    negative = case.meta is not None and case.meta.is_negative_at(ParameterLocation.BODY)
    body = case.body
    if not negative and isinstance(body, dict):
        low, high = body.get("min_select", 0), body.get("max_select")
        if isinstance(low, int) and isinstance(high, int) and high < low:
            case.body = {**body, "min_select": high, "max_select": low}
    return case


@schema.parametrize()
# One server and database per operation and backend serve all its examples: restarting them
# for each example would cost more than the requests.
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_every_operation_keeps_its_contract(case: Case, live_url: str) -> None:
    case.call_and_validate(base_url=live_url)
