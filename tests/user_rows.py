"""A small users table full of ties, case variants and LIKE wildcards, plus a plain-Python
model of the /users query grammar to check the service against."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

NAMES = [
    "alice", "Alice", "ALICE_2", "bob", "b%ob", "b_ob", "bo", "carol", "Carol%", "dave",
    "d_ve", "eve", "Eve", "frank", "ünïcödé", "Ünïcödé", "zed", "Zed", "zz_top", "100%",
    "a", "ab", "abc", "x-y", "x_y", "x%y", "MiXeD", "mixed", "mIxEd2", "o'brien",
]  # fmt: skip
TYPES = ["User", "Organization", "Bot"]
IMAGES = ["https://img.test/1", "https://img.test/2", "https://img.test/%"]
PROFILES = ["https://p.test/a", "https://p.test/A", "https://p.test/_", "https://p.test/b"]


def user_rows() -> list[dict[str, Any]]:
    rows = []
    for i, name in enumerate(NAMES):
        for copy in range(2):
            n = i * 2 + copy
            rows.append(
                {
                    "id": 1000 + n * 7 % 61 * 3 + n,  # unique, not in insertion order
                    "username": name if copy == 0 else f"{name}-{copy}",
                    "type": TYPES[n * 5 % 3],
                    "image_url": IMAGES[n * 7 % 3],
                    "profile_url": PROFILES[n % 4],
                }
            )
    assert len({r["id"] for r in rows}) == len(rows)
    return rows


def ascii_lower(value: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in value)


def matches(row: dict[str, Any], field: str, op: str, value: Any) -> bool:
    have = row[field]
    tests: dict[str, Callable[[], bool]] = {
        "eq": lambda: have == value,
        "ne": lambda: have != value,
        "gt": lambda: have > value,
        "gte": lambda: have >= value,
        "lt": lambda: have < value,
        "lte": lambda: have <= value,
        "in": lambda: have in value,
        "contains": lambda: value in have,
        "icontains": lambda: ascii_lower(value) in ascii_lower(have),
        "startswith": lambda: have.startswith(value),
    }
    return bool(tests[op]())


def reference(
    rows: Sequence[dict[str, Any]], filters: Sequence[tuple[str, str, Any]], order_by: list[str]
) -> list[dict[str, Any]]:
    """What GET /users must return, all pages together: code point order, id last."""
    chosen = [r for r in rows if all(matches(r, f, op, v) for f, op, v in filters)]
    terms = order_by if "id" in [t.lstrip("-") for t in order_by] else [*order_by, "id"]
    for term in reversed(terms):  # stable sorts, least significant key first
        chosen.sort(key=itemgetter(term.lstrip("-")), reverse=term.startswith("-"))
    return chosen
