"""Long data passes say how far they are to whoever listens, and cost nothing otherwise."""

from __future__ import annotations

import contextlib

from dlrun.core.progress import counted, listening


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def start(self, description: str, unit: str, total: int | None) -> str:
        self.events.append(("start", description, unit, total))
        return description

    def advance(self, task: object, amount: int) -> None:
        self.events.append(("advance", task, amount))

    def finish(self, task: object) -> None:
        self.events.append(("finish", task))


def test_a_counted_pass_yields_its_items_and_reports_each_one_s_size() -> None:
    recorder = Recorder()
    with listening(recorder):
        items = list(counted([[1, 2], [3]], "reading", "rows", total=3))
    assert items == [[1, 2], [3]]
    assert recorder.events == [
        ("start", "reading", "rows", 3),
        ("advance", "reading", 2),
        ("advance", "reading", 1),
        ("finish", "reading"),
    ]


def test_a_pass_that_fails_still_ends_its_bar() -> None:
    def broken():
        yield [1]
        raise ValueError("unreadable chunk")

    recorder = Recorder()
    with listening(recorder), contextlib.suppress(ValueError):
        list(counted(broken(), "reading", "rows"))
    assert recorder.events[-1] == ("finish", "reading")


def test_without_a_listener_nothing_is_reported() -> None:
    recorder = Recorder()
    with listening(recorder):
        pass
    assert list(counted([[1]], "reading", "rows")) == [[1]]
    assert recorder.events == []
