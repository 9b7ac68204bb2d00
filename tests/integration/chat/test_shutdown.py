"""SIGTERM ends every stream cleanly: replies finish within the grace period, or end
'interrupted' with their text saved, and the process exits well within the deadline."""

from __future__ import annotations

import signal
import threading
import time

from .helpers import authed, read_stream_from

CONFIG = """
[[bots]]
id = "quick"
name = "Quick"
provider = "echo"
pace = 0.02

[[bots]]
id = "endless"
name = "Endless"
provider = "echo"
pace = 0.2
"""


def test_sigterm_finishes_short_replies_and_interrupts_long_ones(server_factory):
    server = server_factory(config=CONFIG, env={"RILL_SHUTDOWN_GRACE_SECONDS": "1.5"})
    with authed(server.url) as client:
        token = client.headers["Authorization"]
        results: dict[str, object] = {}

        streaming = threading.Barrier(3, timeout=20)

        def run(bot: str, words: int) -> None:
            message = " ".join(f"{bot}{i}" for i in range(words))
            with authed(server.url) as c:
                c.headers["Authorization"] = token
                with c.stream("POST", "/api/chat", json={"chatbotId": bot, "message": message}) as r:
                    chunks = r.iter_raw()
                    head = next(chunks)  # message_start: the turn has started
                    streaming.wait()
                    rest = read_stream_from(head, chunks, r)
                    results[bot] = (rest, message)

        threads = [threading.Thread(target=run, args=a) for a in (("quick", 30), ("endless", 200))]
        for t in threads:
            t.start()
        streaming.wait()
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(timeout=20)
        code = server.process.wait(timeout=20)
        elapsed = time.monotonic() - started
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
    assert elapsed < 10, f"shutdown took {elapsed:.1f}s"
    quick, quick_message = results["quick"]
    assert quick.names[-1] == "message_stop" and quick.text == quick_message
    assert quick.data("message_delta")["delta"]["stop_reason"] == "end_turn"
    endless, endless_message = results["endless"]
    assert endless.names[-1] == "message_stop", "the stream must end cleanly, not be cut"
    assert endless.data("message_delta")["delta"]["rill_stop_reason"] == "interrupted"
    assert endless_message.startswith(endless.text) and endless.text
