"""Shared pieces of every benchmark: processes, pinning, timing, tables, results.

Layout on the 2-core machine: every server under test runs as a subprocess
pinned to core 0; the benchmark process itself (the load client) pins itself
to core 1, so the client never steals the server's CPU. Every subprocess is
started through ``Proc`` (a context manager) and stopped on the way out,
including on error and Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
SERVER_CORE = 0
CLIENT_CORE = 1


def raise_nofile() -> int:
    """Lift the soft file limit to the hard one (10k sockets need 10k fds)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pin(core: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(0, {core % (os.cpu_count() or 1)})


def boost() -> None:
    """Run ahead of other jobs on the machine (``BENCH_NICE``, default -10; 0 for none).

    Why: the machine is shared, and a server or client preempted by an unrelated
    job measures the other job. Needs root (or CAP_SYS_NICE); otherwise a no-op.
    """
    step = int(os.environ.get("BENCH_NICE", "-10"))
    if not step:
        return
    with contextlib.suppress(OSError):
        os.nice(step)
    # With autogroup scheduling, nice only ranks tasks within one session; the
    # session's own weight is set here (it covers this process and its servers).
    with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as group:
        group.write(str(step))


def _server_preexec() -> None:
    # Runs in the child between fork and exec: same limits, the server's core.
    raise_nofile()
    pin(SERVER_CORE)
    boost()


def _helper_preexec() -> None:
    raise_nofile()
    pin(CLIENT_CORE)
    boost()


def _unpinned_preexec() -> None:
    # Several worker processes (or nodes) share both cores, as they would in production.
    raise_nofile()
    boost()


def own_cpu_seconds() -> float:
    """CPU time of this process (the load client), to show it costs less than the server."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Proc:
    """A subprocess that is stopped, whatever happens, when the block ends."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        core: int | None = SERVER_CORE,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.core = core
        self.log = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")[1])
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def __enter__(self) -> Proc:
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=(_unpinned_preexec if self.core is None else
                            _server_preexec if self.core == SERVER_CORE else _helper_preexec),
            )
        try:
            self.wait_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_listening(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.tail()}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 0.2):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not listen on {self.port}:\n{self.tail()}")

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        popen = self.popen
        if popen is None or popen.poll() is not None:
            return
        for sig, wait in ((signal.SIGINT, 5.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            with contextlib.suppress(ProcessLookupError):
                popen.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(wait)
                return

    def rss_kib(self) -> int:
        """Resident memory (VmRSS) of the server process, KiB."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used so far."""
        return _cpu_of(self.pid)

    def tree_cpu_seconds(self) -> float:
        """``cpu_seconds`` of the process and every live descendant (a server's workers)."""
        total, todo = 0.0, [self.pid]
        while todo:
            pid = todo.pop()
            with contextlib.suppress(OSError):
                total += _cpu_of(pid)
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as children:
                        todo += [int(c) for c in children.read().split()]
        return total


def _cpu_of(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def http(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    deadline_s: float = 120.0,
) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a fresh connection (``Connection: close``): status, body.

    Why not httpx: this runs inside the load client, whose own CPU time must stay
    small; a request is a few writes and one read until EOF.
    """
    async with asyncio.timeout(deadline_s):
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close",
                    f"Content-Length: {len(body)}"]
            head += [f"{k}: {v}" for k, v in (headers or {}).items()]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            raw = await reader.read()
        finally:
            writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in rest.lower().split(b"\r\n\r\n", 1)[0]:
        payload = _unchunk(payload)
    return int(status_line.split()[1]), payload


def _unchunk(data: bytes) -> bytes:
    out: list[bytes] = []
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out.append(data[:size])
        data = data[size + 2 :]
    return b"".join(out)


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN: not measured
            return "-"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), "")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "loadavg_at_start": os.getloadavg(),
    }


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {"benchmark": name, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "machine": machine(), **data}
    path.write_text(json.dumps(document, indent=2, default=str))
    return path
