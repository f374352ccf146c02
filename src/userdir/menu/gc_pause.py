"""Pausing Python's cycle collector while a large acyclic structure is built.

Building a menu allocates hundreds of thousands of dicts and lists at once; each batch of new
containers triggers the cycle collector, which walks the growing heap again and again though
reference counting frees all of it. Paused for the (synchronous) build, it runs once after.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block; never spans an await."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
