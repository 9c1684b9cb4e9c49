"""The releaser: output runs in queue order once its seq is committed; a batch frame's orders share one entry."""

from __future__ import annotations

from typing import Any

from exchange.gateway.release import Releaser


def test_output_waits_for_its_commit_and_keeps_queue_order() -> None:
    ran: list[Any] = []
    r = Releaser(committed=10)
    r.after(10, ran.append, "now")  # committed and nothing waits: at once
    r.after(11, ran.append, "a")
    r.after(10, ran.append, "b")  # behind "a", though its seq is committed
    assert ran == ["now"]
    r.commit(11)
    assert ran == ["now", "a", "b"] and len(r) == 0


def test_items_of_one_frame_share_one_entry_released_with_the_last() -> None:
    calls: list[list[str]] = []
    r = Releaser(committed=0)
    r.grouping(True)
    r.after_item(1, calls.append, "o1")
    r.after_item(2, calls.append, "o2")
    r.after_item(3, calls.append, "o3")
    r.grouping(False)
    assert len(r) == 1
    r.commit(2)  # the entry waits for its last item's seq
    assert calls == []
    r.commit(3)
    assert calls == [["o1", "o2", "o3"]]


def test_anything_queued_between_items_keeps_its_place() -> None:
    out: list[Any] = []
    r = Releaser(committed=0)
    r.grouping(True)
    r.after_item(1, out.append, "o1")
    r.after(1, out.append, "pong")  # e.g. a ping inside the batch
    r.after_item(2, out.append, "o2")
    r.grouping(False)
    r.commit(2)
    assert out == [["o1"], "pong", ["o2"]]


def test_items_outside_a_frame_never_group_so_no_release_is_held_back() -> None:
    calls: list[list[str]] = []
    r = Releaser(committed=0)
    r.after_item(1, calls.append, "a")
    r.after_item(2, calls.append, "b")  # a later frame: its own entry
    r.commit(1)
    assert calls == [["a"]]
    r.grouping(True)
    r.after_item(3, calls.append, "c")
    r.commit(2)  # releasing "b" does not hold the open entry of "c" back, nor let it join
    r.after_item(4, calls.append, "d")
    r.grouping(False)
    r.commit(4)
    assert calls == [["a"], ["b"], ["c", "d"]]
