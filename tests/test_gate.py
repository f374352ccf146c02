"""Database checkouts wait their turn: first come, first served, bounded by the pool timeout."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from userdir.db.gate import Gate


async def test_a_released_slot_goes_to_the_longest_waiter_not_to_a_newcomer() -> None:
    gate = Gate(1, timeout=5)
    await gate.acquire()
    order: list[str] = []

    async def take(name: str) -> None:
        await gate.acquire()
        order.append(name)
        gate.release()

    waiters = []
    for name in ("first", "second", "third"):
        waiters.append(asyncio.create_task(take(name)))
        await asyncio.sleep(0)  # each one is waiting before the next arrives
    assert gate.waiting == 3
    gate.release()
    # A newcomer arrives while the slot is being handed over: it queues behind the others.
    waiters.append(asyncio.create_task(take("newcomer")))
    await asyncio.wait_for(asyncio.gather(*waiters), 1)
    assert order == ["first", "second", "third", "newcomer"]


async def test_no_slot_within_the_timeout_is_the_pools_timeout_error() -> None:
    gate = Gate(1, timeout=0.05)
    await gate.acquire()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(PoolTimeout, match="within 0.05 s"):
        await gate.acquire()
    assert 0.05 <= loop.time() - started < 1
    assert gate.waiting == 0
    gate.release()
    await asyncio.wait_for(gate.acquire(), 1)  # the slot was not lost to the timed-out waiter


async def test_a_cancelled_waiter_takes_no_slot() -> None:
    gate = Gate(1, timeout=5)
    await gate.acquire()
    waiter = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    gate.release()
    await asyncio.wait_for(gate.acquire(), 1)
    assert gate.waiting == 0
