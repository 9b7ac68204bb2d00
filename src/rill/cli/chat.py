"""``rill chat``: a terminal chat on the Python client, rendering replies as they stream.

Ctrl-C during a reply cancels it on the server and returns to the prompt;
Ctrl-D (end of input) or ``/quit`` exits. ``/new``, ``/bots``, ``/bot ID``,
``/help`` are the other commands.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO

import httpx

from rill.client import (
    APIError,
    ChatClient,
    ChatEvent,
    ErrorEvent,
    MessageStart,
    RillClientError,
    TextDelta,
)

_HELP = """commands:
  /new       start a new conversation
  /bots      list the bots
  /bot ID    talk to another bot (its latest conversation)
  /quit      exit (or Ctrl-D); Ctrl-C stops a reply
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("chat", help="chat with a bot in the terminal")
    p.add_argument("--bot", default="guide", help="bot id (default: guide)")
    p.add_argument("--url", default=os.environ.get("RILL_URL", "http://127.0.0.1:8000"),
                   help="server URL (default: $RILL_URL or http://127.0.0.1:8000)")
    p.add_argument("--token", default=os.environ.get("RILL_TOKEN"),
                   help="bearer token (default: $RILL_TOKEN, else an anonymous session)")
    p.add_argument("--conversation", help="continue this conversation id")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with ChatClient(args.url, token=args.token) as client:
        try:
            if not client.token:
                client.session()
        except (httpx.HTTPError, RillClientError) as exc:
            print(f"rill chat: cannot reach {args.url}: {exc}", file=sys.stderr)
            return 1
        return TerminalChat(client, args.bot, args.conversation).loop()


class TerminalChat:
    """The read-send-render loop, on any text streams (tests pass ``StringIO``)."""

    def __init__(
        self,
        client: ChatClient,
        bot: str,
        conversation_id: str | None = None,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        self.client = client
        self.bot = bot
        self.conversation_id = conversation_id
        self.stdin = stdin or sys.stdin
        self.out = stdout or sys.stdout

    def loop(self) -> int:
        self.say(f"chatting with {self.bot} at {self.client.base_url}; /help for commands")
        while True:
            try:
                line = self.read_line("you> ").strip()
            except EOFError:
                self.say("")
                return 0
            except KeyboardInterrupt:
                # Why: at the prompt Ctrl-C only clears the line, like a shell.
                self.say("")
                continue
            if line in ("/quit", "/exit"):
                return 0
            if line:
                self.handle(line)

    def read_line(self, prompt: str) -> str:
        if self.stdin.isatty():
            return input(prompt)
        self.out.write(prompt)
        self.out.flush()
        line = self.stdin.readline()
        if not line:
            raise EOFError
        return line

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def handle(self, line: str) -> None:
        try:
            if line.startswith("/"):
                self.command(line)
            else:
                self.ask(line)
        except APIError as exc:
            self.say(f"error: {exc}")
        except (httpx.HTTPError, RillClientError) as exc:
            self.say(f"error: {type(exc).__name__}: {exc}")

    def command(self, line: str) -> None:
        name, _, arg = line.partition(" ")
        if name == "/new":
            self.conversation_id = self.client.new_conversation(self.bot).id
            self.say(f"new conversation {self.conversation_id}")
        elif name == "/bots":
            for bot in self.client.bots():
                marker = "*" if bot.id == self.bot else " "
                self.say(f"{marker} {bot.id:<12} {bot.name}: {bot.description}")
        elif name == "/bot" and arg.strip():
            self.bot, self.conversation_id = arg.strip(), None
            self.say(f"now chatting with {self.bot}")
        else:
            self.out.write(_HELP)

    def ask(self, text: str) -> None:
        stream = self.client.send(self.bot, text, self.conversation_id)
        self.out.write(f"{self.bot}> ")
        self.out.flush()
        try:
            for event in stream:
                self.render(event)
        except KeyboardInterrupt:
            stream.close()
            message_id = stream.reply.message_id
            if message_id:
                self.client.cancel(message_id)
            self.say("\n[cancelled]")
            return
        reply = stream.reply
        suffix = f" [{reply.stop_reason}]" if reply.stop_reason not in (None, "end_turn") else ""
        self.say(suffix)

    def render(self, event: ChatEvent) -> None:
        if isinstance(event, TextDelta):
            self.out.write(event.text)
            self.out.flush()
        elif isinstance(event, MessageStart):
            # Why: later turns go to the conversation the server chose for the first one.
            self.conversation_id = event.conversation_id or self.conversation_id
        elif isinstance(event, ErrorEvent):
            self.out.write(f"\n[error {event.type}: {event.message}]")
