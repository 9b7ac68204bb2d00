"""The broadcast servers under test, each started the same way: pinned to core 0.

Every target exposes one subscribe path for topic ``bench`` and a ``publish``
coroutine going through its real publish endpoint (for Rill: a JWT-authorised
form POST to ``/.well-known/mercure``, validated, given an id, appended to the
broker and fanned out; for Nchan: a POST to its publisher location).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import jwt

from bench.common import BIN, HOST, ROOT, Proc, free_port, http

TOPIC = "bench"
NCHAN_MODULE = Path("/usr/lib/nginx/modules/ngx_nchan_module.so")


class Target:
    name = ""
    sub_path = ""

    def __init__(self) -> None:
        self.proc: Proc | None = None
        self.port = 0

    @contextlib.contextmanager
    def running(self) -> Iterator[Proc]:
        raise NotImplementedError

    async def publish(self, data: str) -> None:
        raise NotImplementedError


class Rill(Target):
    name = "rill"
    sub_path = f"/.well-known/mercure?topic={TOPIC}"

    def __init__(self) -> None:
        super().__init__()
        self.token = ""

    @contextlib.contextmanager
    def running(self) -> Iterator[Proc]:
        self.port = free_port()
        with tempfile.TemporaryDirectory(prefix="bench-rill-") as data_dir:
            env = {"RILL_LOG_LEVEL": "warning", "RILL_HUB__HEARTBEAT_SECONDS": "3600"}
            argv = [str(BIN / "rill"), "serve", "--port", str(self.port), "--data-dir", data_dir]
            with Proc(self.name, argv, port=self.port, env=env, cwd=ROOT) as proc:
                # The server created its signing key at start-up; a publisher token is
                # an HS256 JWT with the older ``mercure.publish`` claim (hub/grants.py).
                secret = (Path(data_dir) / "secret.key").read_text().strip()
                self.token = jwt.encode(
                    {"mercure": {"publish": ["*"]}, "exp": int(time.time()) + 3600},
                    secret, algorithm="HS256",
                )
                self.proc = proc
                yield proc

    async def publish(self, data: str) -> None:
        body = f"topic={TOPIC}&data={quote(data)}".encode()
        status, answer = await http(
            self.port, "POST", "/.well-known/mercure", body=body,
            headers={"Authorization": f"Bearer {self.token}",
                     "Content-Type": "application/x-www-form-urlencoded"},
        )
        if status != 200:
            raise RuntimeError(f"rill publish: {status} {answer[:200]!r}")


class _PlainPost(Target):
    """Servers published to with the raw data as the POST body."""

    publish_path = ""
    module = ""

    @contextlib.contextmanager
    def running(self) -> Iterator[Proc]:
        self.port = free_port()
        argv = [sys.executable, "-m", self.module, str(self.port)]
        with Proc(self.name, argv, port=self.port, cwd=ROOT) as proc:
            self.proc = proc
            yield proc

    async def publish(self, data: str) -> None:
        status, answer = await http(self.port, "POST", self.publish_path, body=data.encode())
        if status >= 300:
            raise RuntimeError(f"{self.name} publish: {status} {answer[:200]!r}")


class SseStarlette(_PlainPost):
    name = "sse-starlette"
    sub_path = "/events"
    publish_path = "/publish"
    module = "bench.anchors.starlette_broadcast"


class UvloopFloor(_PlainPost):
    name = "uvloop floor"
    sub_path = "/events"
    publish_path = "/publish"
    module = "bench.anchors.uvloop_floor"


class Nchan(_PlainPost):
    name = "nchan"
    sub_path = f"/sub?id={TOPIC}"
    publish_path = f"/pub?id={TOPIC}"

    @staticmethod
    def available() -> bool:
        return shutil.which("nginx") is not None and NCHAN_MODULE.is_file()

    @staticmethod
    def install() -> None:
        """Debian's nginx-light and libnginx-mod-nchan, if missing (needs root)."""
        if Nchan.available():
            return
        env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, timeout=300)
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light", "libnginx-mod-nchan"],
                       check=False, env=env, timeout=600)

    @contextlib.contextmanager
    def running(self) -> Iterator[Proc]:
        self.port = free_port()
        with tempfile.TemporaryDirectory(prefix="bench-nchan-") as tmp:
            conf = Path(tmp) / "nginx.conf"
            conf.write_text(nginx_conf(Path(tmp), self.port))
            argv = [shutil.which("nginx") or "nginx", "-p", tmp, "-e", f"{tmp}/error.log",
                    "-c", str(conf)]
            with Proc(self.name, argv, port=self.port) as proc:
                self.proc = proc
                yield proc


def nginx_conf(tmp: Path, port: int, workers: int = 1) -> str:
    # One worker: no master, no daemon, so it is one pid to pin to core 0 and measure,
    # like the Python servers. More: nginx's usual master and workers, sharing the
    # channels through Nchan's shared memory (bench/scale.py).
    return f"""
load_module {NCHAN_MODULE};
daemon off;
master_process {"off" if workers == 1 else "on"};
worker_processes {workers};
worker_rlimit_nofile 20000;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 16000; multi_accept on; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  nchan_shared_memory_size 256m;
  keepalive_requests 100000;
  server {{
    listen {HOST}:{port} backlog=4096 reuseport;
    location = /pub {{
      nchan_publisher;
      nchan_channel_id $arg_id;
      nchan_message_buffer_length 100;
      nchan_message_timeout 60s;
    }}
    location = /sub {{
      nchan_subscriber eventsource;
      nchan_channel_id $arg_id;
      nchan_subscriber_first_message newest;
    }}
  }}
}}
"""


def all_targets() -> list[Target]:
    targets: list[Target] = [Rill(), SseStarlette(), UvloopFloor()]
    Nchan.install()
    if Nchan.available():
        targets.insert(1, Nchan())
    else:
        print("nchan: not installed and apt-get could not install it; skipped", file=sys.stderr)
    # BENCH_TARGETS="rill,nchan" runs a subset (quick iterations; full runs for the record).
    wanted = os.environ.get("BENCH_TARGETS")
    if wanted:
        keys = [w.strip().lower() for w in wanted.split(",") if w.strip()]
        targets = [t for t in targets if any(k in t.name.lower() for k in keys)]
    return targets
