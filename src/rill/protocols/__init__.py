"""Other protocols' faces on Rill's chat stream: pure translations, no I/O.

Rill's chat stream is the Anthropic Messages event stream (``rill.chat.events``).
Each module here reads those events and writes another protocol's shapes, so
the HTTP adapters (``rill.http.routes``) stay thin: resume, stop, persistence
and authorization are the chat service's, whichever protocol a client speaks.
"""
