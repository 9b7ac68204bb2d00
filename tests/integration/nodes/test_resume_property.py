"""Nothing lost across nodes: a reply generated on one node, cut at a random event and
byte, and resumed on another node adds up to exactly the stored text, every time."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.support import scaled
from tests.reliability.test_chat_resume import (
    VOCABULARY,
    _check_sequence,
    _resume,
    _send_and_cut,
    _walk,
)

from .cluster import Cluster, client, database, session

TURNS = scaled(40, 400)


@pytest.fixture(scope="module")
def unlimited_nodes(tmp_path_factory: pytest.TempPathFactory, broker: str) -> Iterator[Cluster]:
    with database() as url:
        cluster = Cluster(Path(tmp_path_factory.mktemp("nodes")), url, broker_url=broker, extra_env={
            "RILL_CHAT_TURNS_PER_MINUTE": "0", "RILL_MAX_CONCURRENT_GENERATIONS": "50"})
        try:
            for node in ("a", "b", "c"):
                cluster.start(node)
            yield cluster
        finally:
            cluster.stop_all()


def test_random_cuts_resumed_on_another_node(unlimited_nodes: Cluster) -> None:
    rng = random.Random(7_2026)
    token = session(unlimited_nodes["a"].url)
    clients = {n: client(unlimited_nodes[n].url, token) for n in ("a", "b", "c")}
    received: dict[str, str] = {}
    cuts = 0
    try:
        for _ in range(TURNS):
            origin, other = rng.sample(sorted(clients), 2)
            message = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 30)))
            bot = rng.choice(("echo", "slow"))
            message_id, first, was_cut = _send_and_cut(clients[origin], bot, message, rng)
            cuts += was_cut
            rest = _resume(clients[other], message_id, first[-1].id if first else None) \
                if was_cut else []
            received[message_id] = _check_sequence(first + rest)
        stored = {**_walk(clients["c"], "echo"), **_walk(clients["c"], "slow")}
        mismatched = [m for m, text in received.items() if stored.get(m) != text]
        assert not mismatched, f"{len(mismatched)} replies differ from the store"
    finally:
        for c in clients.values():
            c.close()
    assert cuts >= TURNS * 0.7

