"""A chat turn: context, generation run, cancel, resume, persistence."""

from rill.chat.service import ChatService, TurnRequest

__all__ = ["ChatService", "TurnRequest"]
