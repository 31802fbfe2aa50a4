"""The command-line interface (``chatsim run``, ``report``, ``compare``, ``sim``, ``loadtest``)."""

from chatsim.cli._app import app, main

__all__ = ["app", "main"]
