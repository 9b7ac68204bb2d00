"""Versions of a history page (``rill.store.versions``): which rows the lookup asks
for, and how they fill ``Message.versions``; no database. (Showing a version is
SQL through and through: tests/contract/test_store_versions.py.)"""

from __future__ import annotations

from rill.store.models import Message
from rill.store.versions import siblings_statement, with_versions


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
