"""Benchmark 3: the chat relay, POST /api/chat under 1, 100 and 1,000 concurrent turns.

The provider is a local fake OpenAI-compatible server (``anchors/fake_openai``)
on the client's core; each token carries the monotonic time it was written, so
the client knows how long every token took to reach it. Measured:

- **throughput**: tokens the fake emits as fast as the sockets take them, relayed
  by Rill through its real provider (the OpenAI SDK) and, separately, from the
  builtin ``echo`` provider at pace 0 (``/lorem N``: Rill's relay without an
  upstream); tokens per second received in total, and per second of server CPU;
- **added time to first token**: Rill's (POST /api/chat → first text delta)
  minus the provider's own (POST straight to the fake → first token);
- **added per-token delay**: at 100 concurrent turns with the fake pacing tokens
  every 20 ms (a fast model), the delay each token has on arrival through Rill
  minus the delay it has when read straight from the fake (p50 and p99);
- **idle time to first token**: single short turns one after another on an idle
  server, interleaved with the same request straight to the fake;
- **in flight**: 1,000 turns whose upstream streams start only once all 1,000
  requests reached the fake (its gate), so every turn relays at the same time and
  the figure is the relay's, not turn start-up's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from bench.common import (
    BIN,
    CLIENT_CORE,
    ROOT,
    SERVER_CORE,
    Proc,
    free_port,
    http,
    own_cpu_seconds,
    percentile,
    table,
    write_results,
)

TOKEN = b"@T"
#: Token intervals of the latency runs: a fast model (20 ms), and a typical one (50 ms).
PACES_MS = (20, 50)
PACED_TOKENS = 100
# (concurrent turns, tokens per turn) for the as-fast-as-possible runs.
LOADS = ((1, 20_000), (100, 1_000), (1_000, 200), (1_000, 2_000))
#: (turns, tokens per turn) run through the fake's gate: every turn in flight at once.
GATED_LOADS = ((1_000, 200), (1_000, 2_000))
#: Sequential single turns for the idle time to first token, and their reply length.
IDLE_TURNS = 300
IDLE_TOKENS = 5
DEADLINE = 180.0
#: Probe turns under load: start after the background turns settled, one every gap.
PROBE_SETTLE = 0.6
PROBE_GAP = 0.05
PROBES = 20
#: Echo's words carry no timestamp; each text delta event is counted instead.
ECHO_TOKEN = b'"text_delta"'


@dataclass
class Turn:
    """One streamed reply as the client sees it."""

    sent_at: float = 0.0
    first_at: float = 0.0
    last_at: float = 0.0
    tokens: int = 0
    delays_ms: list[float] = field(default_factory=list)
    #: Monotonic arrival time of each delay's read (parallel to ``delays_ms``).
    arrivals: list[float] = field(default_factory=list)
    #: (arrival time, tokens in that read) for every read that carried tokens.
    reads: list[tuple[float, int]] = field(default_factory=list)


class ChatReader(asyncio.Protocol):
    """Reads one streamed response; finds each token by its ``@T`` marker."""

    def __init__(self, turn: Turn, end: bytes, done: asyncio.Future[None],
                 keep_delays: bool, token: bytes) -> None:
        self.token = token
        self.turn = turn
        self.end = end
        self.done = done
        self.keep_delays = keep_delays
        self.pending = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        data = self.pending + data
        # Only complete events are read; the rest waits for the next read.
        cut = data.rfind(b"\n\n") + 2
        self.pending, data = data[cut:], data[:cut]
        if not data:
            return
        turn = self.turn
        found = data.count(self.token)
        if found:
            if not turn.tokens:
                turn.first_at = now
            turn.tokens += found
            turn.last_at = now
            turn.reads.append((now, found))
            if self.keep_delays:
                now_us = now * 1_000_000
                at = data.find(TOKEN)
                while at >= 0:
                    stop = data.find(b" ", at)
                    turn.delays_ms.append((now_us - int(data[at + 2 : stop])) / 1000)
                    turn.arrivals.append(now)
                    at = data.find(TOKEN, stop)
        if self.end in data and not self.done.done():
            self.done.set_result(None)
            if self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(ConnectionError(f"closed early: {self.pending[-300:]!r}"))


async def stream(port: int, path: str, body: bytes, token: str | None, end: bytes,
                 keep_delays: bool, marker: bytes = TOKEN) -> Turn:
    loop = asyncio.get_running_loop()
    turn = Turn()
    done: asyncio.Future[None] = loop.create_future()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Accept: text/event-stream\r\nContent-Type: application/json\r\n{auth}"
               f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    transport, _ = await loop.create_connection(
        lambda: ChatReader(turn, end, done, keep_delays, marker), "127.0.0.1", port)
    turn.sent_at = time.monotonic()
    transport.write(request)
    try:
        await done
    finally:
        transport.close()
    return turn


@dataclass
class Load:
    """What one batch of concurrent turns measured."""

    turns: list[Turn]
    seconds: float
    server_cpu: float
    client_cpu: float

    def summary(self) -> dict[str, Any]:
        tokens = sum(t.tokens for t in self.turns)
        ttft = [(t.first_at - t.sent_at) * 1000 for t in self.turns if t.tokens]
        delays = [d for t in self.turns for d in t.delays_ms]
        # Steady state: tokens that arrived once every turn had started streaming,
        # i.e. without the burst of 100 turn starts that the first tokens queue behind.
        started = max((t.first_at for t in self.turns if t.tokens), default=0.0)
        steady = [d for t in self.turns for d, at in zip(t.delays_ms, t.arrivals, strict=True)
                  if at > started]
        return {
            "turns": len(self.turns), "tokens": tokens, "seconds": self.seconds,
            "tokens_per_s": tokens / self.seconds if self.seconds else 0.0,
            "server_cpu_s": self.server_cpu, "client_cpu_s": self.client_cpu,
            "tokens_per_cpu_s": tokens / self.server_cpu if self.server_cpu else float("nan"),
            "ttft_p50_ms": percentile(ttft, 50), "ttft_p99_ms": percentile(ttft, 99),
            "delay_p50_ms": percentile(delays, 50), "delay_p99_ms": percentile(delays, 99),
            "steady_delay_p50_ms": percentile(steady, 50),
            "steady_delay_p99_ms": percentile(steady, 99),
            **self.all_streaming(),
            **self.relaying(),
        }

    def relaying(self) -> dict[str, float]:
        """Tokens per second from the first token of any turn to the last of all.

        Why: the total figure's clock starts at the first POST, so it also counts
        turn start-up; this one counts the relay phase only.
        """
        live = [t for t in self.turns if t.tokens]
        if not live:
            return {"relay_s": 0.0, "relay_tokens_per_s": float("nan")}
        seconds = max(t.last_at for t in live) - min(t.first_at for t in live)
        tokens = sum(t.tokens for t in live)
        return {"relay_s": seconds,
                "relay_tokens_per_s": tokens / seconds if seconds > 0 else float("nan")}

    def all_streaming(self) -> dict[str, float]:
        """Tokens per second while every turn was streaming at once.

        Why: when replies are short, turns end before the last ones start, and the
        total figure measures turn start-up as much as relaying; this window (from
        the last turn's first token to the first turn's last) has them all in flight.
        """
        live = [t for t in self.turns if t.tokens]
        start = max((t.first_at for t in live), default=0.0)
        end = min((t.last_at for t in live), default=0.0)
        if len(live) < 2 or end - start < 0.2:
            return {"all_streaming_s": 0.0, "all_streaming_tokens_per_s": float("nan")}
        tokens = sum(n for t in live for at, n in t.reads if start < at <= end)
        return {"all_streaming_s": end - start,
                "all_streaming_tokens_per_s": tokens / (end - start)}


async def run_load(make: Any, count: int, cpu_of: Proc) -> Load:
    """Start ``count`` turns at once; wait for all of them to end."""
    cpu0, client0 = cpu_of.cpu_seconds(), own_cpu_seconds()
    start = time.monotonic()
    async with asyncio.timeout(DEADLINE):
        turns = await asyncio.gather(*(make(i) for i in range(count)))
    seconds = max(t.last_at for t in turns) - start
    return Load(list(turns), seconds, cpu_of.cpu_seconds() - cpu0, own_cpu_seconds() - client0)


class RillChat:
    """A Rill server with three bots: the fake upstream (fast and paced) and echo."""

    def __init__(self, fake_port: int) -> None:
        self.fake_port = fake_port
        self.port = 0
        self.tokens: list[str] = []

    @contextlib.contextmanager
    def running(self, data_dir: str, *, workers: int = 1,
                extra_env: dict[str, str] | None = None) -> Any:
        """One server pinned to the server core, or ``workers`` processes on both cores."""
        self.port = free_port()
        upstream = f"http://127.0.0.1:{self.fake_port}/v1"
        bots = [
            {"id": f"fast{n}", "name": "fast", "provider": "openai", "model": f"fake:{n}:0",
             "base_url": upstream, "api_key_env": "BENCH_FAKE_KEY", "max_tokens": 200_000,
             "max_retries": 0}
            for _, n in LOADS
        ] + [
            {"id": f"gated{n}", "name": "gated", "provider": "openai",
             "model": f"fake:{n}:0:{count}", "base_url": upstream,
             "api_key_env": "BENCH_FAKE_KEY", "max_tokens": 200_000, "max_retries": 0}
            for count, n in GATED_LOADS
        ] + [
            {"id": "short", "name": "short", "provider": "openai",
             "model": f"fake:{IDLE_TOKENS}:0", "base_url": upstream,
             "api_key_env": "BENCH_FAKE_KEY", "max_retries": 0},
        ] + [
            {"id": f"paced{pace}", "name": "paced", "provider": "openai",
             "model": f"fake:{PACED_TOKENS}:{pace}", "base_url": upstream,
             "api_key_env": "BENCH_FAKE_KEY", "max_retries": 0}
            for pace in PACES_MS
        ] + [
            {"id": "echo", "name": "echo", "provider": "echo", "pace": 0,
             "max_tokens": 200_000},
        ]
        # Sessions are opened from one address, 1,000 at a time, and a session may send
        # turns back to back: lift the per-address and per-user limits.
        env = {"RILL_LOG_LEVEL": "warning", "RILL_MAX_CONCURRENT_GENERATIONS": "100000",
               "RILL_SESSIONS_PER_MINUTE": "0", "RILL_CHAT_TURNS_PER_MINUTE": "0",
               "RILL_BOTS": orjson.dumps(bots).decode(), "BENCH_FAKE_KEY": "sk-bench",
               "RILL_HUB__ENABLED": "false", **(extra_env or {})}
        argv = [str(BIN / "rill"), "serve", "--port", str(self.port), "--data-dir", data_dir,
                "--workers", str(workers)]
        with Proc("rill-chat", argv, port=self.port, env=env, cwd=ROOT,
                  core=SERVER_CORE if workers == 1 else None) as proc:
            yield proc

    async def sessions(self, count: int) -> None:
        # One at a time: concurrent sessions trip a read-after-write race in the
        # SQLite store (ensure_user reads on a reader connection whose snapshot
        # may predate the insert); reported in docs/performance.md.
        gate = asyncio.Semaphore(1)

        async def one() -> str:
            async with gate:
                status, body = await http(self.port, "POST", "/api/session")
            if status != 200:
                raise RuntimeError(f"session: {status} {body[:200]!r}")
            return str(orjson.loads(body)["token"])

        missing = count - len(self.tokens)
        if missing > 0:
            self.tokens += await asyncio.gather(*(one() for _ in range(missing)))

    def turn(self, bot: str, message: str, keep_delays: bool, marker: bytes = TOKEN,
             end: bytes = b"message_stop") -> Any:
        body = orjson.dumps({"chatbotId": bot, "message": message})

        def make(i: int) -> Any:
            return stream(self.port, "/api/chat", body, self.tokens[i], end, keep_delays, marker)
        return make


def direct(fake_port: int, model: str, keep_delays: bool, end: bytes = b"[DONE]") -> Any:
    body = orjson.dumps({"model": model, "stream": True,
                         "messages": [{"role": "user", "content": "hi"}]})

    def make(i: int) -> Any:
        return stream(fake_port, "/v1/chat/completions", body, None, end, keep_delays)
    return make


def _offset(make: Any, by: int) -> Any:
    """``make`` with session indexes shifted: probes must not share the load's sessions."""
    return lambda i: make(i + by)


async def probe_ttft(load: Any, probe: Any, count: int, cpu_of: Proc) -> dict[str, float]:
    """TTFT of single turns started one at a time while ``load``'s 100 turns stream.

    Why beside the burst figure: a burst of 100 turns started in the same instant
    queues 100 turn starts on one core, so its TTFT measures the queue; a user's
    turn arriving at a server busy relaying others is what this measures.
    """
    background = asyncio.create_task(run_load(load, 100, cpu_of))
    await asyncio.sleep(PROBE_SETTLE)
    ttft = []
    for i in range(count):
        turn = await probe(i)
        ttft.append((turn.first_at - turn.sent_at) * 1000)
        await asyncio.sleep(PROBE_GAP)
    await background
    return {"ttft_p50_ms": percentile(ttft, 50), "ttft_p99_ms": percentile(ttft, 99),
            "ttft_max_ms": max(ttft)}


async def idle_ttft(paths: dict[str, Any], count: int) -> dict[str, dict[str, float]]:
    """TTFT of single turns on an idle server, the paths interleaved turn by turn.

    Why interleaved: the machine is shared, and a neighbour's burst then lands on
    every path alike instead of on whichever ran at that moment.
    """
    ttft: dict[str, list[float]] = {name: [] for name in paths}
    for i in range(count):
        for name, make in paths.items():
            turn = await make(i)
            ttft[name].append((turn.first_at - turn.sent_at) * 1000)
        await asyncio.sleep(0.005)  # let the short replies finish server-side
    return {name: {"ttft_p50_ms": percentile(v, 50), "ttft_p90_ms": percentile(v, 90),
                   "ttft_p99_ms": percentile(v, 99)} for name, v in ttft.items()}


async def run() -> dict[str, Any]:
    results: dict[str, Any] = {"throughput": [], "latency": {}, "gated": []}
    fake_port = free_port()
    fake = Proc("fake-openai", [str(BIN / "python"), "-m", "bench.anchors.fake_openai",
                                str(fake_port)], port=fake_port, cwd=ROOT, core=CLIENT_CORE)
    rill = RillChat(fake_port)
    with fake, tempfile.TemporaryDirectory(prefix="bench-chat-") as data_dir, \
            rill.running(data_dir) as server:
        await rill.sessions(max(max(n for n, _ in LOADS), 100 + PROBES))
        # Warm-up: imports, the SDK's client, SQLite pages.
        await run_load(rill.turn("fast200", "hi", False), 4, server)
        parts = os.environ.get("BENCH_CHAT", "idle,latency,throughput,gated").split(",")
        if "idle" in parts:
            print(f"chat: idle time to first token, {IDLE_TURNS} turns …", flush=True)
            results["idle"] = await idle_ttft({
                "direct": direct(fake_port, f"fake:{IDLE_TOKENS}:0", False, end=TOKEN),
                "openai": rill.turn("short", "hi", False, end=TOKEN),
                "echo": rill.turn("echo", "hi", False, ECHO_TOKEN, end=ECHO_TOKEN),
            }, IDLE_TURNS)
        for pace in PACES_MS if "latency" in parts else ():
            print(f"chat: latency at 100 turns, a token every {pace} ms …", flush=True)
            model = f"fake:{PACED_TOKENS}:{pace}"
            base = (await run_load(direct(fake_port, model, True), 100, fake)).summary()
            through = (await run_load(rill.turn(f"paced{pace}", "hi", True), 100,
                                      server)).summary()
            results["latency"][str(pace)] = {"direct": base, "rill": through}
            # Probes end at their first token (the reply goes on server-side, as
            # after any disconnect); their sessions are not the background turns'.
            probe_direct = await probe_ttft(direct(fake_port, model, True), direct(
                fake_port, model, False, end=TOKEN), PROBES, fake)
            first_only = rill.turn(f"paced{pace}", "hi", False, end=TOKEN)
            probe_rill = await probe_ttft(rill.turn(f"paced{pace}", "hi", True),
                                          _offset(first_only, 100), PROBES, server)
            results["latency"][str(pace)]["probe"] = {"direct": probe_direct, "rill": probe_rill}
        for count, tokens in LOADS if "throughput" in parts else ():
            print(f"chat: {count} turns × {tokens} tokens …", flush=True)
            row: dict[str, Any] = {"turns": count, "tokens_per_turn": tokens}
            row["direct"] = (await run_load(
                direct(fake_port, f"fake:{tokens}:0", False), count, fake)).summary()
            row["openai"] = (await run_load(
                rill.turn(f"fast{tokens}", "hi", False), count, server)).summary()
            row["echo"] = (await run_load(
                rill.turn("echo", f"/lorem {tokens}", False, ECHO_TOKEN), count, server)).summary()
            results["throughput"].append(row)
        for count, tokens in GATED_LOADS if "gated" in parts else ():
            print(f"chat: {count} turns × {tokens} tokens, all in flight …", flush=True)
            row = {"turns": count, "tokens_per_turn": tokens}
            row["direct"] = (await run_load(
                direct(fake_port, f"fake:{tokens}:0:{count}", False), count, fake)).summary()
            row["openai"] = (await run_load(
                rill.turn(f"gated{tokens}", "hi", False), count, server)).summary()
            results["gated"].append(row)
    report(results)
    results["pid"] = os.getpid()
    path = write_results("chat", results)
    print(f"→ {path}")
    return results


def report(results: dict[str, Any]) -> None:
    idle = results.get("idle")
    if idle:
        d = idle["direct"]
        added = {"openai": d["ttft_p50_ms"], "echo": 0.0}
        rows = [[name, s["ttft_p50_ms"], s["ttft_p90_ms"], s["ttft_p99_ms"],
                 s["ttft_p50_ms"] - added[name] if name in added else ""]
                for name, s in idle.items()]
        print(table("Time to first token, single turns on an idle server "
                    "(added p50: openai minus direct; echo has no provider, all of it is Rill)",
                    ["path", "p50 ms", "p90 ms", "p99 ms", "added p50 ms"], rows))
    gated = results.get("gated")
    if gated:
        rows = [[f"{row['turns']:,} × {row['tokens_per_turn']:,}", kind,
                 row[kind]["relay_tokens_per_s"], row[kind]["tokens_per_s"],
                 row[kind]["tokens_per_cpu_s"]]
                for row in gated for kind in ("direct", "openai")]
        print(table("Chat relay with every turn in flight (the fake starts all streams at once)",
                    ["turns × tokens", "path", "relay tokens/s", "tokens/s incl. start-up",
                     "tokens/CPU-s"], rows))
    rows = []
    for row in results["throughput"]:
        for kind in ("direct", "openai", "echo"):
            s = row[kind]
            rows.append([f"{row['turns']:,} × {row['tokens_per_turn']:,}", kind,
                         s["tokens_per_s"], s.get("all_streaming_tokens_per_s", float("nan")),
                         s["tokens_per_cpu_s"], s["ttft_p50_ms"], s["ttft_p99_ms"]])
    print(table("Chat relay throughput (direct = the fake provider read straight, no Rill)",
                ["turns × tokens", "path", "tokens/s", "all streaming", "tokens/CPU-s",
                 "TTFT p50 ms", "TTFT p99 ms"], rows))
    for pace, lat in results["latency"].items():
        d, r = lat["direct"], lat["rill"]
        rows = [["direct", d["ttft_p50_ms"], d["ttft_p99_ms"], d["delay_p50_ms"],
                 d["delay_p99_ms"]],
                ["rill", r["ttft_p50_ms"], r["ttft_p99_ms"], r["delay_p50_ms"],
                 r["delay_p99_ms"]],
                ["added by rill", r["ttft_p50_ms"] - d["ttft_p50_ms"],
                 r["ttft_p99_ms"] - d["ttft_p99_ms"], r["delay_p50_ms"] - d["delay_p50_ms"],
                 r["delay_p99_ms"] - d["delay_p99_ms"]]]
        print(table(f"Chat relay latency, 100 turns started at once, a token every {pace} ms",
                    ["", "TTFT p50 ms", "TTFT p99 ms", "token delay p50 ms",
                     "token delay p99 ms"], rows))
        rows = [[name, d["steady_delay_p50_ms"], d["steady_delay_p99_ms"],
                 r["steady_delay_p50_ms"], r["steady_delay_p99_ms"],
                 r["steady_delay_p99_ms"] - d["steady_delay_p99_ms"]]
                for name, d, r in [("steady state", d, r)]]
        print(table("  per-token delay once all 100 turns stream",
                    ["", "direct p50", "direct p99", "rill p50", "rill p99",
                     "added p99"], rows))
        probe = lat.get("probe")
        if probe:
            pd, pr = probe["direct"], probe["rill"]
            rows = [["direct", pd["ttft_p50_ms"], pd["ttft_p99_ms"], pd["ttft_max_ms"]],
                    ["rill", pr["ttft_p50_ms"], pr["ttft_p99_ms"], pr["ttft_max_ms"]],
                    ["added by rill", pr["ttft_p50_ms"] - pd["ttft_p50_ms"],
                     pr["ttft_p99_ms"] - pd["ttft_p99_ms"], pr["ttft_max_ms"] - pd["ttft_max_ms"]]]
            print(table(f"  TTFT of {PROBES} single turns started while the 100 stream",
                        ["", "p50 ms", "p99 ms", "max ms"], rows))
