"""Which path a conversation shows after a switch (``rill.store.versions.shown_path``),
on trees written out by hand: no database, every branch of the rule."""

from __future__ import annotations

import pytest

from rill.errors import NotFound
from rill.store.models import Message
from rill.store.versions import shown_path, siblings_statement, with_versions

# q1 ─ a1 ─┬─ q2 ─┬─ a2 ─ q3 ─ a3     shown: q1 a1 q2 a2 q3 a3 (a1 chose q2, q2 a2)
#          │      └─ a2b ─ q4 ─ a4    a2b: a2 regenerated
#          └─ q2e ─ a2e               q2e: q2 edited
# Rows: (id, parent_id, shown_child_id, active), oldest first, as the store reads them.
TREE = [
    ("q1", None, None, 1),
    ("a1", "q1", "q2", 1),
    ("q2", "a1", "a2", 1),
    ("a2", "q2", None, 1),
    ("q3", "a2", None, 1),
    ("a3", "q3", None, 1),
    ("a2b", "q2", None, 0),
    ("q4", "a2b", None, 0),
    ("a4", "q4", None, 0),
    ("q2e", "a1", None, 0),
    ("a2e", "q2e", None, 0),
]


def with_shown(rows: list[tuple[str, str | None, str | None, int]], shown: dict[str, str],
               active: set[str]) -> list[tuple[str, str | None, str | None, int]]:
    return [(i, p, shown.get(i, c), int(i in active)) for i, p, c, _ in rows]


def test_showing_a_sibling_remembers_it_above_and_takes_its_descendants() -> None:
    change = shown_path(TREE, "q2e")
    assert change.activate == ["q2e", "a2e"]
    assert set(change.deactivate) == {"q2", "a2", "q3", "a3"}
    assert change.shown_children == {"a1": "q2e"}


def test_without_a_remembered_child_the_newest_is_shown() -> None:
    rows = [(i, p, None, int(i in {"q1", "a1", "q2e", "a2e"})) for i, p, _, _ in TREE]
    change = shown_path(rows, "q2")
    assert change.shown_children == {"a1": "q2"}
    # Below q2 its newest child (a2b) and that one's newest descendants.
    assert change.activate == ["q2", "a2b", "q4", "a4"]
    assert set(change.deactivate) == {"q2e", "a2e"}


def test_the_child_shown_last_is_restored_below() -> None:
    rows = with_shown(TREE, {"a1": "q2e"}, {"q1", "a1", "q2e", "a2e"})
    change = shown_path(rows, "q2")
    assert change.activate == ["q2", "a2", "q3", "a3"]
    assert change.shown_children == {"a1": "q2"}


def test_a_remembered_child_that_is_gone_falls_back_to_the_newest() -> None:
    rows = with_shown(TREE, {"q2": "deleted"}, {"q1", "a1", "q2e", "a2e"})
    assert shown_path(rows, "q2").activate == ["q2", "a2b", "q4", "a4"]


def test_showing_what_is_shown_changes_nothing() -> None:
    change = shown_path(TREE, "a3")
    assert (change.activate, change.deactivate, change.shown_children) == ([], [], {})


def test_showing_a_deep_message_activates_every_ancestor() -> None:
    change = shown_path(TREE, "a4")
    assert change.activate == ["a2b", "q4", "a4"]
    assert set(change.deactivate) == {"a2", "q3", "a3"}
    assert change.shown_children == {"q2": "a2b"}


def test_an_unknown_message_is_not_found() -> None:
    with pytest.raises(NotFound):
        shown_path(TREE, "elsewhere")


def test_a_damaged_tree_with_a_cycle_still_ends() -> None:
    rows = [("x", "y", None, 1), ("y", "x", None, 0)]
    shown_path(rows, "x")


def message(id_: str, parent: str | None, conversation: str = "conv_1") -> Message:
    return Message(id_, conversation, "u", "echo", "user", "", "complete", 0, 0,
                   parent_id=parent)


def test_versions_are_siblings_in_the_same_conversation_oldest_first() -> None:
    page = [message("q1", None), message("a1", "q1"), message("q2e", "a1"),
            message("r1", None, "conv_2")]
    statement = siblings_statement(page)
    assert statement is not None
    # Children by their parents; first messages by their conversation (roots only there).
    assert statement[1] == ("conv_1", "a1", "q1", "conv_1", "conv_2")
    assert statement[0].count("parent_id IS NULL") == 1
    only_children = siblings_statement([message("a1", "q1")])
    assert only_children is not None and "IS NULL" not in only_children[0]
    rows = [("q1", "conv_1", None), ("a1", "conv_1", "q1"), ("q2", "conv_1", "a1"),
            ("q2e", "conv_1", "a1"), ("r0", "conv_2", None), ("r1", "conv_2", None)]
    assert [m.versions for m in with_versions(page, rows)] == [
        ("q1",), ("a1",), ("q2", "q2e"), ("r0", "r1")]
    assert siblings_statement([]) is None
    assert message("solo", None).versions == ("solo",)
