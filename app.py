"""The web chat: ``python app.py`` starts it on http://127.0.0.1:7860 (same as ``transcript-bot serve``).

Paths and model come from the environment or the defaults (``TRANSCRIPT_BOT_CORPUS``,
``TRANSCRIPT_BOT_INDEX``, ``TRANSCRIPT_BOT_MODEL``; ``TRANSCRIPT_BOT_HOST`` and
``TRANSCRIPT_BOT_PORT`` for the address). Nothing is loaded at import time: the index is
verified against the corpus (and updated if stale), then the index and model load once and
the chat is served until Ctrl+C.
"""

from __future__ import annotations

import sys


def main() -> int:
    from bot.errors import BotError
    from bot.settings import Settings, resolve_address
    from bot.web import serve

    try:
        host, port = resolve_address()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        serve(Settings.resolve(), host=host, port=port)
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
