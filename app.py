"""The web chat: ``python app.py [serve flags]`` is ``transcript-bot serve`` (same flags, same
configuration: environment, ``--config`` file, defaults; http://127.0.0.1:7860 unless told).

Nothing is loaded at import time: the index is verified against the corpus (and updated if
stale), then the index and model load once and the chat is served until Ctrl+C.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from bot.cli import main as cli

    return cli(["serve", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
