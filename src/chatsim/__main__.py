"""``python -m chatsim`` = the ``chatsim`` command."""

from chatsim.cli import main

main()
