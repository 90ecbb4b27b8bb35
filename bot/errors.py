"""Errors that front ends turn into one-line messages (in the CLI exit code 2 for BadQuery, a usage
error, and 1 for the others; in the web a gr.Error or warning).

Every message names the file or value at fault and, where there is one, the fix.
"""


class BotError(Exception):
    """A problem the user can act on; its text is shown as is, without a traceback."""


class UnreadableFile(BotError):
    """A corpus file that cannot be turned into text (binary, empty, too large, undecodable)."""


class IndexMissing(BotError):
    """No index exists yet at the given path."""


class IndexMismatch(BotError):
    """The index was built by another model, passage rules or format version."""


class IndexCorrupt(BotError):
    """An index file is truncated or does not match its recorded checksum."""


class IndexBusy(BotError):
    """Another process holds the index lock."""


class BadQuery(BotError):
    """A question or filter value that cannot be used (empty, too long, of the wrong type, a bad
    date, k out of range, a speaker or transcript the index does not have): the user's input is wrong."""
