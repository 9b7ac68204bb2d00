"""Benchmark 6: scaling out (issue 18), every configuration side by side in one run.

- **workers**: ``rill serve --workers 2`` against one worker, both on one Redis: hub burst
  deliveries/s (10k subscribers, 20 updates) and chat relay tokens/s at 1,000 turns
  (the OpenAI path through the fake, all turns in flight, and the echo bot).
- **nodes**: three nodes on one broker with the subscribers spread over them, against one
  node holding them all: single-update p50/p99 from publish to every subscriber; on one
  Redis and on the Redis Cluster.
- **publisher**: the hub's fan-out with the shapes a backend publishes in: 20 updates on
  one keep-alive connection, pipelined (written back to back, answers read after) and in a
  loop (each answer awaited, as an HTTP client library does), beside 20 concurrent
  publishers on fresh connections; Rill with one and two workers against Nchan with one
  and two workers.

Each part runs every configuration once per round, ``BENCH_ROUNDS`` rounds (default 3),
the order rotated each round so that no configuration always goes first; the tables give
the median and the range (min–max) over the rounds. ``BENCH_SCALE=workers,nodes,publisher``
picks parts, ``BENCH_SCALE_SIZE`` scales the loads. Single-process servers are pinned to
the server core like every other benchmark; several processes (workers, nodes) run
unpinned, sharing both cores with the load client: on this 2-core machine that is the
honest setting for "more processes".
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jwt

from bench import chat
from bench.client import Subscriber, Tally, arrival_latencies, close_all, open_subscribers
from bench.common import (
    BIN,
    HOST,
    ROOT,
    SERVER_CORE,
    Proc,
    free_port,
    http,
    percentile,
    table,
    write_results,
)
from bench.fanout import BURST, SINGLES, WAIT, payload
from bench.idle import MARKER
from bench.targets import TOPIC, Nchan, nginx_conf

SECRET = "bench-scale-session-secret-0123456789abcdef"
REDIS_URL = "redis://127.0.0.1:6379/9"
CLUSTER_URL = "redis+cluster://127.0.0.1:7000"
CLUSTER_PORTS = range(7000, 7006)
#: ``BENCH_SCALE_SIZE=0.05`` shrinks every load, for a quick check that the parts run.
SIZE = float(os.environ.get("BENCH_SCALE_SIZE", "1"))
SUBSCRIBERS = int(10_000 * SIZE)
#: Per node in the nodes part (the client holds them all: 3 × 5,000 under its 20k files).
PER_NODE = int(5_000 * SIZE)
CHAT_TURNS = int(1_000 * SIZE)
CHAT_TOKENS = 200


# -- servers --------------------------------------------------------------------------------


def _flush(broker: str) -> None:
    """Start every configuration on an empty broker (no replay of an earlier run)."""
    cli = shutil.which("redis-cli") or "redis-cli"
    if broker.startswith("redis+cluster"):
        for port in CLUSTER_PORTS:
            subprocess.run([cli, "-p", str(port), "FLUSHALL"], capture_output=True, check=False)
    elif broker.startswith("redis"):
        subprocess.run([cli, "-n", broker.rsplit("/", 1)[1], "FLUSHDB"], capture_output=True,
                       check=True)


class RedisStats:
    """Commands and CPU of a broker's Redis primaries over one measured run.

    Why: what a publish or a token costs Redis (calls, CPU) is what bounds a set-up of
    many nodes on one primary; these counts are the base of the 100-node estimate.
    """

    def __init__(self, broker: str | None) -> None:
        import redis

        if broker is None or not broker.startswith("redis"):
            self.clients: list[Any] = []
        elif broker.startswith("redis+cluster"):
            nodes = [redis.Redis(port=port) for port in CLUSTER_PORTS]
            self.clients = [c for c in nodes if c.info("replication")["role"] == "master"]
        else:
            self.clients = [redis.Redis.from_url(broker)]
        self._cpu = 0.0

    def _cpu_now(self) -> float:
        return sum(float(c.info("cpu")["used_cpu_sys"]) + float(c.info("cpu")["used_cpu_user"])
                   for c in self.clients)

    def reset(self) -> None:
        for c in self.clients:
            c.config_resetstat()
        self._cpu = self._cpu_now()

    def read(self) -> tuple[dict[str, int], float]:
        """Calls per command since ``reset`` (all primaries), and their CPU seconds."""
        calls: dict[str, int] = {}
        for c in self.clients:
            for name, stat in c.info("commandstats").items():
                command = name.removeprefix("cmdstat_")
                calls[command] = calls.get(command, 0) + int(stat["calls"])
        return calls, self._cpu_now() - self._cpu


def _calls(calls: dict[str, int], *names: str) -> int:
    return sum(calls.get(n, 0) for n in names)


class Server:
    """Something that fans out: ports subscribers connect to, and publish requests."""

    name = ""
    sub_path = ""

    def __init__(self) -> None:
        self.ports: list[int] = []
        self.procs: list[Proc] = []

    def cpu_seconds(self) -> float:
        """CPU time of every process of the server (nodes and their workers) so far."""
        return sum(p.tree_cpu_seconds() for p in self.procs)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        raise NotImplementedError

    def publish_request(self, data: str) -> bytes:
        """One publish as raw HTTP/1.1 bytes on a keep-alive connection to ``ports[0]``."""
        raise NotImplementedError


class RillNodes(Server):
    """``nodes`` × ``rill serve --workers N`` on one broker (memory: one node, one worker)."""

    sub_path = f"/.well-known/mercure?topic={TOPIC}"

    def __init__(self, name: str, *, nodes: int = 1, workers: int = 1,
                 broker: str | None = None) -> None:
        super().__init__()
        self.name, self.nodes, self.workers, self.broker = name, nodes, workers, broker
        self.token = jwt.encode({"mercure": {"publish": ["*"]},
                                 "exp": int(time.time()) + 24 * 3600}, SECRET, algorithm="HS256")

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        if self.broker:
            _flush(self.broker)
        single = self.nodes == 1 and self.workers == 1
        with contextlib.ExitStack() as stack:
            self.ports, self.procs = [], []
            for n in range(self.nodes):
                port = free_port()
                data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-scale-"))
                env = {"RILL_LOG_LEVEL": "warning", "RILL_HUB__HEARTBEAT_SECONDS": "3600",
                       "RILL_SESSION_SECRET": SECRET}
                if self.broker:
                    env["RILL_BROKER_URL"] = self.broker
                if self.workers == 1:
                    env["RILL_NODE_ID"] = f"bench-node-{n}"
                argv = [str(BIN / "rill"), "serve", "--port", str(port), "--data-dir", data_dir,
                        "--workers", str(self.workers)]
                self.procs.append(stack.enter_context(Proc(
                    f"{self.name}-{n}", argv, port=port, env=env, cwd=ROOT,
                    core=SERVER_CORE if single else None)))
                self.ports.append(port)
            yield

    def publish_request(self, data: str) -> bytes:
        body = f"topic={TOPIC}&data={quote(data)}".encode()
        return (f"POST /.well-known/mercure HTTP/1.1\r\nHost: {HOST}:{self.ports[0]}\r\n"
                f"Authorization: Bearer {self.token}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body


class NchanServer(Server):
    """Nchan (nginx) with one worker process, pinned like Rill's one, or two, unpinned."""

    sub_path = f"/sub?id={TOPIC}"

    def __init__(self, name: str, workers: int) -> None:
        super().__init__()
        self.name, self.workers = name, workers

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        port = free_port()
        with tempfile.TemporaryDirectory(prefix="bench-nchan-") as tmp:
            conf = Path(tmp) / "nginx.conf"
            conf.write_text(nginx_conf(Path(tmp), port, self.workers))
            argv = [shutil.which("nginx") or "nginx", "-p", tmp, "-e", f"{tmp}/error.log",
                    "-c", str(conf)]
            with Proc(self.name, argv, port=port,
                      core=SERVER_CORE if self.workers == 1 else None) as proc:
                self.ports, self.procs = [port], [proc]
                yield

    def publish_request(self, data: str) -> bytes:
        body = data.encode()
        return (f"POST /pub?id={TOPIC} HTTP/1.1\r\nHost: {HOST}:{self.ports[0]}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body


# -- publishers -----------------------------------------------------------------------------


class KeepAlive:
    """One publisher connection kept open, as a backend's HTTP client keeps it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> KeepAlive:
        return cls(*await asyncio.open_connection(HOST, port))

    def close(self) -> None:
        self.writer.close()

    async def answer(self) -> int:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(None, 2)[1])
        lower = head.lower()
        if b"transfer-encoding: chunked" in lower:
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            length = 0
            for line in lower.split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await self.reader.readexactly(length)
        if status >= 300:
            raise RuntimeError(f"publish answered {status}")
        return status

    async def pipelined(self, requests: Sequence[bytes]) -> None:
        """Every request written at once, the answers read after (HTTP/1.1 pipelining)."""
        self.writer.write(b"".join(requests))
        for _ in requests:
            await self.answer()

    async def loop(self, requests: Sequence[bytes]) -> None:
        """One request at a time, each answer awaited before the next is sent."""
        for request in requests:
            self.writer.write(request)
            await self.answer()


async def _fresh(port: int, request: bytes) -> None:
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    method, path = lines[0].split()[:2]
    headers = dict(line.split(": ", 1) for line in lines[1:] if not line.startswith(
        ("Host:", "Content-Length:")))
    status, answer = await http(port, method, path, body=body, headers=headers)
    if status >= 300:
        raise RuntimeError(f"publish answered {status}: {answer[:200]!r}")


# -- measuring ------------------------------------------------------------------------------


@dataclass
class Hub:
    """Subscribers open on a running server, and the arrivals they have counted."""

    server: Server
    subs: list[Subscriber]
    tally: Tally
    seen: int = 0

    async def deliver(self, publish: Callable[[], Awaitable[None]], updates: int
                      ) -> tuple[float, float, int]:
        """Run ``publish``; (start, last arrival, subscribers that got all ``updates``)."""
        self.seen += updates
        done = self.tally.arm(self.seen, len(self.subs))
        start = asyncio.get_running_loop().time()
        await publish()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done, WAIT)
        complete = [s.reached_at for s in self.subs if s.count >= self.seen]
        return start, max(complete, default=start), len(complete)


@contextlib.asynccontextmanager
async def subscribed(server: Server, per_port: Sequence[int]) -> AsyncIterator[Hub]:
    with server.running():
        tally = Tally()
        subs: list[Subscriber] = []
        try:
            # Warm up each port (imports, first connections), then the real subscribers.
            for port in server.ports:
                warm = await open_subscribers(port, server.sub_path, 20, MARKER, tally)
                close_all(warm)
            for port, count in zip(server.ports, per_port, strict=True):
                await open_subscribers(port, server.sub_path, count, MARKER, tally, into=subs)
            await asyncio.sleep(1.0)
            hub = Hub(server, subs, tally)
            first = server.publish_request(payload(0))
            await hub.deliver(lambda: _fresh(server.ports[0], first), 1)
            yield hub
        finally:
            close_all(subs)


async def burst(hub: Hub, mode: str) -> float:
    """Deliveries/s of a 20-update burst published in ``mode``; 0 if some never arrived."""
    return (await burst_cost(hub, mode))[0]


async def burst_cost(hub: Hub, mode: str) -> tuple[float, float]:
    """``burst``'s deliveries/s, and the server's CPU seconds (every process) for it."""
    cpu = hub.server.cpu_seconds()
    rate = await _burst(hub, mode)
    return rate, hub.server.cpu_seconds() - cpu


async def _burst(hub: Hub, mode: str) -> float:
    requests = [hub.server.publish_request(payload(1 + i)) for i in range(BURST)]
    port = hub.server.ports[0]
    conn = await KeepAlive.open(port) if mode != "concurrent" else None
    try:
        async def publish() -> None:
            if conn is None:
                await asyncio.gather(*(_fresh(port, r) for r in requests))
            elif mode == "pipelined":
                await conn.pipelined(requests)
            else:
                await conn.loop(requests)
        start, end, complete = await hub.deliver(publish, BURST)
    finally:
        if conn is not None:
            conn.close()
    n = len(hub.subs)
    await asyncio.sleep(0.5)
    return n * BURST / (end - start) if complete == n and end > start else 0.0


async def singles(hub: Hub) -> tuple[float, float, int]:
    """p50, p99 ms from publish (on a keep-alive connection) to every subscriber; missing."""
    conn = await KeepAlive.open(hub.server.ports[0])
    latencies: list[float] = []
    missing = 0
    try:
        for i in range(SINGLES):
            request = hub.server.publish_request(payload(100 + i))
            start, _, complete = await hub.deliver(functools.partial(conn.loop, [request]), 1)
            latencies += arrival_latencies(hub.subs, start)
            missing += len(hub.subs) - complete
            await asyncio.sleep(0.2)
    finally:
        conn.close()
    return percentile(latencies, 50), percentile(latencies, 99), missing


def _rotate(items: list[Any], by: int) -> list[Any]:
    by %= len(items)
    return items[by:] + items[:by]


def spread(values: Sequence[float]) -> str:
    """Median and range over the rounds."""
    real = [v for v in values if v == v]
    if not real:
        return "-"
    pattern = "{:,.0f}" if max(real) >= 100 else "{:.1f}"
    low, mid, high = (pattern.format(v) for v in (min(real), statistics.median(real), max(real)))
    return f"{mid} ({low}–{high})"


def _rounds() -> int:
    return max(1, int(os.environ.get("BENCH_ROUNDS", "3")))


# -- parts ----------------------------------------------------------------------------------


async def workers_part() -> dict[str, Any]:
    configs = [RillNodes("1 worker", workers=1, broker=REDIS_URL),
               RillNodes("2 workers", workers=2, broker=REDIS_URL)]
    stats = RedisStats(REDIS_URL)
    res: dict[str, dict[str, list[float]]] = {c.name: {} for c in configs}

    def note(name: str, **values: float) -> None:
        for key, value in values.items():
            res[name].setdefault(key, []).append(value)

    for r in range(_rounds()):
        for server in _rotate(configs, r):
            print(f"scale: workers, hub burst, {server.name}, round {r + 1} …", flush=True)
            async with subscribed(server, [SUBSCRIBERS]) as hub:
                stats.reset()
                rate, cpu = await burst_cost(hub, "concurrent")
                calls, redis_cpu = stats.read()
            note(server.name, hub=rate, hub_cpu=SUBSCRIBERS * BURST / cpu if cpu else math.nan,
                 **_per(calls, BURST, "hub"))
    fake_port = free_port()
    fake = Proc("fake-openai", [str(BIN / "python"), "-m", "bench.anchors.fake_openai",
                                str(fake_port)], port=fake_port, cwd=ROOT, core=1)
    with fake:
        for r in range(_rounds()):
            for server in _rotate(configs, r):
                print(f"scale: workers, chat relay, {server.name}, round {r + 1} …", flush=True)
                _flush(REDIS_URL)
                rill = chat.RillChat(fake_port)
                with tempfile.TemporaryDirectory(prefix="bench-scale-chat-") as data_dir, \
                        rill.running(data_dir, workers=server.workers, extra_env={
                            "RILL_BROKER_URL": REDIS_URL, "RILL_SESSION_SECRET": SECRET}) as proc:
                    await rill.sessions(CHAT_TURNS)
                    await chat.run_load(rill.turn(f"fast{CHAT_TOKENS}", "hi", False), 8, proc)
                    # The gated bot holds its streams until 1,000 requests arrived.
                    bot = f"gated{CHAT_TOKENS}" if CHAT_TURNS == 1_000 else f"fast{CHAT_TOKENS}"
                    for kind, make in (
                        ("openai", rill.turn(bot, "hi", False)),
                        ("echo", rill.turn("echo", f"/lorem {CHAT_TOKENS}", False,
                                           chat.ECHO_TOKEN)),
                    ):
                        stats.reset()
                        cpu = proc.tree_cpu_seconds()
                        load = (await chat.run_load(make, CHAT_TURNS, proc)).summary()
                        cpu = proc.tree_cpu_seconds() - cpu
                        calls, redis_cpu = stats.read()
                        tokens = load["tokens"]
                        note(server.name, **{
                            kind: load["relay_tokens_per_s"],
                            f"{kind}_cpu": tokens / cpu if cpu else math.nan,
                            f"{kind}_redis_ms": redis_cpu * 1000 / tokens * 1000},
                             **_per(calls, tokens, kind))

    def ratio(key: str) -> str:
        one, two = res["1 worker"].get(key, []), res["2 workers"].get(key, [])
        return spread([b / a for a, b in zip(one, two, strict=True) if a])

    keys: tuple[str, ...] = ("hub", "hub_cpu", "openai", "openai_cpu", "echo", "echo_cpu")
    rows = [[name, *(spread(v.get(k, [])) for k in keys)] for name, v in res.items()]
    rows.append(["2 ÷ 1 (per round)", *(ratio(k) for k in keys)])
    print(table(f"Workers on one Redis: hub burst ({SUBSCRIBERS:,} subscribers × {BURST}) and "
                f"chat relay ({CHAT_TURNS:,} turns × {CHAT_TOKENS} tokens), median (range)",
                ["rill serve", "burst deliveries/s", "deliveries/CPU-s",
                 "relay tokens/s, OpenAI path", "tokens/CPU-s", "relay tokens/s, echo",
                 "tokens/CPU-s"], rows))
    rows = [[name, _costs(v, "hub"), _costs(v, "openai"), spread(v.get("openai_redis_ms", [])),
             _costs(v, "echo"), spread(v.get("echo_redis_ms", []))] for name, v in res.items()]
    print(table("  What Redis did, per hub update and per token (scripts / XREADs / every "
                "command, those inside scripts included; INFO commandstats, medians)",
                ["rill serve", "per hub update", "per token, OpenAI path",
                 "Redis CPU ms per 1k tokens", "per token, echo", "Redis CPU ms per 1k tokens"],
                rows))
    return res


def _per(calls: dict[str, int], units: int, prefix: str) -> dict[str, float]:
    """Scripts, XREADs and all commands per unit (update or token), for ``note``."""
    return {f"{prefix}_scripts": _calls(calls, "evalsha", "eval") / units,
            f"{prefix}_xreads": _calls(calls, "xread") / units,
            f"{prefix}_commands": sum(calls.values()) / units}


def _costs(values: dict[str, list[float]], prefix: str) -> str:
    def median(key: str) -> float:
        found = [v for v in values.get(f"{prefix}_{key}", []) if v == v]
        return statistics.median(found) if found else math.nan

    return (f"{median('scripts'):.2f} / {median('xreads'):.2f} / "
            f"{median('commands'):.1f}")


async def nodes_part() -> dict[str, Any]:
    total = 3 * PER_NODE
    configs: list[tuple[RillNodes, list[int]]] = []
    for broker_name, broker in (("Redis", REDIS_URL), ("Cluster", CLUSTER_URL)):
        configs.append((RillNodes(f"1 node, {broker_name}", nodes=1, broker=broker), [total]))
        configs.append((RillNodes(f"3 nodes, {broker_name}", nodes=3, broker=broker),
                        [PER_NODE] * 3))
    results: dict[str, dict[str, list[float]]] = {
        c.name: {"p50": [], "p99": [], "burst": [], "missing": []} for c, _ in configs}
    for r in range(_rounds()):
        for server, per_port in _rotate(configs, r):
            print(f"scale: nodes, {server.name}, round {r + 1} …", flush=True)
            stats = RedisStats(server.broker)
            async with subscribed(server, per_port) as hub:
                stats.reset()
                p50, p99, missing = await singles(hub)
                calls, _ = stats.read()
                rate = await burst(hub, "concurrent")
            row = results[server.name]
            row["p50"].append(p50)
            row["p99"].append(p99)
            row["missing"].append(missing)
            row["burst"].append(rate)
            # Idle nodes' blocking XREADs time out and are reissued: part of the cost too.
            for key, value in _per(calls, SINGLES, "redis").items():
                row.setdefault(key, []).append(value)
    rows = [[name, f"{total:,}", spread(v["p50"]), spread(v["p99"]), spread(v["burst"]),
             int(sum(v["missing"])), _costs(v, "redis")] for name, v in results.items()]
    print(table("Nodes on one broker: single updates published to node 1, until every "
                "subscriber has it, median (range)",
                ["configuration", "subscribers", "single p50 ms", "single p99 ms",
                 "burst deliveries/s", "missed", "Redis per update: scripts / XREADs / all"],
                rows))
    return results


async def publisher_part() -> dict[str, Any]:
    servers: list[Server] = [RillNodes("rill 1 worker", workers=1),
                             RillNodes("rill 1 worker, Redis", workers=1, broker=REDIS_URL),
                             RillNodes("rill 2 workers, Redis", workers=2, broker=REDIS_URL)]
    Nchan.install()
    if Nchan.available():
        servers += [NchanServer("nchan 1 worker", 1), NchanServer("nchan 2 workers", 2)]
    else:
        print("nchan: not installed; the publisher part runs Rill alone", flush=True)
    modes = ("concurrent", "pipelined", "loop")
    results: dict[str, dict[str, list[float]]] = {
        s.name: {**{m: [] for m in modes}, "p50": [], "p99": []} for s in servers}
    for r in range(_rounds()):
        for server in _rotate(servers, r):
            print(f"scale: publisher, {server.name}, round {r + 1} …", flush=True)
            async with subscribed(server, [SUBSCRIBERS]) as hub:
                for mode in _rotate(list(modes), r):
                    results[server.name][mode].append(await burst(hub, mode))
                p50, p99, _ = await singles(hub)
                results[server.name]["p50"].append(p50)
                results[server.name]["p99"].append(p99)
    rows = [[name, *(spread(v[m]) for m in modes), spread(v["p50"]), spread(v["p99"])]
            for name, v in results.items()]
    print(table(f"Publisher shapes: a {BURST}-update burst to {SUBSCRIBERS:,} subscribers, "
                "deliveries/s, median (range)",
                ["server", "20 concurrent publishers", "one connection, pipelined",
                 "one connection, loop", "single p50 ms", "single p99 ms"], rows))
    ratios = []
    for rill_name, nchan_name in (("rill 1 worker", "nchan 1 worker"),
                                  ("rill 2 workers, Redis", "nchan 2 workers")):
        if rill_name in results and nchan_name in results:
            ratios.append([f"{rill_name} ÷ {nchan_name}", *(spread([
                a / b for a, b in zip(results[rill_name][m], results[nchan_name][m], strict=True)
                if b]) for m in modes)])
    if ratios:
        print(table("  Rill ÷ Nchan, per round", ["", *modes], ratios))
    return results


PARTS: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
    "workers": workers_part, "nodes": nodes_part, "publisher": publisher_part}


async def run() -> dict[str, Any]:
    wanted = os.environ.get("BENCH_SCALE", ",".join(PARTS)).split(",")
    results: dict[str, Any] = {"rounds": _rounds()}
    for name in wanted:
        results[name] = await PARTS[name.strip()]()
    path = write_results("scale", results)
    print(f"→ {path}")
    return results
