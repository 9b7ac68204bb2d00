"""Compare HTTP/2 servers for Rill with h2load: ``python -m tests.integration.serving.measure_h2``.

Not a test: it prints the figures recorded in docs/deployment.md (how the
HTTP/2 server was chosen). Each candidate serves the same Rill app over TLS;
h2load opens ONE connection and multiplexes many streams on it, which is what
a browser with many tabs does.

- chat: ``POST /api/chat`` to the echo bot at pace 0, 100 words per reply;
- hub: 100 subscribers on one connection, while a second h2load publishes
  over its own connection; the subscribers' tokens expire a few seconds
  later, which is how their streams end (the hub closes a stream at its
  token's ``exp``), so h2load can report what they received.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.integration.serving.tls import write_self_signed

CONFIG = """
max_concurrent_generations = 100000
chat_turns_per_minute = 0
[[bots]]
id = "echo"
name = "Echo"
provider = "echo"
model = "echo"
pace = 0

[hub]
publishes_per_second = 0
"""
WORDS = 100


def server_command(kind: str, port: int, cert: Path, key: Path, workdir: Path) -> list[str]:
    bin_dir = Path(sys.executable).parent
    if kind == "hypercorn":
        config = workdir / "hypercorn.toml"
        config.write_text("h2_max_concurrent_streams = 10000\n")
        return [str(bin_dir / "hypercorn"), "--config", str(config), "-k", "uvloop",
                "--certfile", str(cert), "--keyfile", str(key),
                "--bind", f"127.0.0.1:{port}", "rill.http.app:create_app()"]
    if kind == "granian":
        return [str(bin_dir / "granian"), "--interface", "asgi", "--factory", "--loop", "uvloop",
                "--host", "127.0.0.1", "--port", str(port), "--http", "auto",
                "--ssl-certificate", str(cert), "--ssl-keyfile", str(key),
                "--backpressure", "100000", "--http2-max-concurrent-streams", "10000",
                "--no-log", "rill.http.app:create_app"]
    if kind == "rill":  # whatever `rill serve --tls-cert` runs
        return [sys.executable, "-m", "rill.cli", "serve", "--port", str(port),
                "--tls-cert", str(cert), "--tls-key", str(key)]
    raise ValueError(kind)


@contextmanager
def running(kind: str, workdir: Path) -> Iterator[str]:
    cert, key = write_self_signed(workdir)
    (workdir / "rill.toml").write_text(CONFIG)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RILL_")}
    env.update(RILL_CONFIG=str(workdir / "rill.toml"), RILL_DATA_DIR=str(workdir / "data"),
               RILL_LOG_LEVEL="warning")
    log = (workdir / f"{kind}.log").open("wb")
    proc = subprocess.Popen(server_command(kind, port, cert, key, workdir), env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz", verify=False, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"{kind} did not start: {(workdir / f'{kind}.log').read_text()}")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def h2load(*args: str, timeout: float = 120) -> dict[str, float]:
    out = subprocess.run(["h2load", *args], capture_output=True, text=True, timeout=timeout,
                         check=True).stdout
    figures: dict[str, float] = {}
    if m := re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", out):
        figures["seconds"] = float(m[1]) / (1000 if m[2] == "ms" else 1)
        figures["req_per_s"] = float(m[3])
    if m := re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out):
        figures["ok"] = float(m[1])
        figures["failed"] = float(m[3]) + float(m[4])
    if m := re.search(r"\((\d+)\) data", out):
        figures["data_bytes"] = float(m[1])
    if m := re.search(r"time to 1st byte:\s+([\d.]+)(m?s)\s+([\d.]+)(m?s)\s+([\d.]+)(m?s)", out):
        figures["first_byte_mean_ms"] = float(m[5]) * (1 if m[6] == "ms" else 1000)
    if m := re.search(r"time for request:\s+([\d.]+)(m?s)\s+([\d.]+)(m?s)\s+([\d.]+)(m?s)", out):
        figures["request_mean_ms"] = float(m[5]) * (1 if m[6] == "ms" else 1000)
    return figures


def measure_chat(url: str, workdir: Path, turns: int, streams: int) -> dict[str, float]:
    token = httpx.post(url + "/api/session", verify=False).json()["token"]
    body = workdir / "chat.json"
    body.write_text(json.dumps({"chatbotId": "echo", "message": f"/lorem {WORDS}"}))
    figures = h2load("-c", "1", "-m", str(streams), "-n", str(turns), "-d", str(body),
                     "-H", "content-type: application/json", "-H", "accept: text/event-stream",
                     "-H", f"authorization: Bearer {token}", url + "/api/chat")
    figures["tokens_per_s"] = figures["ok"] * WORDS / figures["seconds"]
    return figures


def measure_hub(url: str, workdir: Path, subscribers: int, updates: int) -> dict[str, float]:
    data_dir = workdir / "data"
    rill = [sys.executable, "-m", "rill.cli", "token", "--data-dir", str(data_dir)]
    publisher = subprocess.run([*rill, "--publish", "*"], capture_output=True, text=True,
                               check=True).stdout.strip()
    lifetime = 12
    subscriber = subprocess.run([*rill, "--subscribe", "*", "--ttl", f"{lifetime}s"],
                                capture_output=True, text=True, check=True).stdout.strip()
    payload = "x" * 1000
    form = workdir / "publish.txt"
    form.write_text(f"topic=bench&data={payload}")
    subs = subprocess.Popen(
        ["h2load", "-c", "1", "-m", str(subscribers), "-n", str(subscribers),
         "-H", f"authorization: Bearer {subscriber}", url + "/.well-known/mercure?topic=bench"],
        stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(2)  # let every subscription open before publishing
        pub = h2load("-c", "1", "-m", "10", "-n", str(updates), "-d", str(form),
                     "-H", "content-type: application/x-www-form-urlencoded",
                     "-H", f"authorization: Bearer {publisher}", url + "/.well-known/mercure")
        out, _ = subs.communicate(timeout=lifetime + 30)
    finally:
        if subs.poll() is None:
            subs.kill()
            subs.wait()
    if os.environ.get("MEASURE_DEBUG"):
        print(out)
    received = re.search(r"\((\d+)\) data", out)
    data = float(received[1]) if received else 0.0
    # Each delivered update carries the 1000-byte payload; the rest is ids and framing.
    deliveries = data // (len(payload) + 80)
    return {
        "publishes_per_s": pub["req_per_s"],
        "published": pub["ok"],
        "deliveries_expected": pub["ok"] * subscribers,
        "deliveries_at_least": min(deliveries, pub["ok"] * subscribers),
        "deliveries_per_s_at_least": min(deliveries, pub["ok"] * subscribers) / pub["seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("servers", nargs="*", default=["hypercorn", "granian"])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--updates", type=int, default=500)
    args = parser.parse_args()
    if shutil.which("h2load") is None:
        sys.exit("h2load is missing: apt-get install nghttp2-client")
    results: dict[str, dict[str, dict[str, float]]] = {}
    for kind in args.servers:
        with tempfile.TemporaryDirectory() as tmp, running(kind, Path(tmp)) as url:
            results[kind] = {
                "chat": measure_chat(url, Path(tmp), args.turns, args.streams),
                "hub": measure_hub(url, Path(tmp), args.streams, args.updates),
            }
        print(kind, json.dumps(results[kind], indent=1), flush=True)


if __name__ == "__main__":
    main()
