"""transcript-bot: ask questions about speech transcripts, get verbatim passages with citations.

The library core is `bot.core.TranscriptBot`; `bot.cli` and `bot.web` are thin front ends.
"""

__version__ = "0.1.0"
