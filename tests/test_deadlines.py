"""REQUEST_TIMEOUT's sweep: it cancels only tasks past their deadline, and only its own
cancellations are taken back."""

from __future__ import annotations

import asyncio

import pytest

from userdir.deadlines import Deadlines


async def _bounded(deadlines: Deadlines, seconds: float) -> str:
    task = deadlines.start()
    try:
        await asyncio.sleep(seconds)
        return "done"
    except asyncio.CancelledError:
        if not deadlines.cut(task):
            raise
        return "cut"
    finally:
        deadlines.release(task)


async def test_a_task_past_its_deadline_is_cut_and_one_within_it_is_not() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(10.0, loop)
    slow = asyncio.create_task(_bounded(deadlines, 60))
    quick = asyncio.create_task(_bounded(deadlines, 0.01))
    await asyncio.sleep(0)
    deadlines.expire(loop.time() + 5)  # neither is due yet
    assert await quick == "done"
    deadlines.expire(loop.time() + 11)
    assert await asyncio.wait_for(slow, 1) == "cut"
    assert not slow.cancelling()  # the cancellation was taken back: the task answers


async def test_a_cancellation_from_elsewhere_goes_on() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(10.0, loop)
    task = asyncio.create_task(_bounded(deadlines, 60))
    await asyncio.sleep(0)
    task.cancel()  # a client gone, a shutdown: not the deadline's
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_deadline_and_another_cancellation_together_still_cancel() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(10.0, loop)
    task = asyncio.create_task(_bounded(deadlines, 60))
    await asyncio.sleep(0)
    task.cancel()
    deadlines.expire(loop.time() + 11)
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_released_task_is_never_cancelled() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(0.01, loop)

    async def answered_then_streaming() -> str:
        deadlines.release(deadlines.start())  # as start_stream does once the head is out
        await asyncio.sleep(0.05)
        return "streamed"

    task = asyncio.create_task(answered_then_streaming())
    await asyncio.sleep(0)
    deadlines.expire(loop.time() + 1)
    assert await task == "streamed"


async def test_a_cut_turned_into_an_error_is_taken_back_on_release() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(10.0, loop)

    async def converts() -> int:
        task = deadlines.start()
        try:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                raise RuntimeError("the driver gave up") from None  # as some libraries do
        except RuntimeError:
            pass
        finally:
            deadlines.release(task)
        await asyncio.sleep(0)  # the task goes on: its next request is not cancelled
        return task.cancelling()

    task = asyncio.create_task(converts())
    await asyncio.sleep(0)
    deadlines.expire(loop.time() + 11)
    assert await asyncio.wait_for(task, 1) == 0
