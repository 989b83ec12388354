"""Progress of the long data passes (parsing a table, decoding images, writing the cache),
told to whoever listens.

The data code only says what it counts (`counted`); it draws nothing. The CLI listens
(`listening`) and draws bars with rows/s or files/s; a library caller or a test that does not
listen pays one context-variable lookup per pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol, TypeVar

T = TypeVar("T")


class Listener(Protocol):
    """Told when a pass starts, as it goes and when it ends. `total` is None when the pass
    cannot know its length before it ends (a stream of chunks)."""

    def start(self, description: str, unit: str, total: int | None) -> object: ...

    def advance(self, task: object, amount: int) -> None: ...

    def finish(self, task: object) -> None: ...


_listener: ContextVar[Listener | None] = ContextVar("dlrun_progress_listener", default=None)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Passes started inside the block report to `listener`."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def counted(
    items: Iterable[T],
    description: str,
    unit: str,
    *,
    size: Callable[[T], int] = len,
    total: int | None = None,
) -> Iterator[T]:
    """`items`, unchanged, each counted as `size(item)` `unit`s of the pass `description`."""
    listener = _listener.get()
    if listener is None:
        yield from items
        return
    task = listener.start(description, unit, total)
    try:
        for item in items:
            yield item
            listener.advance(task, size(item))
    finally:
        listener.finish(task)
